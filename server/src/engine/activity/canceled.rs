//! RespondActivityTaskCanceled: valid only after the workflow requested the cancellation;
//! writes `ActivityTaskStarted` + `ActivityTaskCanceled` and a workflow task.

use temporalio_protos::temporal::api::{
    common::v1::Payloads,
    history::v1::{ActivityTaskCanceledEventAttributes, history_event::Attributes},
};

use super::finish;
use crate::engine::{EngineError, MutableState, Transition, apply::transact};

/// Reports that the started attempt `attempt` of activity `scheduled_event_id` honoured a
/// cancellation request. NotFound when the attempt is not the running one; InvalidArgument
/// when no cancellation was requested.
pub fn cancel_activity(
    state: &mut MutableState,
    scheduled_event_id: i64,
    attempt: i32,
    details: Option<Payloads>,
    identity: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        let info = cx
            .state
            .started_activity(scheduled_event_id, attempt)?
            .clone();
        if !info.cancel_requested {
            return Err(EngineError::invalid(
                "unable to mark the activity as canceled: the workflow did not request its \
                 cancellation",
            ));
        }
        let latest_cancel_requested_event_id = info.cancel_requested_event_id;
        finish(cx, &info, |started_event_id| {
            Attributes::ActivityTaskCanceledEventAttributes(ActivityTaskCanceledEventAttributes {
                details,
                latest_cancel_requested_event_id,
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
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{complete_workflow_task, record_heartbeat, test_support::*};

    #[test]
    fn cancel_after_request() {
        let (mut state, sched) = activity_started(|_| {});
        assert!(matches!(
            cancel_activity(&mut state, sched, 1, None, "w", T0),
            Err(EngineError::InvalidArgument(_))
        ));
        // The workflow asks for the cancellation.
        let (s, st) = run_task(&mut state);
        let t = complete_workflow_task(
            &mut state,
            s,
            st,
            1,
            &completed_req(vec![cancel_activity_cmd(sched)]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::ActivityTaskCancelRequested
            ]
        );
        let requested_id = t.events[1].event_id;
        let (_, cancel) = record_heartbeat(&mut state, sched, 1, None, T0).unwrap();
        assert!(cancel);
        let t = cancel_activity(&mut state, sched, 1, Some(payloads("bye")), "w", T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ActivityTaskStarted,
                EventType::ActivityTaskCanceled,
                EventType::WorkflowTaskScheduled
            ]
        );
        let Some(A::ActivityTaskCanceledEventAttributes(c)) = &t.events[1].attributes else {
            panic!()
        };
        assert_eq!(c.latest_cancel_requested_event_id, requested_id);
        assert_eq!(c.started_event_id, t.events[0].event_id);
    }
}
