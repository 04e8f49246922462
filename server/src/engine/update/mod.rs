//! Workflow updates. A client's UpdateWorkflowExecution is *admitted* into the run's state
//! (durable, but not in history), delivered to the worker as a protocol message with the next
//! workflow task, and answered by the worker: an Acceptance writes
//! `WorkflowExecutionUpdateAccepted`, a Response `WorkflowExecutionUpdateCompleted`, and a
//! Rejection writes nothing at all.
//!
//! An update on a run without a pending workflow task gets a *speculative* task, as in
//! Temporal: it lives in the state and the task queue, but its `WorkflowTaskScheduled` and
//! `WorkflowTaskStarted` events are not in history. It turns real — its events are written
//! with the very ids the worker was given — as soon as anything else is written to the run or
//! the worker accepts; it is dropped without a trace when the worker only rejects.
//!
//! A reset reapplies the updates its base run accepted after the reset point, as Temporal
//! does: each becomes a `WorkflowExecutionUpdateAdmitted` event of the new run. Its request is
//! then in history, so it travels with the next task as that event (the SDKs turn it into the
//! request message themselves), not as a message, and its `WorkflowExecutionUpdateAccepted`
//! carries no request (Temporal's rule: the admitted event has it).
//!
//! - `admit.rs`: request validation, deduplication by update id, admission, the speculative
//!   task; the admission of an update a reset reapplies (`WorkflowExecutionUpdateAdmitted`).
//! - `deliver.rs`: the messages of a started task; a speculative task's (unwritten) events.
//! - `answer.rs`: the worker's Acceptance, Rejection and Response messages on completion.
//! - `status.rs`: what a client waiting on an update learns; aborting updates when a run closes.

mod admit;
mod answer;
mod deliver;
mod status;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub(crate) use admit::admit_reapplied;
pub use admit::{admit_update, check_task_generation, check_update_request};
pub(crate) use answer::{Answers, finish_task, protocol_message};
pub(crate) use deliver::{mark_sent, speculative_events};
pub use deliver::{speculative_task_events, update_messages};
pub(crate) use status::abort_admitted;
pub use status::{UpdateStatus, update_status};

use temporalio_protos::temporal::api::{
    enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage, failure::v1::Failure,
    update::v1::Request,
};

/// How many updates may be admitted or accepted but not completed at once (Temporal's
/// default); more are refused with ResourceExhausted until some complete.
pub(crate) const MAX_IN_FLIGHT_UPDATES: usize = 10;
/// How many distinct updates one run may receive (Temporal's default); the state keeps the
/// completed ones for deduplication, so this bounds its size.
pub(crate) const MAX_TOTAL_UPDATES: usize = 2000;

/// One update of a run, as stored in its state.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdateInfo {
    /// The client-chosen update id (the protocol instance id).
    #[prost(string, tag = "1")]
    pub update_id: String,
    /// Where it is: an `UpdateWorkflowExecutionLifecycleStage` (admitted, accepted, completed).
    #[prost(int32, tag = "2")]
    pub stage: i32,
    /// The request, while admitted by a client; once accepted it lives in the accepted event,
    /// and for an update a reset reapplied, in its admitted event.
    #[prost(message, optional, tag = "3")]
    pub request: Option<Request>,
    /// Admission order (1, 2, …) while admitted by a client: deliveries follow it. 0 once
    /// accepted (never delivered again) and for a reapplied update (never delivered as a
    /// message: the worker reads it from history).
    #[prost(int64, tag = "4")]
    pub admitted_seq: i64,
    /// Delivered with the workflow task that is started now.
    #[prost(bool, tag = "5")]
    pub sent: bool,
    /// Id of its `WorkflowExecutionUpdateAccepted` event; 0 before.
    #[prost(int64, tag = "6")]
    pub accepted_event_id: i64,
    /// Id of its `WorkflowExecutionUpdateCompleted` event; 0 before.
    #[prost(int64, tag = "7")]
    pub completed_event_id: i64,
    /// Id of its `WorkflowExecutionUpdateAdmitted` event, for an update a reset reapplied (see
    /// `admit::admit_reapplied`); 0 for one a client admitted (not in history).
    #[prost(int64, tag = "8")]
    pub admitted_event_id: i64,
}

impl UpdateInfo {
    /// The lifecycle stage.
    pub fn stage(&self) -> Stage {
        Stage::try_from(self.stage).unwrap_or(Stage::Unspecified)
    }

    pub(crate) fn is_admitted(&self) -> bool {
        self.stage() == Stage::Admitted
    }

    /// True for an update whose admission history records (a reapplied one): not one a client
    /// admitted, which lives in the state only.
    pub(crate) fn admission_in_history(&self) -> bool {
        self.admitted_event_id > 0
    }

    fn in_flight(&self) -> bool {
        self.stage() != Stage::Completed
    }
}

/// An update moved on; whoever waits for it re-reads the run. A rejection is not stored, so
/// its failure travels here.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateChange {
    /// The update id.
    pub update_id: String,
    /// The worker's (or the server's) rejection, for a rejected update.
    pub rejection: Option<Failure>,
}
