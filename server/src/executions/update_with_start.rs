//! ExecuteMultiOperation, as Temporal allows it: exactly [StartWorkflow, UpdateWorkflow] for one
//! workflow id (update-with-start). Under the workflow lock the update goes to the running run
//! when it already knows the update id, when the start request is a retry (same request id),
//! or when the conflict policy is USE_EXISTING; otherwise a new run is started with the update
//! admitted in the SAME batch, so its first workflow task carries the update. A refused
//! operation is reported per operation (the other one "aborted"), the shape the SDKs decode.

use temporalio_protos::temporal::api::{
    enums::v1::{UpdateWorkflowExecutionLifecycleStage as Stage, WorkflowIdConflictPolicy},
    workflowservice::v1::{
        ExecuteMultiOperationRequest, ExecuteMultiOperationResponse, StartWorkflowExecutionRequest,
        StartWorkflowExecutionResponse, UpdateWorkflowExecutionRequest,
        execute_multi_operation_request::operation::Operation,
        execute_multi_operation_response::{Response, response},
    },
};

use super::{
    ExecutionError, Executions, RunKey, now_ms,
    start::check_reuse_policy,
    updates::{update_id_of, update_response, wait_stage},
};
use crate::{
    engine::{self, EngineError, Transition},
    store::WriteBatch,
};

/// How one operation of a refused multi-operation fared.
#[derive(Debug)]
pub enum OperationStatus {
    /// It succeeded (the start, when only the update failed afterwards).
    Succeeded,
    /// It was refused for this reason.
    Failed(Box<ExecutionError>),
    /// It was not carried out because the other operation failed.
    Aborted,
}

/// Why an ExecuteMultiOperation failed.
#[derive(Debug)]
pub enum MultiOperationError {
    /// The request as a whole is malformed (not exactly [Start, Update]).
    Request(Box<ExecutionError>),
    /// One operation was refused: the start's and the update's statuses, in request order.
    Operations {
        /// The start operation.
        start: OperationStatus,
        /// The update operation.
        update: OperationStatus,
    },
}

impl MultiOperationError {
    fn start(err: impl Into<ExecutionError>) -> Self {
        MultiOperationError::Operations {
            start: OperationStatus::Failed(Box::new(err.into())),
            update: OperationStatus::Aborted,
        }
    }

    fn update(started: bool, err: impl Into<ExecutionError>) -> Self {
        MultiOperationError::Operations {
            start: if started {
                OperationStatus::Succeeded
            } else {
                OperationStatus::Aborted
            },
            update: OperationStatus::Failed(Box::new(err.into())),
        }
    }
}

impl Executions {
    /// ExecuteMultiOperation: update-with-start.
    pub async fn execute_multi_operation(
        &self,
        request: &ExecuteMultiOperationRequest,
    ) -> Result<ExecuteMultiOperationResponse, MultiOperationError> {
        let (start, update) = split(request)?;
        let namespace = request.namespace.as_str();
        let mut start = start.clone();
        start.namespace = namespace.to_string();
        let workflow_id = start.workflow_id.as_str();
        let update_id = update_id_of(update);
        let guard = self.locks.lock(namespace, workflow_id).await;
        let current = self
            .current_run_id(namespace, workflow_id)
            .map_err(MultiOperationError::start)?;
        let current = match current {
            Some(run_id) => {
                let run = RunKey::new(namespace, workflow_id, &run_id);
                let state = self.load(&run).map_err(MultiOperationError::start)?;
                state.map(|state| (run, state))
            }
            None => None,
        };
        let (run, mut existing) = match current {
            Some((run, state)) if joins_existing(&start, update_id, &state)? => (run, Some(state)),
            Some((_, state)) if !state.is_closed() => {
                return Err(MultiOperationError::start(ExecutionError::AlreadyStarted {
                    workflow_id: workflow_id.to_string(),
                    run_id: state.run_id().to_string(),
                    start_request_id: state.start_request_id().to_string(),
                }));
            }
            Some((_, state)) => {
                check_reuse_policy(&start, &state).map_err(MultiOperationError::start)?;
                (new_run_key(namespace, workflow_id), None)
            }
            None => (new_run_key(namespace, workflow_id), None),
        };
        let started = existing.is_none();
        let waiter = self.update_waiters.subscribe(&run, update_id);
        let now = now_ms();
        let (state, transition) = match existing.as_mut() {
            Some(state) => {
                let (transition, _) = engine::admit_update(state, update, now)
                    .map_err(|err| MultiOperationError::update(false, err))?;
                (state.clone(), transition)
            }
            None => {
                let (mut state, mut transition) = engine::start_workflow(&start, &run.run_id, now)
                    .map_err(MultiOperationError::start)?;
                let (admitted, _) = engine::admit_update(&mut state, update, now)
                    .map_err(|err| MultiOperationError::update(false, err))?;
                merge(&mut transition, admitted);
                (state, transition)
            }
        };
        self.commit_transition(&run, &state, transition, WriteBatch::default(), started)
            .await
            .map_err(MultiOperationError::start)?;
        drop(guard);

        let reached = self
            .await_update(
                &run,
                update_id,
                wait_stage(update.wait_policy.as_ref(), Stage::Completed),
                waiter,
            )
            .await
            .map_err(|err| MultiOperationError::update(started, err))?;
        let start_response = StartWorkflowExecutionResponse {
            run_id: run.run_id.clone(),
            started,
            ..Default::default()
        };
        Ok(ExecuteMultiOperationResponse {
            responses: vec![
                Response {
                    response: Some(response::Response::StartWorkflow(start_response)),
                },
                Response {
                    response: Some(response::Response::UpdateWorkflow(update_response(
                        &run, update_id, reached,
                    ))),
                },
            ],
        })
    }
}

