//! The workflow task lifecycle: Scheduled → Started → Completed | Failed | TimedOut.
//!
//! - `started.rs`: a worker picked the task up (WorkflowTaskStarted + start-to-close timer).
//! - `completed.rs`: the worker's commands become events; buffered events follow them.
//! - `failed.rs`: the worker or the server failed the task; the next attempt is scheduled.
//! - `timed_out.rs`: the start-to-close timer fired (how crashed workers are taken over).

mod completed;
mod failed;
mod started;
mod timed_out;

pub use completed::complete_workflow_task;
pub use failed::{fail_workflow_task, fail_workflow_task_by_server};
pub use started::workflow_task_started;
pub(crate) use timed_out::on_start_to_close_timeout;

use temporalio_protos::temporal::api::{
    enums::v1::TaskQueueKind,
    history::v1::{
        WorkflowTaskScheduledEventAttributes, WorkflowTaskStartedEventAttributes,
        history_event::Attributes,
    },
    taskqueue::v1::TaskQueue,
};

use super::{MutableState, WorkflowTaskInfo, time::duration};

/// The `WorkflowTaskScheduled` attributes of a task of `state` on `task_queue`.
pub(crate) fn scheduled_attributes(
    state: &MutableState,
    task_queue: &str,
    attempt: i32,
) -> Attributes {
    Attributes::WorkflowTaskScheduledEventAttributes(WorkflowTaskScheduledEventAttributes {
        task_queue: Some(TaskQueue {
            name: task_queue.to_string(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
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
