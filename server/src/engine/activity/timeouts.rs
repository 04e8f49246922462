//! The activity timers. Start-to-close and heartbeat timeouts are retryable (a new attempt,
//! no event); schedule-to-start and schedule-to-close are final. A final timeout writes
//! `ActivityTaskStarted` (only if an attempt is running) + `ActivityTaskTimedOut` whose failure
//! is `TimeoutFailureInfo { timeout_type, last_heartbeat_details }` caused by the previous
//! attempt's failure.

use temporalio_protos::temporal::api::{
    enums::v1::{RetryState, TimeoutType},
    failure::v1::{Failure, TimeoutFailureInfo, failure::FailureInfo},
    history::v1::{ActivityTaskTimedOutEventAttributes, history_event::Attributes},
};

use super::{dispatch, finish, retry_or_final};
use crate::engine::{ActivityInfo, TimerKind, TimerTask, apply::Apply, retry::timeout_name};

/// Handles an activity timer; one that no longer applies is ignored.
pub(crate) fn on_activity_timer(cx: &mut Apply<'_>, timer: &TimerTask, kind: TimerKind) {
    let Some(info) = cx.state.activities.get(&timer.event_id).cloned() else {
        return;
    };
    let this_attempt = info.attempt == timer.attempt;
    match kind {
        TimerKind::ActivityScheduleToStart
            if this_attempt && !info.is_started() && !info.is_backing_off() =>
        {
            final_timeout(cx, &info, TimeoutType::ScheduleToStart, RetryState::Timeout);
        }
        TimerKind::ActivityStartToClose if this_attempt && info.is_started() => {
            retryable_timeout(cx, &info, TimeoutType::StartToClose);
        }
        TimerKind::ActivityHeartbeat
            if this_attempt && info.is_started() && info.heartbeat_ms() > 0 =>
        {
            let last = info.started_ms().max(info.last_heartbeat_ms());
            let deadline = last.saturating_add(info.heartbeat_ms());
            if deadline > cx.now {
                // A heartbeat arrived since the timer was armed: wait for the new deadline.
                cx.timer(TimerTask::new(
                    TimerKind::ActivityHeartbeat,
                    deadline,
                    info.scheduled_event_id,
                    info.attempt,
                ));
            } else {
                retryable_timeout(cx, &info, TimeoutType::Heartbeat);
            }
        }
        TimerKind::ActivityScheduleToClose => {
            final_timeout(cx, &info, TimeoutType::ScheduleToClose, RetryState::Timeout);
        }
        TimerKind::ActivityRetry if this_attempt && info.is_backing_off() => {
            dispatch(cx, info.scheduled_event_id);
        }
        _ => {}
    }
}

fn retryable_timeout(cx: &mut Apply<'_>, info: &ActivityInfo, timeout_type: TimeoutType) {
    let failure = timeout_failure(info, timeout_type);
    if let Some(retry_state) = retry_or_final(cx, info.scheduled_event_id, &failure) {
        // No retry because the schedule-to-close deadline would pass first: report it as such.
        let timeout_type = if retry_state == RetryState::Timeout {
            TimeoutType::ScheduleToClose
        } else {
            timeout_type
        };
        final_timeout(cx, info, timeout_type, retry_state);
    }
}

fn final_timeout(
    cx: &mut Apply<'_>,
    info: &ActivityInfo,
    timeout_type: TimeoutType,
    retry_state: RetryState,
) {
    let mut failure = timeout_failure(info, timeout_type);
    failure.cause = info.last_failure.clone().map(Box::new);
    let scheduled_event_id = info.scheduled_event_id;
    finish(cx, info, |started_event_id| {
        Attributes::ActivityTaskTimedOutEventAttributes(ActivityTaskTimedOutEventAttributes {
            failure: Some(failure),
            scheduled_event_id,
            started_event_id,
            retry_state: retry_state as i32,
        })
    });
}

