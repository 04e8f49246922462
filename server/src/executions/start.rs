//! StartWorkflowExecution (with request-id idempotency and workflow-id reuse) and signals.

use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::WorkflowIdReusePolicy,
    workflowservice::v1::{
        RequestCancelWorkflowExecutionRequest, SignalWithStartWorkflowExecutionRequest,
        SignalWithStartWorkflowExecutionResponse, SignalWorkflowExecutionRequest,
        StartWorkflowExecutionRequest, StartWorkflowExecutionResponse,
        TerminateWorkflowExecutionRequest,
    },
};

use super::{ExecutionError, Executions, RunKey, now_ms};
use crate::{engine, store::WriteBatch};

impl Executions {
    /// Starts a workflow run, or returns the existing run for a repeated request id.
    pub async fn start_workflow(
        &self,
        request: &StartWorkflowExecutionRequest,
    ) -> Result<StartWorkflowExecutionResponse, ExecutionError> {
        let namespace = &request.namespace;
        let workflow_id = &request.workflow_id;
        if workflow_id.is_empty() {
            return Err(ExecutionError::InvalidArgument(
                "workflow_id is required".into(),
            ));
        }
        let _guard = self.locks.lock(namespace, workflow_id).await;
        if let Some(current) = self.current_run_id(namespace, workflow_id)? {
            let run = RunKey::new(namespace, workflow_id, &current);
            if let Some(state) = self.load(&run)? {
                if !request.request_id.is_empty() && state.start_request_id() == request.request_id
                {
                    return Ok(started(current, false));
                }
                if !state.is_closed() {
                    return Err(ExecutionError::AlreadyStarted {
                        workflow_id: workflow_id.clone(),
                        run_id: current,
                        start_request_id: state.start_request_id().to_string(),
                    });
                }
                check_reuse_policy(request, &state)?;
            }
        }
        let run_id = uuid::Uuid::new_v4().to_string();
        let (state, transition) = engine::start_workflow(request, &run_id, now_ms())?;
        let run = RunKey::new(namespace, workflow_id, &run_id);
        self.commit_transition(&run, &state, transition, WriteBatch::default(), true)
            .await?;
        Ok(started(run_id, true))
    }

    /// Signals the workflow's open run, or starts a run whose first event after the start is
    /// the signal.
    pub async fn signal_with_start(
        &self,
        request: &SignalWithStartWorkflowExecutionRequest,
    ) -> Result<SignalWithStartWorkflowExecutionResponse, ExecutionError> {
        let namespace = &request.namespace;
        let workflow_id = &request.workflow_id;
        if workflow_id.is_empty() {
            return Err(ExecutionError::InvalidArgument(
                "workflow_id is required".into(),
            ));
        }
        if request.signal_name.is_empty() {
            return Err(ExecutionError::InvalidArgument(
                "signal_name is required".into(),
            ));
        }
        let _guard = self.locks.lock(namespace, workflow_id).await;
        if let Some(current) = self.current_run_id(namespace, workflow_id)? {
            let run = RunKey::new(namespace, workflow_id, &current);
            if let Some(mut state) = self.load(&run)?
                && !state.is_closed()
            {
                let signal = SignalWorkflowExecutionRequest {
                    namespace: namespace.clone(),
                    workflow_execution: Some(state.execution()),
                    signal_name: request.signal_name.clone(),
                    input: request.signal_input.clone(),
                    identity: request.identity.clone(),
                    request_id: request.request_id.clone(),
                    header: request.header.clone(),
                    ..Default::default()
                };
                let transition = engine::signal(&mut state, &signal, now_ms())?;
                self.commit_transition(&run, &state, transition, WriteBatch::default(), false)
                    .await?;
                return Ok(SignalWithStartWorkflowExecutionResponse {
                    first_execution_run_id: current.clone(),
                    run_id: current,
                    started: false,
                    ..Default::default()
                });
            }
        }
        let run_id = uuid::Uuid::new_v4().to_string();
        let (state, transition) = engine::start_workflow_with_signal(request, &run_id, now_ms())?;
        let run = RunKey::new(namespace, workflow_id, &run_id);
        self.commit_transition(&run, &state, transition, WriteBatch::default(), true)
            .await?;
        Ok(SignalWithStartWorkflowExecutionResponse {
            first_execution_run_id: run_id.clone(),
            run_id,
            started: true,
            ..Default::default()
        })
    }

    /// Asks a workflow to cancel itself (it decides how).
    pub async fn request_cancel(
        &self,
        request: &RequestCancelWorkflowExecutionRequest,
    ) -> Result<(), ExecutionError> {
        self.change_named_run(
            &request.namespace,
            request.workflow_execution.as_ref(),
            |state, now| engine::request_cancel_workflow(state, request, now),
        )
        .await
    }

    /// Terminates a workflow run at once, with a reason.
    pub async fn terminate(
        &self,
        request: &TerminateWorkflowExecutionRequest,
    ) -> Result<(), ExecutionError> {
        self.change_named_run(
            &request.namespace,
            request.workflow_execution.as_ref(),
            |state, now| engine::terminate_workflow(state, request, now),
        )
        .await
    }

    /// Signals a running workflow.
    pub async fn signal(
        &self,
        request: &SignalWorkflowExecutionRequest,
    ) -> Result<(), ExecutionError> {
        self.change_named_run(
            &request.namespace,
            request.workflow_execution.as_ref(),
            |state, now| engine::signal(state, request, now),
        )
        .await
    }

    /// Applies a client's change to the run a request names (its current run when the run id
    /// is empty).
    async fn change_named_run(
        &self,
        namespace: &str,
        execution: Option<&WorkflowExecution>,
        change: impl FnOnce(
            &mut engine::MutableState,
            i64,
        ) -> Result<engine::Transition, engine::EngineError>,
    ) -> Result<(), ExecutionError> {
        let execution = execution.cloned().unwrap_or_default();
        let run = self.resolve(namespace, &execution.workflow_id, &execution.run_id)?;
        self.mutate(&run, WriteBatch::default(), |state, now| {
            change(state, now).map(|t| (t, ()))
        })
        .await?;
        Ok(())
    }
}

fn started(run_id: String, started: bool) -> StartWorkflowExecutionResponse {
    StartWorkflowExecutionResponse {
        run_id,
        started,
        ..Default::default()
    }
}

pub(super) fn check_reuse_policy(
    request: &StartWorkflowExecutionRequest,
    previous: &engine::MutableState,
) -> Result<(), ExecutionError> {
    use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus as S;
    let policy = WorkflowIdReusePolicy::try_from(request.workflow_id_reuse_policy)
        .unwrap_or(WorkflowIdReusePolicy::AllowDuplicate);
    let refused = match policy {
        WorkflowIdReusePolicy::RejectDuplicate => true,
        WorkflowIdReusePolicy::AllowDuplicateFailedOnly => {
            matches!(previous.status(), S::Completed)
        }
        _ => false,
    };
    if refused {
        return Err(ExecutionError::AlreadyStarted {
            workflow_id: request.workflow_id.clone(),
            run_id: previous.run_id().to_string(),
            start_request_id: previous.start_request_id().to_string(),
        });
    }
    Ok(())
}
