//! A workflow task attempt ended without completing: the worker reported a failure, the server
//! rejected its commands, or (see `timed_out.rs`) it timed out. The outcome event is followed
//! by the buffered events and the next attempt's `WorkflowTaskScheduled`.
//!
//! The attempt counter goes up by one, except when new events were flushed with the failure:
//! the next task then carries new information and starts again at attempt 1 (Temporal's rule;
//! it also makes an `UNHANDLED_COMMAND` retry an attempt-1 task, which the SDK reports on).

use temporalio_protos::temporal::api::{
    enums::v1::WorkflowTaskFailedCause,
    history::v1::{WorkflowTaskFailedEventAttributes, history_event::Attributes},
    workflowservice::v1::RespondWorkflowTaskFailedRequest,
};

use crate::engine::{
    EngineError, MutableState, Transition,
    apply::{Apply, SERVER_IDENTITY, server_failure, transact},
};

/// RespondWorkflowTaskFailed for the started task identified by the token's ids.
pub fn fail_workflow_task(
    state: &mut MutableState,
    scheduled_event_id: i64,
    started_event_id: i64,
    attempt: i32,
    req: &RespondWorkflowTaskFailedRequest,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        cx.state
            .started_task(scheduled_event_id, started_event_id, attempt)?;
        #[allow(deprecated)] // Still sent by older SDKs; Temporal records it.
        let binary_checksum = req.binary_checksum.clone();
        #[allow(deprecated)]
        let attributes = WorkflowTaskFailedEventAttributes {
            scheduled_event_id,
            started_event_id,
            cause: req.cause,
            failure: req.failure.clone(),
            identity: req.identity.clone(),
            binary_checksum,
            ..Default::default()
        };
        end_attempt(
            cx,
            Attributes::WorkflowTaskFailedEventAttributes(attributes),
            attempt,
        );
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// Fails the started workflow task on the server's behalf, after its commands were rejected
/// with [`EngineError::CommandRejected`]. NotFound if no task is started.
pub fn fail_workflow_task_by_server(
    state: &mut MutableState,
    cause: WorkflowTaskFailedCause,
    message: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        let task = match &cx.state.workflow_task {
            Some(task) if task.is_started() && !cx.state.is_closed() => task.clone(),
            _ => return Err(EngineError::not_found("no workflow task is started")),
        };
        let attributes = WorkflowTaskFailedEventAttributes {
            scheduled_event_id: task.scheduled_event_id,
            started_event_id: task.started_event_id,
            cause: cause as i32,
            failure: Some(server_failure(message)),
            identity: SERVER_IDENTITY.to_string(),
            ..Default::default()
        };
        end_attempt(
            cx,
            Attributes::WorkflowTaskFailedEventAttributes(attributes),
            task.attempt,
        );
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// Writes the attempt's outcome (failed or timed out), the buffered events, and schedules the
/// next attempt. A run that was sticky loses its stickiness, and its next task (on the normal
/// queue, with the full history) keeps the attempt number: as in Temporal, a worker's cache is
/// given one fresh try before the task counts as failing again.
pub(crate) fn end_attempt(cx: &mut Apply<'_>, outcome: Attributes, attempt: i32) {
    // A speculative task that fails or times out is written like any other (Temporal does
    // the same); its updates stay admitted and go with the next attempt.
    cx.materialize_speculative();
    cx.state.workflow_task = None;
    cx.append(outcome);
    let was_sticky = cx.state.sticky_task_queue().is_some();
    cx.clear_stickiness();
    let next_attempt = if cx.flush_buffered() {
        1
    } else if was_sticky {
        attempt
    } else {
        attempt.saturating_add(1)
    };
    cx.schedule_workflow_task(next_attempt);
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, failure::v1::Failure, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{Effect, signal, test_support::*};

    fn failed_req() -> RespondWorkflowTaskFailedRequest {
        RespondWorkflowTaskFailedRequest {
            cause: WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure as i32,
            failure: Some(Failure {
                message: "boom".into(),
                ..Default::default()
            }),
            identity: "worker".into(),
            ..Default::default()
        }
    }

    #[test]
    fn failure_schedules_next_attempt() {
        let mut state = task_in_flight(); // scheduled 2, started 3
        let t = fail_workflow_task(&mut state, 2, 3, 1, &failed_req(), T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskFailed,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert_eq!(ids(&t), [4, 5]);
        let Some(A::WorkflowTaskFailedEventAttributes(a)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!((a.scheduled_event_id, a.started_event_id), (2, 3));
        assert_eq!(a.identity, "worker");
        assert_eq!(a.failure.as_ref().unwrap().message, "boom");
        assert_eq!(
            t.effects,
            [Effect::WorkflowTask {
                task_queue: TASK_QUEUE.into(),
                scheduled_event_id: 5,
                attempt: 2
            }]
        );
    }

    #[test]
    fn buffered_events_follow_the_failure_and_reset_attempt() {
        let mut state = task_in_flight();
        signal(&mut state, &signal_req("s", ""), T0).unwrap();
        let t = fail_workflow_task(&mut state, 2, 3, 1, &failed_req(), T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskFailed,
                EventType::WorkflowExecutionSignaled,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert_eq!(state.pending_workflow_task().unwrap().attempt, 1);
    }

    #[test]
    fn by_server_records_cause_and_message() {
        let mut state = task_in_flight();
        let t = fail_workflow_task_by_server(
            &mut state,
            WorkflowTaskFailedCause::UnhandledCommand,
            "UnhandledCommand",
            T0,
        )
        .unwrap();
        let Some(A::WorkflowTaskFailedEventAttributes(a)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!(a.cause, WorkflowTaskFailedCause::UnhandledCommand as i32);
        assert_eq!(a.failure.as_ref().unwrap().message, "UnhandledCommand");
    }

    #[test]
    fn wrong_token_is_not_found() {
        let mut state = task_in_flight();
        let before = state.clone();
        for (s, st, a) in [(2, 3, 2), (1, 3, 1), (2, 4, 1)] {
            assert!(matches!(
                fail_workflow_task(&mut state, s, st, a, &failed_req(), T0),
                Err(EngineError::NotFound(_))
            ));
        }
        assert_eq!(state, before);
        let (mut scheduled_only, _) = started();
        assert!(
            fail_workflow_task_by_server(
                &mut scheduled_only,
                WorkflowTaskFailedCause::UnhandledCommand,
                "x",
                T0
            )
            .is_err()
        );
    }
}