fn timeout_failure(info: &ActivityInfo, timeout_type: TimeoutType) -> Failure {
    Failure {
        message: format!("activity {} timeout", timeout_name(timeout_type)),
        source: "Lockstep".into(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: timeout_type as i32,
            last_heartbeat_details: info.heartbeat_details.clone(),
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{
        Effect, activity_task_started, fire_timer, record_heartbeat, test_support::*,
        time::duration,
    };

    fn timer(kind: TimerKind, at: i64, sched: i64, attempt: i32) -> TimerTask {
        TimerTask::new(kind, at, sched, attempt)
    }

    #[test]
    fn start_to_close_timeout_is_retried() {
        let (mut state, sched) = activity_started(|_| {});
        let t = fire_timer(
            &mut state,
            &timer(TimerKind::ActivityStartToClose, T0 + 10_000, sched, 1),
            T0 + 10_000,
        )
        .unwrap();
        assert!(t.events.is_empty());
        assert_eq!(
            t.effects,
            [Effect::Timer(timer(
                TimerKind::ActivityRetry,
                T0 + 11_000,
                sched,
                2
            ))]
        );
        let info = state.pending_activity(sched).unwrap();
        assert_eq!(info.attempt, 2);
        let last = info.last_failure.as_ref().unwrap();
        assert_eq!(last.message, "activity StartToClose timeout");
        // The same timer again is stale.
        let t = fire_timer(
            &mut state,
            &timer(TimerKind::ActivityStartToClose, T0 + 10_000, sched, 1),
            T0 + 10_001,
        )
        .unwrap();
        assert!(t.is_empty());
    }

    #[test]
    fn heartbeat_timeout_carries_details_to_next_attempt() {
        let (mut state, sched) = activity_started(|a| a.heartbeat_timeout = Some(duration(2_000)));
        record_heartbeat(&mut state, sched, 1, Some(payloads("progress")), T0 + 1_500).unwrap();
        // Fires at its original deadline: a heartbeat came since, so it re-arms.
        let t = fire_timer(
            &mut state,
            &timer(TimerKind::ActivityHeartbeat, T0 + 2_000, sched, 1),
            T0 + 2_000,
        )
        .unwrap();
        assert_eq!(
            t.effects,
            [Effect::Timer(timer(
                TimerKind::ActivityHeartbeat,
                T0 + 3_500,
                sched,
                1
            ))]
        );
        let t = fire_timer(
            &mut state,
            &timer(TimerKind::ActivityHeartbeat, T0 + 3_500, sched, 1),
            T0 + 3_500,
        )
        .unwrap();
        assert!(t.events.is_empty());
        fire_timer(
            &mut state,
            &timer(TimerKind::ActivityRetry, T0 + 4_500, sched, 2),
            T0 + 4_500,
        )
        .unwrap();
        activity_task_started(&mut state, sched, 2, "w", "r", T0 + 4_600).unwrap();
        let info = state.pending_activity(sched).unwrap();
        assert_eq!(info.attempt, 2);
        assert_eq!(info.heartbeat_details, Some(payloads("progress")));
        let poll = state.activity_task(sched).unwrap();
        assert_eq!(poll.heartbeat_details, Some(payloads("progress")));
        assert_eq!(poll.attempt, 2);
    }

    #[test]
    fn schedule_to_start_is_final_without_started_event() {
        let (mut state, sched) = activity_scheduled(|a| {
            a.schedule_to_start_timeout = Some(duration(1_000));
            a.schedule_to_close_timeout = Some(duration(60_000));
        });
        let t = fire_timer(
            &mut state,
            &timer(TimerKind::ActivityScheduleToStart, T0 + 1_000, sched, 1),
            T0 + 1_000,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ActivityTaskTimedOut,
                EventType::WorkflowTaskScheduled
            ]
        );
        let Some(A::ActivityTaskTimedOutEventAttributes(a)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!(a.started_event_id, 0);
        assert_eq!(a.retry_state, RetryState::Timeout as i32);
        let Some(FailureInfo::TimeoutFailureInfo(info)) = &a.failure.as_ref().unwrap().failure_info
        else {
            panic!()
        };
        assert_eq!(info.timeout_type, TimeoutType::ScheduleToStart as i32);
    }

    #[test]
    fn schedule_to_close_after_a_retry_has_the_previous_failure_as_cause() {
        let (mut state, sched) = activity_started(|a| {
            a.schedule_to_close_timeout = Some(duration(30_000));
            a.start_to_close_timeout = Some(duration(5_000));
        });
        fire_timer(
            &mut state,
            &timer(TimerKind::ActivityStartToClose, T0 + 5_000, sched, 1),
            T0 + 5_000,
        )
        .unwrap();
        fire_timer(
            &mut state,
            &timer(TimerKind::ActivityRetry, T0 + 6_000, sched, 2),
            T0 + 6_000,
        )
        .unwrap();
        activity_task_started(&mut state, sched, 2, "w", "r", T0 + 6_000).unwrap();
        let t = fire_timer(
            &mut state,
            &timer(TimerKind::ActivityScheduleToClose, T0 + 30_000, sched, 0),
            T0 + 30_000,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ActivityTaskStarted,
                EventType::ActivityTaskTimedOut,
                EventType::WorkflowTaskScheduled
            ]
        );
        let Some(A::ActivityTaskTimedOutEventAttributes(a)) = &t.events[1].attributes else {
            panic!()
        };
        let failure = a.failure.as_ref().unwrap();
        assert_eq!(failure.message, "activity ScheduleToClose timeout");
        assert_eq!(
            failure.cause.as_ref().unwrap().message,
            "activity StartToClose timeout"
        );
        assert_eq!(a.started_event_id, t.events[0].event_id);
    }
}
