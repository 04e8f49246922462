//! RespondActivityTaskFailed: a retryable failure schedules the next attempt after its backoff
//! (no event); a final one writes `ActivityTaskStarted` + `ActivityTaskFailed(retry_state)`.

use temporalio_protos::temporal::api::{
    common::v1::Payloads,
    failure::v1::Failure,
    history::v1::{ActivityTaskFailedEventAttributes, history_event::Attributes},
};

use super::{finish, retry_or_final};
use crate::engine::{EngineError, MutableState, Transition, apply::transact};

/// Fails the started attempt `attempt` of activity `scheduled_event_id`. NotFound (and no
/// change) when the attempt is not the running one.
pub fn fail_activity(
    state: &mut MutableState,
    scheduled_event_id: i64,
    attempt: i32,
    failure: Option<Failure>,
    last_heartbeat_details: Option<Payloads>,
    identity: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        cx.state.started_activity(scheduled_event_id, attempt)?;
        let failure = failure.unwrap_or_else(|| Failure {
            message: "activity failed without a failure".into(),
            ..Default::default()
        });
        if let Some(info) = cx.state.activities.get_mut(&scheduled_event_id)
            && last_heartbeat_details.is_some()
        {
            info.heartbeat_details = last_heartbeat_details;
        }
        let Some(retry_state) = retry_or_final(cx, scheduled_event_id, &failure) else {
            return Ok(());
        };
        let info = cx
            .state
            .started_activity(scheduled_event_id, attempt)?
            .clone();
        finish(cx, &info, |started_event_id| {
            Attributes::ActivityTaskFailedEventAttributes(ActivityTaskFailedEventAttributes {
                failure: Some(failure),
                scheduled_event_id,
                started_event_id,
                identity: identity.to_string(),
                retry_state: retry_state as i32,
                ..Default::default()
            })
        });
        Ok(())
    })
    .map(|(transition, ())| transition)
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::{EventType, RetryState},
        history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{
        Effect, TimerKind, TimerTask, activity_task_started, complete_activity, fire_timer,
        test_support::*,
    };

    #[test]
    fn fail_twice_then_succeed() {
        let (mut state, sched) = activity_started(|_| {});
        // Attempt 1 fails at T0: retry after 1 s, no event.
        let t = fail_activity(
            &mut state,
            sched,
            1,
            Some(app_failure("a", false)),
            None,
            "w",
            T0,
        )
        .unwrap();
        assert!(t.events.is_empty());
        assert_eq!(
            t.effects,
            [Effect::Timer(TimerTask::new(
                TimerKind::ActivityRetry,
                T0 + 1_000,
                sched,
                2
            ))]
        );
        // Polling the new attempt before its backoff elapsed is stale.
        assert!(activity_task_started(&mut state, sched, 2, "w", "r", T0).is_err());
        let timer = TimerTask::new(TimerKind::ActivityRetry, T0 + 1_000, sched, 2);
        let t = fire_timer(&mut state, &timer, T0 + 1_000).unwrap();
        assert!(t.events.is_empty());
        assert!(matches!(
            t.effects[..],
            [Effect::ActivityTask { attempt: 2, scheduled_event_id, .. }] if scheduled_event_id == sched
        ));
        activity_task_started(&mut state, sched, 2, "w", "r", T0 + 1_000).unwrap();
        // Attempt 2 fails: retry after 2 s.
        let t = fail_activity(
            &mut state,
            sched,
            2,
            Some(app_failure("b", false)),
            None,
            "w",
            T0 + 1_500,
        )
        .unwrap();
        assert_eq!(
            t.effects,
            [Effect::Timer(TimerTask::new(
                TimerKind::ActivityRetry,
                T0 + 3_500,
                sched,
                3
            ))]
        );
        let timer = TimerTask::new(TimerKind::ActivityRetry, T0 + 3_500, sched, 3);
        fire_timer(&mut state, &timer, T0 + 3_500).unwrap();
        activity_task_started(&mut state, sched, 3, "w3", "r", T0 + 3_600).unwrap();
        let t = complete_activity(&mut state, sched, 3, None, "w3", T0 + 4_000).unwrap();
        let started: Vec<_> = t
            .events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(A::ActivityTaskStartedEventAttributes(s)) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].attempt, 3);
        assert_eq!(started[0].last_failure.as_ref().unwrap().message, "b");
    }

    #[test]
    fn non_retryable_fails_immediately() {
        let (mut state, sched) = activity_started(|_| {});
        let t = fail_activity(
            &mut state,
            sched,
            1,
            Some(app_failure("x", true)),
            None,
            "w",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ActivityTaskStarted,
                EventType::ActivityTaskFailed,
                EventType::WorkflowTaskScheduled
            ]
        );
        let Some(A::ActivityTaskFailedEventAttributes(f)) = &t.events[1].attributes else {
            panic!()
        };
        assert_eq!(f.retry_state, RetryState::NonRetryableFailure as i32);
        assert_eq!(f.started_event_id, t.events[0].event_id);
        assert_eq!(f.failure.as_ref().unwrap().message, "x");
    }

    #[test]
    fn maximum_attempts_reached() {
        let (mut state, sched) = activity_started(|a| {
            a.retry_policy = Some(temporalio_protos::temporal::api::common::v1::RetryPolicy {
                maximum_attempts: 1,
                ..Default::default()
            });
        });
        let t = fail_activity(
            &mut state,
            sched,
            1,
            Some(app_failure("x", false)),
            None,
            "w",
            T0,
        )
        .unwrap();
        let Some(A::ActivityTaskFailedEventAttributes(f)) = &t.events[1].attributes else {
            panic!()
        };
        assert_eq!(f.retry_state, RetryState::MaximumAttemptsReached as i32);
    }

    #[test]
    fn stale_failure_is_not_found() {
        let (mut state, sched) = activity_started(|_| {});
        let before = state.clone();
        assert!(matches!(
            fail_activity(&mut state, sched, 2, None, None, "w", T0),
            Err(EngineError::NotFound(_))
        ));
        assert_eq!(state, before);
    }
}
