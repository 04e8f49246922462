//! The workflow-execution state machine: pure, deterministic and I/O-free.
//!
//! Every entry point takes the durable [`MutableState`] of one run, a request and `now` (unix
//! milliseconds), and returns a [`Transition`]: the NEW history events (final, contiguous ids)
//! to append, and the [`Effect`]s the caller must carry out after committing both. Nothing in
//! here reads a clock, draws randomness, touches storage or re-reads history: the cost of a
//! transition never depends on the length of the history (a reset excepted: its input is the
//! base run's history, see `reset.rs`).
//!
//! # Layout
//! - `state.rs`: [`MutableState`] and the pending [`WorkflowTaskInfo`] / [`ActivityInfo`].
//! - `apply.rs`: the transaction every entry point runs in (id assignment, buffering, closing).
//! - `events.rs`: event type of each attribute kind.
//! - `start.rs`, `signal.rs`, `cancel.rs`: client-initiated transitions.
//! - `child.rs`: a parent's side of its child workflows (started, start failed, closed) and
//!   the outbox records that carry them between runs.
//! - `external.rs`: signals and cancellation requests to other workflows, across runs.
//! - `retry_workflow.rs`, `cron.rs`: the next run of a retried or cron chain, started in the
//!   closing batch with its first workflow task behind a durable backoff timer.
//! - `workflow_task/`: started, completed, failed (by the worker or the server), timed out.
//! - `commands/`: one file per workflow command handled on completion.
//! - `activity/`: started, completed, failed (with `retry.rs`), canceled, heartbeat, timeouts.
//! - `fire.rs` + `timer_task.rs`: durable timers and what happens when they fire.
//! - `describe.rs`: read-only views (describe, activity poll data).
//! - `rebuild.rs` + `reset.rs`: a run's state rebuilt from its history; ResetWorkflowExecution
//!   (the one transition whose input is a history: the base run's, read by the caller).
//! - `time.rs`: millisecond ↔ protobuf time conversions.
//! - `update/`: workflow updates (admission, delivery as protocol messages, the worker's
//!   answers, speculative workflow tasks).
//!
//! # Contract
//! - An `Err` leaves the state untouched: every entry point runs on a copy that replaces the
//!   original only on success (`apply::transact`).
//! - Events arriving while a workflow task is STARTED are buffered in the state without ids and
//!   appended after the task's outcome (completed + commands, failed, timed out).
//! - At most one workflow task is pending; nothing is appended after a closing event.
//! - Server-side activity retries are invisible in history: `ActivityTaskStarted` is written
//!   only with the final outcome.
//! - Workflow tasks go to the worker's sticky queue (with only the new events) while the run is
//!   sticky, else to the normal task queue with the full history (`workflow_task/sticky.rs`).

mod activity;
mod apply;
mod cancel;
mod child;
mod commands;
mod cron;
mod describe;
mod error;
mod events;
mod external;
mod fire;
mod rebuild;
mod reset;
mod retry;
mod retry_workflow;
mod signal;
mod start;
mod state;
mod time;
mod timer_task;
mod update;
mod workflow_task;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use activity::{
    activity_task_started, cancel_activity, complete_activity, fail_activity, record_heartbeat,
};
pub use cancel::{request_cancel_workflow, terminate_workflow};
pub use child::{
    ChildCompletion, ParentCloseAction, child_closed, child_start, child_started,
    start_child_failed,
};
pub use error::EngineError;
pub use external::{
    ExternalDelivery, ExternalOutcome, ExternalRequest, ExternalSignal, deliver_external,
    external_delivery, external_resolved,
};
pub use fire::{fire_timer, fire_timer_starting};
pub use rebuild::{RebuildError, RunIdentity, rebuild};
pub use reset::{
    RESET_IDENTITY, RESETTER_IDENTITY, ResetPlan, record_reset, reset_prefix_len, reset_run,
    terminate_for_reset,
};
pub use retry_workflow::RestartInfo;
pub use signal::signal;
pub use start::{NewRun, RunLineage, start_run, start_workflow, start_workflow_with_signal};
pub use state::{ActivityInfo, ChildInfo, MutableState, ParentInfo, WorkflowTaskInfo};
pub use timer_task::{TimerKind, TimerTask};
pub use update::{
    UpdateChange, UpdateInfo, UpdateStatus, admit_update, check_task_generation,
    check_update_request, speculative_task_events, update_messages, update_status,
};
pub use workflow_task::{
    complete_workflow_task, fail_workflow_task, fail_workflow_task_by_server, reset_stickiness,
    workflow_task_started,
};

