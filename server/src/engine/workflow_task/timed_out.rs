//! The start-to-close timer of a workflow task fired: if that very attempt is still started,
//! `WorkflowTaskTimedOut`, the buffered events and the next attempt. This is how a task held
//! by a crashed worker is handed to another one. Likewise a task that waited too long on a
//! worker's sticky queue (the worker is gone or busy) times out as `SCHEDULE_TO_START` and
//! goes to the normal queue.

use temporalio_protos::temporal::api::{
    enums::v1::TimeoutType,
    history::v1::{WorkflowTaskTimedOutEventAttributes, history_event::Attributes},
};

use super::failed::end_attempt;
use crate::engine::{TimerTask, apply::Apply};

/// Handles a `WorkflowTaskStartToClose` timer; a timer for a task that already ended is ignored.
pub(crate) fn on_start_to_close_timeout(cx: &mut Apply<'_>, timer: &TimerTask) {
    let Some(task) = cx.state.workflow_task.clone() else {
        return;
    };
    // A dropped speculative task's timer may meet a later task with the same ids and
    // attempt: it is that task's only if it fires at (or after) that task's own deadline.
    let deadline = crate::engine::time::ms(task.started_time.as_ref())
        .saturating_add(cx.state.workflow_task_timeout_ms);
    if !task.is_started()
        || task.scheduled_event_id != timer.event_id
        || task.attempt != timer.attempt
        || timer.fire_at < deadline
    {
        return;
    }
    let outcome =
        Attributes::WorkflowTaskTimedOutEventAttributes(WorkflowTaskTimedOutEventAttributes {
            scheduled_event_id: task.scheduled_event_id,
            started_event_id: task.started_event_id,
            timeout_type: TimeoutType::StartToClose as i32,
        });
    end_attempt(cx, outcome, task.attempt);
}

/// Handles a `WorkflowTaskScheduleToStart` timer: the sticky task it guards is still waiting
/// for a worker. A timer for a task that started, ended or moved on is ignored.
pub(crate) fn on_schedule_to_start_timeout(cx: &mut Apply<'_>, timer: &TimerTask) {
    let Some(task) = cx.state.workflow_task.clone() else {
        return;
    };
    if task.is_started()
        || !task.sticky
        || task.scheduled_event_id != timer.event_id
        || task.attempt != timer.attempt
    {
        return;
    }
    let outcome =
        Attributes::WorkflowTaskTimedOutEventAttributes(WorkflowTaskTimedOutEventAttributes {
            scheduled_event_id: task.scheduled_event_id,
            started_event_id: 0,
            timeout_type: TimeoutType::ScheduleToStart as i32,
        });
    end_attempt(cx, outcome, task.attempt);
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::enums::v1::EventType;

    use crate::engine::{Effect, TimerKind, TimerTask, fire_timer, test_support::*};

    #[test]
    fn timeout_reschedules_with_next_attempt() {
        let mut state = task_in_flight(); // scheduled 2 attempt 1, started 3
        let timer = TimerTask::new(TimerKind::WorkflowTaskStartToClose, T0 + 10_000, 2, 1);
        let t = fire_timer(&mut state, &timer, T0 + 10_000).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskTimedOut,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert_eq!(ids(&t), [4, 5]);
        assert_eq!(
            t.effects,
            [Effect::WorkflowTask {
                task_queue: TASK_QUEUE.into(),
                scheduled_event_id: 5,
                attempt: 2
            }]
        );
        // The same timer again, or one for an older attempt, is stale.
        assert!(
            fire_timer(&mut state, &timer, T0 + 20_000)
                .unwrap()
                .is_empty()
        );
    }
}
