//! Activities, from the workflow's `ScheduleActivityTask` to their final event.
//!
//! Retries are server-side and invisible in history: an attempt that fails or times out
//! retryably bumps `attempt`, waits its backoff (an `ActivityRetry` timer) and is dispatched
//! again; no event is written. Only the final outcome writes `ActivityTaskStarted` (attempt,
//! last failure, identity) — if an attempt was running — followed by Completed, Failed,
//! TimedOut or Canceled, and a workflow task.
//!
//! - `started.rs`, `completed.rs`, `failed.rs`, `canceled.rs`, `heartbeat.rs`: worker RPCs.
//! - `timeouts.rs`: the activity timers (schedule-to-start, start-to-close, heartbeat,
//!   schedule-to-close) and the retry backoff timer.

mod canceled;
mod completed;
mod failed;
mod heartbeat;
mod started;
mod timeouts;

pub use canceled::cancel_activity;
pub use completed::complete_activity;
pub use failed::fail_activity;
pub use heartbeat::record_heartbeat;
pub use started::activity_task_started;
pub(crate) use timeouts::on_activity_timer;

use temporalio_protos::temporal::api::{
    enums::v1::RetryState,
    failure::v1::Failure,
    history::v1::{ActivityTaskStartedEventAttributes, history_event::Attributes},
};

use super::{
    ActivityInfo, Effect, TimerKind, TimerTask,
    apply::Apply,
    retry::{RetryDecision, decide},
    time::{duration, timestamp},
};

/// Dispatches the current attempt of activity `scheduled_event_id`: the activity task, and its
/// schedule-to-start timer when that timeout is shorter than schedule-to-close.
pub(crate) fn dispatch(cx: &mut Apply<'_>, scheduled_event_id: i64) {
    let now = cx.now;
    let Some(info) = cx.state.activities.get_mut(&scheduled_event_id) else {
        return;
    };
    info.current_attempt_scheduled_time = Some(timestamp(now));
    info.next_attempt_schedule_time = None;
    let task = Effect::ActivityTask {
        task_queue: info.task_queue.clone(),
        scheduled_event_id,
        attempt: info.attempt,
    };
    let schedule_to_start = info.schedule_to_start_ms();
    let schedule_to_close = info.schedule_to_close_ms();
    let attempt = info.attempt;
    cx.effect(task);
    if schedule_to_start > 0 && (schedule_to_close == 0 || schedule_to_start < schedule_to_close) {
        cx.timer(TimerTask::new(
            TimerKind::ActivityScheduleToStart,
            now.saturating_add(schedule_to_start),
            scheduled_event_id,
            attempt,
        ));
    }
}

/// The current attempt failed with `failure`: either arranges the retry (no event) and returns
/// `None`, or returns the final retry state.
pub(crate) fn retry_or_final(
    cx: &mut Apply<'_>,
    scheduled_event_id: i64,
    failure: &Failure,
) -> Option<RetryState> {
    let now = cx.now;
    let info = cx.state.activities.get_mut(&scheduled_event_id)?;
    let backoff_ms = match decide(info, failure, now) {
        RetryDecision::Final(state) => return Some(state),
        RetryDecision::Retry { backoff_ms } => backoff_ms,
    };
    info.attempt = info.attempt.saturating_add(1);
    info.last_failure = Some(failure.clone());
    info.started_time = None;
    info.started_request_id.clear();
    info.last_heartbeat_time = None;
    info.last_attempt_complete_time = Some(timestamp(now));
    info.current_retry_interval = Some(duration(backoff_ms));
    let attempt = info.attempt;
    if backoff_ms <= 0 {
        dispatch(cx, scheduled_event_id);
    } else {
        let due = now.saturating_add(backoff_ms);
        info.next_attempt_schedule_time = Some(timestamp(due));
        cx.timer(TimerTask::new(
            TimerKind::ActivityRetry,
            due,
            scheduled_event_id,
            attempt,
        ));
    }
    None
}

/// Ends the activity: removes it, writes `ActivityTaskStarted` if an attempt is running, then
/// the final event built by `outcome` from the started event id (0 when not started, or when
/// buffered: flushing fills it in), and makes sure a workflow task will see it.
pub(crate) fn finish(
    cx: &mut Apply<'_>,
    info: &ActivityInfo,
    outcome: impl FnOnce(i64) -> Attributes,
) {
    cx.state.activities.remove(&info.scheduled_event_id);
    let mut started_event_id = 0;
    if info.is_started() {
        let buffering = cx.state.task_started();
        cx.record(Attributes::ActivityTaskStartedEventAttributes(
            ActivityTaskStartedEventAttributes {
                scheduled_event_id: info.scheduled_event_id,
                identity: info.started_identity.clone(),
                request_id: info.started_request_id.clone(),
                attempt: info.attempt,
                last_failure: info.last_failure.clone(),
                ..Default::default()
            },
        ));
        if !buffering {
            started_event_id = cx.state.next_event_id - 1;
        }
    }
    cx.record(outcome(started_event_id));
    cx.ensure_workflow_task();
}
