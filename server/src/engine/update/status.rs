//! What a client waiting on an update can learn from the run's state, and what happens to
//! updates when the run closes: admitted ones are dropped (their waiters get an error, as in
//! Temporal), accepted ones that never completed report Temporal's
//! `AcceptedUpdateCompletedWorkflow` failure.

use temporalio_protos::temporal::api::{
    enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage,
    failure::v1::{ApplicationFailureInfo, Failure, failure::FailureInfo},
};

use super::UpdateChange;
use crate::engine::{Effect, MutableState};

/// Where a known update is.
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateStatus {
    /// Admitted; the workflow has not answered yet.
    Admitted,
    /// Accepted by the workflow; no outcome yet.
    Accepted,
    /// Completed: the outcome is in event `completed_event_id`
    /// (`WorkflowExecutionUpdateCompleted`).
    Completed {
        /// Id of the `WorkflowExecutionUpdateCompleted` event.
        completed_event_id: i64,
    },
    /// Accepted, but the run closed before the update completed: this failure is its outcome.
    Failed(Box<Failure>),
}

impl UpdateStatus {
    /// The lifecycle stage reached (a completed or failed update is COMPLETED).
    pub fn stage(&self) -> Stage {
        match self {
            UpdateStatus::Admitted => Stage::Admitted,
            UpdateStatus::Accepted => Stage::Accepted,
            UpdateStatus::Completed { .. } | UpdateStatus::Failed(_) => Stage::Completed,
        }
    }
}

/// The status of update `update_id`, if the run knows it. Rejected updates are forgotten (as
/// in Temporal): a retry with the same id is a new update.
pub fn update_status(state: &MutableState, update_id: &str) -> Option<UpdateStatus> {
    let info = state.updates.get(update_id)?;
    Some(match info.stage() {
        Stage::Completed => UpdateStatus::Completed {
            completed_event_id: info.completed_event_id,
        },
        Stage::Accepted if state.is_closed() => {
            UpdateStatus::Failed(Box::new(closed_before_completion()))
        }
        Stage::Accepted => UpdateStatus::Accepted,
        Stage::Admitted | Stage::Unspecified => UpdateStatus::Admitted,
    })
}

/// The run closes: admitted updates are dropped; every update that did not complete is
/// announced so its waiters re-read the (closed) run.
pub(crate) fn abort_admitted(state: &mut MutableState) -> Vec<Effect> {
    let mut changes = Vec::new();
    state.updates.retain(|id, info| {
        if info.in_flight() {
            changes.push(Effect::Update(Box::new(UpdateChange {
                update_id: id.clone(),
                rejection: None,
            })));
        }
        !info.is_admitted()
    });
    changes
}

/// Temporal's outcome for an update accepted by a run that closed before completing it.
fn closed_before_completion() -> Failure {
    server_failure(
        "Workflow Update failed because the Workflow completed before the Update completed.",
        "AcceptedUpdateCompletedWorkflow",
    )
}

/// Temporal's rejection of an update the worker was given but did not answer.
pub(super) fn unprocessed_failure() -> Failure {
    server_failure(
        "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow \
         Update is not supported by the worker.",
        "UnprocessedUpdate",
    )
}

/// A non-retryable application failure from the server, worded and typed as Temporal's.
fn server_failure(message: &str, failure_type: &str) -> Failure {
    Failure {
        message: message.to_string(),
        source: "Server".to_string(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: failure_type.to_string(),
                non_retryable: true,
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}
