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
