//! `CancelTimer` → `TimerCanceled`. A timer whose `TimerFired` is still buffered (it fired
//! while this task ran) is canceled too: the buffered event is dropped, as Temporal does.

use temporalio_protos::temporal::api::{
    command::v1::CancelTimerCommandAttributes,
    enums::v1::WorkflowTaskFailedCause as Cause,
    history::v1::{TimerCanceledEventAttributes, history_event::Attributes},
};

use super::CommandContext;
use crate::engine::{EngineError, apply::Apply};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &CancelTimerCommandAttributes,
) -> Result<(), EngineError> {
    let started_event_id = if let Some(timer) = cx.state.timers.remove(&a.timer_id) {
        timer.started_event_id
    } else if let Some(started) = take_buffered_fire(cx, &a.timer_id) {
        started
    } else {
        return Err(EngineError::rejected(
            Cause::BadCancelTimerAttributes,
            format!("CancelTimer: no pending timer with id {:?}", a.timer_id),
        ));
    };
    cx.append(Attributes::TimerCanceledEventAttributes(
        TimerCanceledEventAttributes {
            timer_id: a.timer_id.clone(),
            started_event_id,
            workflow_task_completed_event_id: ctx.completed_event_id,
            identity: ctx.identity.to_string(),
        },
    ));
    Ok(())
}

/// Removes a buffered `TimerFired` of `timer_id`; returns its started event id.
fn take_buffered_fire(cx: &mut Apply<'_>, timer_id: &str) -> Option<i64> {
    let buffered = &mut cx.state.buffered_events;
    let index = buffered.iter().position(|event| {
        matches!(&event.attributes, Some(Attributes::TimerFiredEventAttributes(f)) if f.timer_id == timer_id)
    })?;
    match buffered.remove(index).attributes {
        Some(Attributes::TimerFiredEventAttributes(fired)) => Some(fired.started_event_id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::enums::v1::EventType;

    use super::*;
    use crate::engine::{Effect, complete_workflow_task, fire_timer, test_support::*};

    #[test]
    fn cancels_a_pending_timer() {
        let mut state = task_in_flight();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![start_timer_cmd("t1", 1_000)]),
            "run-2",
            T0,
        )
        .unwrap();
        let Effect::Timer(timer) = t.effects[0].clone() else {
            panic!()
        };
        let (s, st) = run_task(&mut state);
        let t = complete_workflow_task(
            &mut state,
            s,
            st,
            1,
            &completed_req(vec![cancel_timer_cmd("t1")]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [EventType::WorkflowTaskCompleted, EventType::TimerCanceled]
        );
        // Its durable timer is now stale.
        assert!(
            fire_timer(&mut state, &timer, T0 + 1_000)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn cancels_a_timer_that_fired_during_the_task() {
        let mut state = task_in_flight();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![start_timer_cmd("t1", 1_000)]),
            "run-2",
            T0,
        )
        .unwrap();
        let Effect::Timer(timer) = t.effects[0].clone() else {
            panic!()
        };
        let (s, st) = run_task(&mut state);
        fire_timer(&mut state, &timer, T0 + 1_000).unwrap();
        let t = complete_workflow_task(
            &mut state,
            s,
            st,
            1,
            &completed_req(vec![cancel_timer_cmd("t1")]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [EventType::WorkflowTaskCompleted, EventType::TimerCanceled]
        );
        assert!(state.buffered_events.is_empty());
    }

    #[test]
    fn unknown_timer_is_rejected() {
        let mut state = task_in_flight();
        assert!(matches!(
            complete_workflow_task(
                &mut state,
                2,
                3,
                1,
                &completed_req(vec![cancel_timer_cmd("nope")]),
                "run-2",
                T0
            ),
            Err(EngineError::CommandRejected {
                cause: Cause::BadCancelTimerAttributes,
                ..
            })
        ));
    }
}
