//! A worker picked up the pending workflow task: `WorkflowTaskStarted`, and the start-to-close
//! timer that takes the task back if the worker never answers.

use super::started_attributes;
use crate::engine::{
    EngineError, MutableState, TimerKind, TimerTask, Transition, apply::transact, time::timestamp,
    update,
};

/// Starts the pending workflow task `scheduled_event_id`/`attempt` for a poller. NotFound if
/// that task is not pending (stale queue entry) or already started.
pub fn workflow_task_started(
    state: &mut MutableState,
    scheduled_event_id: i64,
    attempt: i32,
    identity: &str,
    request_id: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        let now = cx.now;
        let closed = cx.state.is_closed();
        let Some(task) = cx.state.workflow_task.as_mut().filter(|task| {
            !closed
                && task.scheduled_event_id == scheduled_event_id
                && task.attempt == attempt
                && !task.is_started()
        }) else {
            return Err(EngineError::not_found(format!(
                "workflow task {scheduled_event_id} attempt {attempt} is not pending"
            )));
        };
        task.started_time = Some(timestamp(now));
        task.request_id = request_id.to_string();
        task.started_identity = identity.to_string();
        // A speculative task's events are not written (nothing is, while it is speculative):
        // Started gets the id after its Scheduled, and is written only if the task turns real.
        task.started_event_id = if task.speculative {
            scheduled_event_id.saturating_add(1)
        } else {
            cx.state.next_event_id
        };
        if !task.speculative {
            let task = task.clone();
            let history_size_bytes = cx.state.history_size_bytes;
            let started_event_id = cx.append(started_attributes(&task, history_size_bytes));
            debug_assert_eq!(started_event_id, task.started_event_id);
        }
        update::mark_sent(cx.state);
        let fire_at = cx.now.saturating_add(cx.state.workflow_task_timeout_ms);
        cx.timer(TimerTask::new(
            TimerKind::WorkflowTaskStartToClose,
            fire_at,
            scheduled_event_id,
            attempt,
        ));
        Ok(())
    })
    .map(|(transition, ())| transition)
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::enums::v1::EventType;

    use super::*;
    use crate::engine::{Effect, test_support::*};

    #[test]
    fn writes_started_and_arms_the_timeout() {
        let (mut state, _) = started();
        let t = workflow_task_started(&mut state, 2, 1, "worker", "poll-1", T0 + 5).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowTaskStarted]);
        assert_eq!(ids(&t), [3]);
        assert_eq!(
            t.effects,
            [Effect::Timer(TimerTask::new(
                TimerKind::WorkflowTaskStartToClose,
                T0 + 5 + 10_000,
                2,
                1
            ))]
        );
        let task = state.pending_workflow_task().unwrap();
        assert_eq!(task.started_event_id, 3);
        assert_eq!(
            task.started_time,
            Some(crate::engine::time::timestamp(T0 + 5))
        );
    }

    #[test]
    fn stale_or_duplicate_is_not_found() {
        let (mut state, _) = started();
        for (scheduled, attempt) in [(1, 1), (2, 2)] {
            let before = state.clone();
            assert!(matches!(
                workflow_task_started(&mut state, scheduled, attempt, "w", "r", T0),
                Err(EngineError::NotFound(_))
            ));
            assert_eq!(state, before);
        }
        workflow_task_started(&mut state, 2, 1, "w", "r", T0).unwrap();
        assert!(matches!(
            workflow_task_started(&mut state, 2, 1, "w", "r", T0),
            Err(EngineError::NotFound(_))
        ));
    }
}
