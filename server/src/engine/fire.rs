//! A durable timer fired. Each kind is checked against the state first: a timer that no longer
//! applies (the run closed, the task or attempt moved on, the user timer was canceled, a
//! heartbeat arrived since) produces an empty transition and the caller just drops it.

use temporalio_protos::temporal::api::{
    enums::v1::{RetryState, WorkflowExecutionStatus},
    history::v1::{
        TimerFiredEventAttributes, WorkflowExecutionTimedOutEventAttributes,
        history_event::Attributes,
    },
};

use super::{
    EngineError, MutableState, TimerKind, TimerTask, Transition,
    activity::on_activity_timer,
    apply::{Apply, transact},
    workflow_task::on_start_to_close_timeout,
};

/// Fires `timer` at `now` (at or after `timer.fire_at`).
pub fn fire_timer(
    state: &mut MutableState,
    timer: &TimerTask,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        if cx.state.is_closed() {
            return Ok(());
        }
        match timer.kind() {
            TimerKind::UserTimer => fire_user_timer(cx, timer),
            TimerKind::WorkflowTaskStartToClose => on_start_to_close_timeout(cx, timer),
            kind @ (TimerKind::ActivityScheduleToStart
            | TimerKind::ActivityStartToClose
            | TimerKind::ActivityHeartbeat
            | TimerKind::ActivityScheduleToClose
            | TimerKind::ActivityRetry) => on_activity_timer(cx, timer, kind),
            TimerKind::WorkflowRunTimeout | TimerKind::WorkflowExecutionTimeout => {
                cx.force_close(
                    WorkflowExecutionStatus::TimedOut,
                    Attributes::WorkflowExecutionTimedOutEventAttributes(
                        WorkflowExecutionTimedOutEventAttributes {
                            retry_state: RetryState::Timeout as i32,
                            new_execution_run_id: String::new(),
                        },
                    ),
                );
            }
            TimerKind::Unspecified | TimerKind::Retention => {}
        }
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// `TimerFired` (buffered while a task is started) and a workflow task.
fn fire_user_timer(cx: &mut Apply<'_>, timer: &TimerTask) {
    let pending = cx
        .state
        .timers
        .get(&timer.timer_id)
        .is_some_and(|t| t.started_event_id == timer.event_id);
    if !pending {
        return;
    }
    cx.state.timers.remove(&timer.timer_id);
    cx.record(Attributes::TimerFiredEventAttributes(
        TimerFiredEventAttributes {
            timer_id: timer.timer_id.clone(),
            started_event_id: timer.event_id,
        },
    ));
    cx.ensure_workflow_task();
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::{EventType, WorkflowTaskFailedCause},
        history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{Effect, complete_workflow_task, test_support::*};

    fn user_timer_state() -> (MutableState, TimerTask) {
        let mut state = task_in_flight();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![start_timer_cmd("t1", 5_000)]),
            "run-2",
            T0,
        )
        .unwrap();
        let Some(Effect::Timer(timer)) = t.effects.first().cloned() else {
            panic!("{t:?}")
        };
        (state, timer)
    }

    #[test]
    fn user_timer_fires_once() {
        let (mut state, timer) = user_timer_state();
        assert_eq!(
            (timer.kind(), timer.fire_at, timer.event_id),
            (TimerKind::UserTimer, T0 + 5_000, 5)
        );
        let t = fire_timer(&mut state, &timer, T0 + 5_000).unwrap();
        assert_eq!(
            types(&t),
            [EventType::TimerFired, EventType::WorkflowTaskScheduled]
        );
        let Some(A::TimerFiredEventAttributes(a)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!((a.timer_id.as_str(), a.started_event_id), ("t1", 5));
        assert!(
            fire_timer(&mut state, &timer, T0 + 5_000)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn run_timeout_closes_and_fails_a_started_task() {
        let mut state = task_in_flight();
        crate::engine::signal(&mut state, &signal_req("s", ""), T0).unwrap();
        let timer = TimerTask::new(TimerKind::WorkflowRunTimeout, T0 + 1, 0, 0);
        let t = fire_timer(&mut state, &timer, T0 + 1).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskFailed,
                EventType::WorkflowExecutionSignaled,
                EventType::WorkflowExecutionTimedOut
            ]
        );
        let Some(A::WorkflowTaskFailedEventAttributes(f)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!(f.cause, WorkflowTaskFailedCause::ForceCloseCommand as i32);
        assert_eq!(t.effects, [Effect::Closed]);
        assert!(state.is_closed());
        assert_eq!(state.status(), WorkflowExecutionStatus::TimedOut);
        assert!(fire_timer(&mut state, &timer, T0 + 2).unwrap().is_empty());
    }

    #[test]
    fn execution_timeout_with_idle_run() {
        let mut state = idle_state();
        let timer = TimerTask::new(TimerKind::WorkflowExecutionTimeout, T0, 0, 0);
        let t = fire_timer(&mut state, &timer, T0).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowExecutionTimedOut]);
        assert!(state.pending_workflow_task().is_none());
    }
}