use temporalio_protos::temporal::api::history::v1::HistoryEvent;

/// The outcome of one successful transition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transition {
    /// New history events with final, contiguous ids, to append in order.
    pub events: Vec<HistoryEvent>,
    /// What the caller must do once the events and the new state are committed.
    pub effects: Vec<Effect>,
    /// True when the transition left the state exactly as it was and asks for nothing (a
    /// stale timer, a duplicate request): there is nothing to write.
    pub unchanged: bool,
}

impl Transition {
    /// True when the transition appended nothing and asks for nothing (a stale timer, a
    /// duplicate signal).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.effects.is_empty()
    }
}

/// A side effect to carry out after committing a [`Transition`].
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Enqueue a workflow task on `task_queue`: the normal queue, or the worker's sticky queue
    /// while the run is sticky.
    WorkflowTask {
        /// The workflow's normal task queue.
        task_queue: String,
        /// Id of the `WorkflowTaskScheduled` event.
        scheduled_event_id: i64,
        /// Attempt of the task, from 1.
        attempt: i32,
    },
    /// Enqueue an activity task (first attempt, or a retry whose backoff has elapsed).
    ActivityTask {
        /// The activity's task queue.
        task_queue: String,
        /// Id of the `ActivityTaskScheduled` event.
        scheduled_event_id: i64,
        /// Attempt of the task, from 1.
        attempt: i32,
    },
    /// Arm a durable timer; hand it back to [`fire_timer`] once `fire_at` has passed.
    Timer(TimerTask),
    /// The run closed: wake result waiters.
    Closed,
    /// Start this run of the same workflow id in the same batch, and make it the current run
    /// (continue-as-new). Follows [`Effect::Closed`].
    StartRun(Box<NewRun>),
    /// Durable outbox: start the child workflow initiated by this event, then record the
    /// outcome on this run ([`child_start`], [`child_started`], [`start_child_failed`]).
    StartChild {
        /// Id of the `StartChildWorkflowExecutionInitiated` event.
        initiated_event_id: i64,
    },
    /// Durable outbox: deliver the signal or cancellation request initiated by this event to
    /// its target, then record the outcome on this run ([`external_delivery`],
    /// [`deliver_external`], [`external_resolved`]).
    External {
        /// Id of the `SignalExternalWorkflowExecutionInitiated` or
        /// `RequestCancelExternalWorkflowExecutionInitiated` event.
        initiated_event_id: i64,
    },
    /// Durable outbox: this child run closed; record it on the parent ([`child_closed`]).
    /// Follows [`Effect::Closed`].
    NotifyParent(Box<ChildCompletion>),
    /// Durable outbox: the run closed with this child still open; terminate or cancel it.
    /// Follows [`Effect::Closed`].
    ParentClosePolicy(Box<ParentCloseAction>),
    /// An update moved on (accepted, completed, rejected, aborted): wake whoever waits for it.
    /// In-memory only; may follow [`Effect::Closed`].
    Update(Box<UpdateChange>),
}

impl Effect {
    /// True for the effects a closing transition may carry besides [`Effect::Closed`].
    pub fn follows_close(&self) -> bool {
        matches!(
            self,
            Effect::Closed
                | Effect::StartRun(_)
                | Effect::NotifyParent(_)
                | Effect::ParentClosePolicy(_)
                | Effect::Update(_)
        )
    }
}
