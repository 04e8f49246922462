//! A worker picked up an activity attempt. No event (retries are invisible); the state
//! remembers who and when, and the attempt's start-to-close and heartbeat timers are armed.

use crate::engine::{
    EngineError, MutableState, TimerKind, TimerTask, Transition, apply::transact, time::timestamp,
};

/// Starts attempt `attempt` of activity `scheduled_event_id` for a poller. NotFound if that
/// attempt is not waiting to be picked up (stale queue entry, already started, retried).
pub fn activity_task_started(
    state: &mut MutableState,
    scheduled_event_id: i64,
    attempt: i32,
    identity: &str,
    request_id: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        let closed = cx.state.is_closed();
        let info = cx
            .state
            .activities
            .get_mut(&scheduled_event_id)
            .filter(|info| {
                !closed && info.attempt == attempt && !info.is_started() && !info.is_backing_off()
            })
            .ok_or_else(|| {
                EngineError::not_found(format!(
                    "activity task {scheduled_event_id} attempt {attempt} is not pending"
                ))
            })?;
        info.started_time = Some(timestamp(now));
        info.started_identity = identity.to_string();
        info.started_request_id = request_id.to_string();
        info.last_heartbeat_time = None;
        let start_to_close = info.start_to_close_ms();
        let heartbeat = info.heartbeat_ms();
        if start_to_close > 0 {
            cx.timer(TimerTask::new(
                TimerKind::ActivityStartToClose,
                now.saturating_add(start_to_close),
                scheduled_event_id,
                attempt,
            ));
        }
        if heartbeat > 0 {
            cx.timer(TimerTask::new(
                TimerKind::ActivityHeartbeat,
                now.saturating_add(heartbeat),
                scheduled_event_id,
                attempt,
            ));
        }
        Ok(())
    })
    .map(|(transition, ())| transition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Effect, test_support::*};

    #[test]
    fn arms_start_to_close_and_heartbeat_without_events() {
        let (mut state, sched) = activity_scheduled(|a| {
            a.heartbeat_timeout = Some(crate::engine::time::duration(2_000));
        });
        let t = activity_task_started(&mut state, sched, 1, "w1", "req", T0 + 1).unwrap();
        assert!(t.events.is_empty());
        assert_eq!(
            t.effects,
            [
                Effect::Timer(TimerTask::new(
                    TimerKind::ActivityStartToClose,
                    T0 + 1 + 10_000,
                    sched,
                    1
                )),
                Effect::Timer(TimerTask::new(
                    TimerKind::ActivityHeartbeat,
                    T0 + 1 + 2_000,
                    sched,
                    1
                )),
            ]
        );
        let info = state.pending_activity(sched).unwrap();
        assert_eq!(info.started_time, Some(timestamp(T0 + 1)));
        assert_eq!(info.started_identity, "w1");
    }

    #[test]
    fn twice_or_wrong_attempt_is_not_found() {
        let (mut state, sched) = activity_scheduled(|_| {});
        let before = state.clone();
        assert!(matches!(
            activity_task_started(&mut state, sched, 2, "w", "r", T0),
            Err(EngineError::NotFound(_))
        ));
        assert!(matches!(
            activity_task_started(&mut state, sched + 100, 1, "w", "r", T0),
            Err(EngineError::NotFound(_))
        ));
        assert_eq!(state, before);
        activity_task_started(&mut state, sched, 1, "w", "r", T0).unwrap();
        assert!(activity_task_started(&mut state, sched, 1, "w", "r", T0).is_err());
    }
}
