//! `RequestCancelActivityTask` → `ActivityTaskCancelRequested`. An activity no worker holds
//! (scheduled, or waiting for a retry) is canceled at once (`ActivityTaskCanceled` + a new
//! workflow task); a started one learns about it on its next heartbeat. If the activity's
//! final event is already buffered, only the request is recorded (the outcome follows).

use temporalio_protos::temporal::api::{
    command::v1::RequestCancelActivityTaskCommandAttributes,
    enums::v1::WorkflowTaskFailedCause as Cause,
    history::v1::{
        ActivityTaskCancelRequestedEventAttributes, ActivityTaskCanceledEventAttributes,
        history_event::Attributes,
    },
};

use super::CommandContext;
use crate::engine::{EngineError, apply::Apply, events::activity_final_scheduled_id};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &RequestCancelActivityTaskCommandAttributes,
) -> Result<(), EngineError> {
    let scheduled_event_id = a.scheduled_event_id;
    let bad = |message: &str| {
        EngineError::rejected(
            Cause::BadRequestCancelActivityAttributes,
            format!("RequestCancelActivityTask for activity {scheduled_event_id}: {message}"),
        )
    };
    let info = cx.state.activities.get(&scheduled_event_id).cloned();
    let finished_in_buffer = || {
        cx.state.buffered_events.iter().any(|event| {
            event
                .attributes
                .as_ref()
                .and_then(activity_final_scheduled_id)
                == Some(scheduled_event_id)
        })
    };
    match &info {
        Some(info) if info.cancel_requested => return Err(bad("cancellation already requested")),
        Some(_) => {}
        None if finished_in_buffer() => {}
        None => return Err(bad("no such pending activity")),
    }
    let requested_id = cx.append(Attributes::ActivityTaskCancelRequestedEventAttributes(
        ActivityTaskCancelRequestedEventAttributes {
            scheduled_event_id,
            workflow_task_completed_event_id: ctx.completed_event_id,
        },
    ));
    let Some(info) = info else { return Ok(()) };
    if info.is_started() {
        if let Some(pending) = cx.state.activities.get_mut(&scheduled_event_id) {
            pending.cancel_requested = true;
            pending.cancel_requested_event_id = requested_id;
        }
    } else {
        cx.state.activities.remove(&scheduled_event_id);
        cx.append(Attributes::ActivityTaskCanceledEventAttributes(
            ActivityTaskCanceledEventAttributes {
                latest_cancel_requested_event_id: requested_id,
                scheduled_event_id,
                identity: ctx.identity.to_string(),
                ..Default::default()
            },
        ));
        ctx.new_task = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::enums::v1::EventType;

    use super::*;
    use crate::engine::{Effect, complete_activity, complete_workflow_task, test_support::*};

    #[test]
    fn not_started_is_canceled_at_once() {
        let (mut state, sched) = activity_scheduled(|_| {});
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
                EventType::ActivityTaskCancelRequested,
                EventType::ActivityTaskCanceled,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert!(matches!(t.effects[..], [Effect::WorkflowTask { .. }]));
        assert!(state.pending_activity(sched).is_none());
    }

    #[test]
    fn started_is_flagged_for_the_heartbeat() {
        let (mut state, sched) = activity_started(|_| {});
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
        let info = state.pending_activity(sched).unwrap();
        assert!(info.cancel_requested);
        assert_eq!(info.cancel_requested_event_id, t.events[1].event_id);
    }

    #[test]
    fn already_finished_in_buffer_records_request_only() {
        let (mut state, sched) = activity_started(|_| {});
        let (s, st) = run_task(&mut state);
        complete_activity(&mut state, sched, 1, None, "w", T0).unwrap();
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
                EventType::ActivityTaskCancelRequested,
                EventType::ActivityTaskStarted,
                EventType::ActivityTaskCompleted,
                EventType::WorkflowTaskScheduled
            ]
        );
    }

    #[test]
    fn unknown_activity_is_rejected() {
        let mut state = task_in_flight();
        let err = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![cancel_activity_cmd(99)]),
            "run-2",
            T0,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            EngineError::CommandRejected {
                cause: Cause::BadRequestCancelActivityAttributes,
                ..
            }
        ));
    }
}
