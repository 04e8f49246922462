//! ResetWorkflowExecution and ResetStickyTaskQueue.
//!
//! A reset runs under the workflow id's lock, which covers every run of that id: it reads the
//! base run's history (and that of the runs it continued as new into, whose signals are
//! reapplied too), rebuilds the prefix as a new run (`engine::rebuild`, `engine::reset_run`)
//! and commits in ONE batch: the termination of the current run if it is running, the base
//! run's `reset_run_id`, and the new run, which becomes the current run. A crash therefore
//! leaves either the old runs untouched or the new run current with the old one terminated;
//! never two running runs, never none.
//!
//! The request id makes it idempotent: while the run a reset created is current, the same
//! request id answers that run instead of resetting again.

use temporalio_protos::temporal::api::{
    enums::v1::{ResetReapplyExcludeType, ResetReapplyType},
    history::v1::{HistoryEvent, history_event::Attributes},
    workflowservice::v1::{
        ResetStickyTaskQueueRequest, ResetWorkflowExecutionRequest, ResetWorkflowExecutionResponse,
    },
};

use super::{ExecutionError, Executions, RunKey, keys, now_ms};
use crate::{
    engine::{self, ResetPlan, RunIdentity, Transition},
    store::{Keyspace, StoreError, WriteBatch},
};

/// How many continue-as-new successors of the base run are searched for signals to reapply.
const MAX_CONTINUED_RUNS: usize = 1000;

impl Executions {
    /// Resets a workflow to a workflow task of one of its runs: a new current run from that
    /// run's history prefix, the current run terminated if it is running.
    pub async fn reset_workflow(
        &self,
        request: &ResetWorkflowExecutionRequest,
    ) -> Result<ResetWorkflowExecutionResponse, ExecutionError> {
        let reapply = validate(request)?;
        let execution = request.workflow_execution.clone().unwrap_or_default();
        let (namespace, workflow_id) = (&request.namespace, &execution.workflow_id);
        let _guard = self.locks.lock(namespace, workflow_id).await;
        let current_id = self.current_run_id(namespace, workflow_id)?;
        let base_id = match (&execution.run_id, &current_id) {
            (run_id, _) if !run_id.is_empty() => run_id.clone(),
            (_, Some(current)) => current.clone(),
            _ => return Err(ExecutionError::NotFound(format!("{workflow_id:?}"))),
        };
        let base_key = RunKey::new(namespace, workflow_id, &base_id);
        let mut base = self
            .load(&base_key)?
            .ok_or_else(|| ExecutionError::NotFound(format!("{workflow_id:?} run {base_id:?}")))?;
        let mut current = match &current_id {
            Some(id) if *id != base_id => {
                let key = RunKey::new(namespace, workflow_id, id);
                self.load(&key)?.map(|state| (key, state))
            }
            _ => None,
        };
        let current_state = match &current {
            Some((_, state)) => Some(state),
            None => (current_id.as_deref() == Some(base_id.as_str())).then_some(&base),
        };
        if let Some(state) = current_state
            && state.reset_request_id() == request.request_id
        {
            return Ok(ResetWorkflowExecutionResponse {
                run_id: state.run_id().to_string(),
            });
        }

        let prefix_len = engine::reset_prefix_len(&base, request.workflow_task_finish_event_id)?;
        let history = self.read_events(&base_key, 1, base.next_event_id() - 1)?;
        let (prefix, after) = history.split_at(prefix_len.min(history.len()));
        let mut later = after.to_vec();
        self.append_continued_runs(&base_key, &history, &mut later)?;

        let new_run_id = uuid::Uuid::new_v4().to_string();
        let identity = RunIdentity {
            namespace,
            run_id: &new_run_id,
            start_request_id: base.start_request_id(),
        };
        let rebuilt = engine::rebuild(&identity, prefix).map_err(|err| {
            StoreError::decode(
                Keyspace::History,
                &keys::event(&base_key, err.event_id),
                &err,
            )
        })?;
        let plan = ResetPlan {
            base_run_id: &base_id,
            new_run_id: &new_run_id,
            reason: &request.reason,
            request_id: &request.request_id,
            finish_event_id: request.workflow_task_finish_event_id,
            reapply_signals: reapply.signals,
            reapply_updates: reapply.updates,
        };
        let now = now_ms();
        let (new_state, new_transition) = engine::reset_run(rebuilt, prefix, &later, &plan, now)?;

        let mut batch = WriteBatch::default();
        let mut staged = Vec::new();
        if let Some((key, state)) = current.as_mut()
            && !state.is_closed()
        {
            let terminated = engine::terminate_for_reset(state, &request.reason, now)?;
            self.stage(&mut batch, key, state, &terminated, false, &mut staged)?;
        }
        let base_transition =
            if current_id.as_deref() == Some(base_id.as_str()) && !base.is_closed() {
                engine::terminate_for_reset(&mut base, &request.reason, now)?
            } else {
                Transition::default()
            };
        engine::record_reset(&mut base, &new_run_id);
        self.stage(
            &mut batch,
            &base_key,
            &base,
            &base_transition,
            false,
            &mut staged,
        )?;
        let new_key = RunKey::new(namespace, workflow_id, &new_run_id);
        self.stage(
            &mut batch,
            &new_key,
            &new_state,
            &new_transition,
            true,
            &mut staged,
        )?;
        self.committer.commit(batch).await?;
        for staged in staged {
            self.publish(staged);
        }
        tracing::info!(
            namespace = %namespace,
            workflow_id = %workflow_id,
            base_run_id = %base_id,
            run_id = %new_run_id,
            finish_event_id = request.workflow_task_finish_event_id,
            "workflow reset"
        );
        Ok(ResetWorkflowExecutionResponse { run_id: new_run_id })
    }