fn new_run_key(namespace: &str, workflow_id: &str) -> RunKey {
    RunKey::new(namespace, workflow_id, &uuid::Uuid::new_v4().to_string())
}

/// Whether the update goes to the existing run `state` instead of a new one.
fn joins_existing(
    start: &StartWorkflowExecutionRequest,
    update_id: &str,
    state: &engine::MutableState,
) -> Result<bool, MultiOperationError> {
    if engine::update_status(state, update_id).is_some() {
        return Ok(true);
    }
    if state.is_closed() {
        return Ok(false);
    }
    let retried = !start.request_id.is_empty() && state.start_request_id() == start.request_id;
    let policy = WorkflowIdConflictPolicy::try_from(start.workflow_id_conflict_policy)
        .unwrap_or(WorkflowIdConflictPolicy::Unspecified);
    if policy == WorkflowIdConflictPolicy::TerminateExisting {
        return Err(MultiOperationError::start(ExecutionError::InvalidArgument(
            "workflow_id_conflict_policy TERMINATE_EXISTING is not supported by Lockstep yet; \
             use FAIL or USE_EXISTING"
                .into(),
        )));
    }
    Ok(retried || policy == WorkflowIdConflictPolicy::UseExisting)
}

/// The [Start, Update] pair of a well-formed request; what is wrong otherwise.
fn split(
    request: &ExecuteMultiOperationRequest,
) -> Result<
    (
        &StartWorkflowExecutionRequest,
        &UpdateWorkflowExecutionRequest,
    ),
    MultiOperationError,
> {
    let operations: Vec<Option<&Operation>> = request
        .operations
        .iter()
        .map(|op| op.operation.as_ref())
        .collect();
    let [
        Some(Operation::StartWorkflow(start)),
        Some(Operation::UpdateWorkflow(update)),
    ] = operations.as_slice()
    else {
        return Err(malformed(
            "operations must be exactly [StartWorkflow, UpdateWorkflow] (update-with-start)",
        ));
    };
    let namespace = request.namespace.as_str();
    if ![start.namespace.as_str(), update.namespace.as_str()]
        .iter()
        .all(|ns| ns.is_empty() || *ns == namespace)
    {
        return Err(malformed(
            "an operation names another namespace than the request",
        ));
    }
    if start.workflow_id.is_empty() {
        return Err(MultiOperationError::start(ExecutionError::InvalidArgument(
            "workflow_id is required".into(),
        )));
    }
    engine::check_update_request(update).map_err(|err| MultiOperationError::update(false, err))?;
    let execution = update.workflow_execution.clone().unwrap_or_default();
    let invalid = |message: &str| {
        MultiOperationError::update(false, EngineError::invalid(message.to_string()))
    };
    if execution.workflow_id != start.workflow_id {
        return Err(invalid(
            "the update's workflow_id must be the start's (one workflow per update-with-start)",
        ));
    }
    if !execution.run_id.is_empty() {
        return Err(invalid(
            "the update's run_id must be empty in update-with-start",
        ));
    }
    if !update.first_execution_run_id.is_empty() {
        return Err(invalid(
            "the update's first_execution_run_id must be empty in update-with-start",
        ));
    }
    Ok((start, update))
}

fn malformed(message: &str) -> MultiOperationError {
    MultiOperationError::Request(Box::new(ExecutionError::InvalidArgument(
        message.to_string(),
    )))
}

fn merge(into: &mut Transition, other: Transition) {
    into.events.extend(other.events);
    into.effects.extend(other.effects);
}
