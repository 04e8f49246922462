//! A durable timer fired. Each kind is checked against the state first: a timer that no longer
//! applies (the run closed, the task or attempt moved on, the user timer was canceled, a
//! heartbeat arrived since) produces an empty transition and the caller just drops it.

use temporalio_protos::temporal::api::{
    enums::v1::{RetryState, TimeoutType, WorkflowExecutionStatus},
    failure::v1::{Failure, TimeoutFailureInfo, failure::FailureInfo},
    history::v1::{
        TimerFiredEventAttributes, WorkflowExecutionTimedOutEventAttributes,
        history_event::Attributes,
    },
};

use super::{
    EngineError, MutableState, NewRun, TimerKind, TimerTask, Transition,
    activity::on_activity_timer,
    apply::{Apply, transact},
    retry_workflow::after_failure,
    workflow_task::{on_schedule_to_start_timeout, on_start_to_close_timeout},
};

/// Fires `timer` at `now` (at or after `timer.fire_at`). For a run timeout that would start
/// the next run of a retried or cron chain, use [`fire_timer_starting`].
pub fn fire_timer(
    state: &mut MutableState,
    timer: &TimerTask,
    now: i64,
) -> Result<Transition, EngineError> {
    fire_timer_starting(state, timer, "", now)
}

/// [`fire_timer`], with `new_run_id` for the next run a run timeout may start (retry policy,
/// cron schedule): the caller picks it, the engine draws no randomness.
pub fn fire_timer_starting(
    state: &mut MutableState,
    timer: &TimerTask,
    new_run_id: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        if cx.state.is_closed() {
            return Ok(());
        }
        match timer.kind() {
            TimerKind::UserTimer => fire_user_timer(cx, timer),
            TimerKind::WorkflowTaskStartToClose => on_start_to_close_timeout(cx, timer),
            TimerKind::WorkflowTaskScheduleToStart => on_schedule_to_start_timeout(cx, timer),
            kind @ (TimerKind::ActivityScheduleToStart
            | TimerKind::ActivityStartToClose
            | TimerKind::ActivityHeartbeat
            | TimerKind::ActivityScheduleToClose
            | TimerKind::ActivityRetry) => on_activity_timer(cx, timer, kind),
            TimerKind::WorkflowRunTimeout => run_timed_out(cx, new_run_id)?,
            TimerKind::WorkflowExecutionTimeout => {
                timed_out(cx, RetryState::Timeout, None);
            }
            TimerKind::WorkflowBackoff => {
                if cx.state.first_task_backoff {
                    // A speculative task (an update admitted during the backoff) becomes the
                    // first real one: dropping it later must not leave the run without a task.
                    cx.materialize_speculative();
                    cx.schedule_workflow_task(1);
                }
            }
            TimerKind::Unspecified | TimerKind::Retention => {}
        }
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// The run timeout: the run closes TimedOut, followed by the next run when its retry policy
/// or cron schedule asks for one (unless the execution deadline has passed too).
fn run_timed_out(cx: &mut Apply<'_>, new_run_id: &str) -> Result<(), EngineError> {
    let expiration = cx.state.execution_expiration_ms;
    if expiration > 0 && cx.now >= expiration {
        timed_out(cx, RetryState::Timeout, None);
        return Ok(());
    }
    let failure = Failure {
        message: "workflow timeout".into(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: TimeoutType::StartToClose as i32,
            last_heartbeat_details: None,
        })),
        ..Default::default()
    };
    let (retry_state, next) = after_failure(cx.state, &failure, new_run_id, cx.now)?;
    timed_out(cx, retry_state, next);
    Ok(())
}

fn timed_out(cx: &mut Apply<'_>, retry_state: RetryState, next: Option<NewRun>) {
    let new_execution_run_id = next.as_ref().map(|n| n.run_id.clone()).unwrap_or_default();
    cx.force_close(
        WorkflowExecutionStatus::TimedOut,
        Attributes::WorkflowExecutionTimedOutEventAttributes(
            WorkflowExecutionTimedOutEventAttributes {
                retry_state: retry_state as i32,
                new_execution_run_id,
            },
        ),
    );
    if let Some(next) = next {
        cx.continue_with(next);
    }
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