    /// ResetStickyTaskQueue: the run's later workflow tasks go to the normal queue with the
    /// full history. The run must exist and be running, as in Temporal.
    pub async fn reset_sticky_task_queue(
        &self,
        request: &ResetStickyTaskQueueRequest,
    ) -> Result<(), ExecutionError> {
        let (run, _) = self.load_named(&request.namespace, request.execution.as_ref())?;
        self.mutate(&run, WriteBatch::default(), |state, now| {
            engine::reset_stickiness(state, now).map(|t| (t, ()))
        })
        .await?;
        Ok(())
    }

    /// Appends to `later` the histories of the runs `history`'s run continued as new into,
    /// in order, as far as they still exist.
    fn append_continued_runs(
        &self,
        base: &RunKey,
        history: &[HistoryEvent],
        later: &mut Vec<HistoryEvent>,
    ) -> Result<(), ExecutionError> {
        let mut next = continued_into(history);
        for _ in 0..MAX_CONTINUED_RUNS {
            let Some(run_id) = next else { break };
            let key = RunKey::new(&base.namespace, &base.workflow_id, &run_id);
            let Some(state) = self.load(&key)? else { break };
            let events = self.read_events(&key, 1, state.next_event_id() - 1)?;
            next = continued_into(&events);
            later.extend(events);
        }
        Ok(())
    }
}

/// The run a history's last event continued as new into, if it did.
fn continued_into(history: &[HistoryEvent]) -> Option<String> {
    match history.last().and_then(|event| event.attributes.as_ref()) {
        Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a))
            if !a.new_execution_run_id.is_empty() =>
        {
            Some(a.new_execution_run_id.clone())
        }
        _ => None,
    }
}

/// What a reset reapplies from after its reset point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reapply {
    signals: bool,
    updates: bool,
}

/// Checks what the request itself must get right (Temporal's frontend rules); returns what is
/// reapplied. As in Temporal, the deprecated `reset_reapply_type` SIGNAL means signals only,
/// NONE nothing, and unspecified or ALL_ELIGIBLE everything (signals and updates); each
/// `reset_reapply_exclude_types` entry then takes its kind out.
fn validate(request: &ResetWorkflowExecutionRequest) -> Result<Reapply, ExecutionError> {
    let invalid = |message: String| Err(ExecutionError::InvalidArgument(message));
    let Some(execution) = &request.workflow_execution else {
        return invalid("Execution is not set on request.".into());
    };
    if execution.workflow_id.is_empty() {
        return invalid("WorkflowId is not set on request.".into());
    }
    if request.request_id.is_empty() {
        return invalid("RequestId is not set on request.".into());
    }
    if !request.post_reset_operations.is_empty() {
        return invalid("post_reset_operations are not supported by Lockstep yet".into());
    }
    #[allow(deprecated)] // Still sent by the CLI and SDKs; Temporal honours it.
    let reapply_type = request.reset_reapply_type;
    let mut reapply = match ResetReapplyType::try_from(reapply_type) {
        Ok(ResetReapplyType::None) => Reapply {
            signals: false,
            updates: false,
        },
        Ok(ResetReapplyType::Signal) => Reapply {
            signals: true,
            updates: false,
        },
        Ok(ResetReapplyType::Unspecified | ResetReapplyType::AllEligible) => Reapply {
            signals: true,
            updates: true,
        },
        Err(_) => return invalid(format!("unknown reset_reapply_type {reapply_type}")),
    };
    for &exclude in &request.reset_reapply_exclude_types {
        match ResetReapplyExcludeType::try_from(exclude) {
            Ok(ResetReapplyExcludeType::Signal) => reapply.signals = false,
            Ok(ResetReapplyExcludeType::Update) => reapply.updates = false,
            // Nexus operations are not supported, so there are none to reapply.
            Ok(_) => {}
            Err(_) => {
                return invalid(format!(
                    "unknown reset_reapply_exclude_types value {exclude}"
                ));
            }
        }
    }
    Ok(reapply)
}

#[cfg(test)]
mod tests;
