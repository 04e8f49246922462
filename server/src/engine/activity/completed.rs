//! RespondActivityTaskCompleted: `ActivityTaskStarted` (written now, with the final attempt)
//! and `ActivityTaskCompleted` — buffered while a workflow task is started — and a workflow
//! task if none is pending.

use temporalio_protos::temporal::api::{
    common::v1::Payloads,
    history::v1::{ActivityTaskCompletedEventAttributes, history_event::Attributes},
};

use super::finish;
use crate::engine::{EngineError, MutableState, Transition, apply::transact};

/// Completes the started attempt `attempt` of activity `scheduled_event_id`. NotFound (and no
/// change) when the attempt is not the running one: stale or duplicate completions.
pub fn complete_activity(
    state: &mut MutableState,
    scheduled_event_id: i64,
    attempt: i32,
    result: Option<Payloads>,
    identity: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        let info = cx
            .state
            .started_activity(scheduled_event_id, attempt)?
            .clone();
        finish(cx, &info, |started_event_id| {
            Attributes::ActivityTaskCompletedEventAttributes(ActivityTaskCompletedEventAttributes {
                result,
                scheduled_event_id,
                started_event_id,
                identity: identity.to_string(),
                ..Default::default()
            })
        });
        Ok(())
    })
    .map(|(transition, ())| transition)
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{Effect, test_support::*};

    #[test]
    fn writes_started_then_completed_and_a_task() {
        let (mut state, sched) = activity_started(|_| {});
        let next = state.next_event_id();
        let t =
            complete_activity(&mut state, sched, 1, Some(payloads("ok")), "w2", T0 + 5).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ActivityTaskStarted,
                EventType::ActivityTaskCompleted,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert_eq!(ids(&t), [next, next + 1, next + 2]);
        let Some(A::ActivityTaskStartedEventAttributes(s)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!(
            (s.scheduled_event_id, s.attempt, s.identity.as_str()),
            (sched, 1, "w1")
        );
        let Some(A::ActivityTaskCompletedEventAttributes(c)) = &t.events[1].attributes else {
            panic!()
        };
        assert_eq!((c.scheduled_event_id, c.started_event_id), (sched, next));
        assert_eq!(c.identity, "w2");
        assert!(matches!(t.effects[..], [Effect::WorkflowTask { .. }]));
        assert!(state.pending_activity(sched).is_none());
    }

    #[test]
    fn second_completion_is_not_found_and_changes_nothing() {
        let (mut state, sched) = activity_started(|_| {});
        complete_activity(&mut state, sched, 1, None, "w", T0).unwrap();
        let before = state.encode_to_vec();
        assert!(matches!(
            complete_activity(&mut state, sched, 1, None, "w", T0),
            Err(EngineError::NotFound(_))
        ));
        assert_eq!(state.encode_to_vec(), before);
    }

    #[test]
    fn completion_during_a_started_task_is_buffered_with_fixed_ids() {
        let (mut state, sched) = activity_started(|_| {});
        crate::engine::signal(&mut state, &signal_req("s", ""), T0).unwrap();
        let task = state.pending_workflow_task().unwrap().clone();
        crate::engine::workflow_task_started(&mut state, task.scheduled_event_id, 1, "w", "r", T0)
            .unwrap();
        let t = complete_activity(&mut state, sched, 1, None, "w", T0).unwrap();
        assert!(t.is_empty());
        let started_id = task.scheduled_event_id + 1;
        let t = crate::engine::complete_workflow_task(
            &mut state,
            task.scheduled_event_id,
            started_id,
            1,
            &completed_req(vec![]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::ActivityTaskStarted,
                EventType::ActivityTaskCompleted,
                EventType::WorkflowTaskScheduled
            ]
        );
        let Some(A::ActivityTaskCompletedEventAttributes(c)) = &t.events[2].attributes else {
            panic!()
        };
        assert_eq!(c.started_event_id, t.events[1].event_id);
    }
}
