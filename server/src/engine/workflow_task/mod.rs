//! The workflow task lifecycle: Scheduled → Started → Completed | Failed | TimedOut.
//!
//! - `started.rs`: a worker picked the task up (WorkflowTaskStarted + start-to-close timer).
//! - `completed.rs`: the worker's commands become events; buffered events follow them.
//! - `failed.rs`: the worker or the server failed the task; the next attempt is scheduled.
//! - `sticky.rs`: which worker queue the next tasks go to (sticky execution).
//! - `timed_out.rs`: the start-to-close timer fired (how crashed workers are taken over), or a
//!   task waited too long on a worker's sticky queue.
//!
//! Sticky execution, as in Temporal: a completion's `sticky_attributes` make the worker's own
//! queue the target of the run's next tasks, which then carry only the events after
//! `previous_started_event_id` (the worker has the rest cached). A task not picked up from the
//! sticky queue within its schedule-to-start timeout times out (`SCHEDULE_TO_START`) and goes
//! to the normal queue with the full history; a failed or timed-out task clears stickiness
//! and, if it was sticky, keeps its attempt number (Temporal's rule).

mod completed;
mod failed;
mod started;
mod sticky;
mod timed_out;

pub use completed::complete_workflow_task;
pub use failed::{fail_workflow_task, fail_workflow_task_by_server};
pub use started::workflow_task_started;
pub use sticky::reset_stickiness;
pub(crate) use timed_out::{on_schedule_to_start_timeout, on_start_to_close_timeout};

use temporalio_protos::temporal::api::{
    enums::v1::TaskQueueKind,
    history::v1::{
        WorkflowTaskScheduledEventAttributes, WorkflowTaskStartedEventAttributes,
        history_event::Attributes,
    },
    taskqueue::v1::TaskQueue,
};

use super::{MutableState, WorkflowTaskInfo, time::duration};

/// The `WorkflowTaskScheduled` attributes of a task of `state` on `task_queue` (the worker's
/// sticky queue when `sticky`, recorded as Temporal does: kind STICKY, normal name).
pub(crate) fn scheduled_attributes(
    state: &MutableState,
    task_queue: &str,
    sticky: bool,
    attempt: i32,
) -> Attributes {
    let task_queue = if sticky {
        TaskQueue {
            name: task_queue.to_string(),
            kind: TaskQueueKind::Sticky as i32,
            normal_name: state.task_queue.clone(),
        }
    } else {
        TaskQueue {
            name: task_queue.to_string(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }
    };
    Attributes::WorkflowTaskScheduledEventAttributes(WorkflowTaskScheduledEventAttributes {
        task_queue: Some(task_queue),
        start_to_close_timeout: Some(duration(state.workflow_task_timeout_ms)),
        attempt,
    })
}

/// The `WorkflowTaskStarted` attributes of started task `task`.
pub(crate) fn started_attributes(task: &WorkflowTaskInfo, history_size_bytes: i64) -> Attributes {
    Attributes::WorkflowTaskStartedEventAttributes(WorkflowTaskStartedEventAttributes {
        scheduled_event_id: task.scheduled_event_id,
        identity: task.started_identity.clone(),
        request_id: task.request_id.clone(),
        history_size_bytes,
        ..Default::default()
    })
}
