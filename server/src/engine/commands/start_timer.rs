//! `StartTimer` → `TimerStarted`, and a durable `UserTimer`.

use temporalio_protos::temporal::api::{
    command::v1::StartTimerCommandAttributes,
    enums::v1::WorkflowTaskFailedCause as Cause,
    history::v1::{TimerStartedEventAttributes, history_event::Attributes},
};

use super::CommandContext;
use crate::engine::{
    EngineError, TimerKind, TimerTask, apply::Apply, state::TimerInfo, time::duration_ms,
};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &StartTimerCommandAttributes,
) -> Result<(), EngineError> {
    let bad = |message: String| EngineError::rejected(Cause::BadStartTimerAttributes, message);
    if a.timer_id.is_empty() {
        return Err(bad("StartTimer: timer_id is not set".into()));
    }
    let delay = duration_ms(a.start_to_fire_timeout.as_ref(), "start_to_fire_timeout")
        .map_err(|e| bad(format!("StartTimer: {e}")))?;
    if delay <= 0 {
        return Err(bad(
            "StartTimer: start_to_fire_timeout must be positive".into()
        ));
    }
    if cx.state.timers.contains_key(&a.timer_id) {
        return Err(EngineError::rejected(
            Cause::StartTimerDuplicateId,
            format!(
                "timer id {:?} is already in use by a pending timer",
                a.timer_id
            ),
        ));
    }
    let started_event_id = cx.append(Attributes::TimerStartedEventAttributes(
        TimerStartedEventAttributes {
            timer_id: a.timer_id.clone(),
            start_to_fire_timeout: a.start_to_fire_timeout,
            workflow_task_completed_event_id: ctx.completed_event_id,
        },
    ));
    let fire_at = cx.now.saturating_add(delay);
    cx.state.timers.insert(
        a.timer_id.clone(),
        TimerInfo {
            timer_id: a.timer_id.clone(),
            started_event_id,
            fire_at_ms: fire_at,
        },
    );
    let mut timer = TimerTask::new(TimerKind::UserTimer, fire_at, started_event_id, 0);
    timer.timer_id = a.timer_id.clone();
    cx.timer(timer);
    Ok(())
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{Effect, complete_workflow_task, test_support::*};

    #[test]
    fn starts_a_timer() {
        let mut state = task_in_flight();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![start_timer_cmd("t1", 2_500)]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [EventType::WorkflowTaskCompleted, EventType::TimerStarted]
        );
        let Some(A::TimerStartedEventAttributes(a)) = &t.events[1].attributes else {
            panic!()
        };
        assert_eq!(
            (a.timer_id.as_str(), a.workflow_task_completed_event_id),
            ("t1", 4)
        );
        let Effect::Timer(timer) = &t.effects[0] else {
            panic!()
        };
        assert_eq!(
            (
                timer.kind(),
                timer.fire_at,
                timer.event_id,
                timer.timer_id.as_str()
            ),
            (TimerKind::UserTimer, T0 + 2_500, 5, "t1")
        );
    }

    #[test]
    fn duplicate_and_bad_timers_are_rejected() {
        let mut state = task_in_flight();
        let cmds = vec![start_timer_cmd("t1", 1_000), start_timer_cmd("t1", 1_000)];
        assert!(matches!(
            complete_workflow_task(&mut state, 2, 3, 1, &completed_req(cmds), "run-2", T0),
            Err(EngineError::CommandRejected {
                cause: Cause::StartTimerDuplicateId,
                ..
            })
        ));
        assert!(matches!(
            complete_workflow_task(
                &mut state,
                2,
                3,
                1,
                &completed_req(vec![start_timer_cmd("t1", 0)]),
                "run-2",
                T0
            ),
            Err(EngineError::CommandRejected {
                cause: Cause::BadStartTimerAttributes,
                ..
            })
        ));
    }
}
