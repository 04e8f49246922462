//! RequestCancelWorkflowExecution and TerminateWorkflowExecution.
//!
//! A cancellation request is an event for the workflow (buffered while a task is started) and
//! a workflow task; the workflow decides what to do (usually `CancelWorkflowExecution`).
//! Termination closes the run at once; a started workflow task is failed first.

use temporalio_protos::temporal::api::{
    enums::v1::WorkflowExecutionStatus,
    history::v1::{
        WorkflowExecutionCancelRequestedEventAttributes,
        WorkflowExecutionTerminatedEventAttributes, history_event::Attributes,
    },
    workflowservice::v1::{
        RequestCancelWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
    },
};

use super::{EngineError, MutableState, Transition, apply::transact};

/// Requests cancellation of the run. A repeated request is acknowledged without a new event.
pub fn request_cancel_workflow(
    state: &mut MutableState,
    req: &RequestCancelWorkflowExecutionRequest,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        cx.state.ensure_running()?;
        if cx.state.cancel_requested {
            return Ok(());
        }
        cx.state.cancel_requested = true;
        cx.record(Attributes::WorkflowExecutionCancelRequestedEventAttributes(
            WorkflowExecutionCancelRequestedEventAttributes {
                cause: req.reason.clone(),
                identity: req.identity.clone(),
                ..Default::default()
            },
        ));
        cx.ensure_workflow_task();
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// Terminates the run: `WorkflowExecutionTerminated`, and [`Effect::Closed`](super::Effect).
pub fn terminate_workflow(
    state: &mut MutableState,
    req: &TerminateWorkflowExecutionRequest,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        cx.state.ensure_running()?;
        cx.force_close(
            WorkflowExecutionStatus::Terminated,
            Attributes::WorkflowExecutionTerminatedEventAttributes(
                WorkflowExecutionTerminatedEventAttributes {
                    reason: req.reason.clone(),
                    details: req.details.clone(),
                    identity: req.identity.clone(),
                },
            ),
        );
        Ok(())
    })
    .map(|(transition, ())| transition)
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::enums::v1::EventType;

    use super::*;
    use crate::engine::{Effect, complete_workflow_task, test_support::*};

    #[test]
    fn cancel_request_then_workflow_cancels() {
        let mut state = idle_state();
        let req = RequestCancelWorkflowExecutionRequest {
            reason: "stop".into(),
            ..Default::default()
        };
        let t = request_cancel_workflow(&mut state, &req, T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowExecutionCancelRequested,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert!(
            request_cancel_workflow(&mut state, &req, T0)
                .unwrap()
                .is_empty()
        );
        let (s, st) = run_task(&mut state);
        let t = complete_workflow_task(
            &mut state,
            s,
            st,
            1,
            &completed_req(vec![cancel_workflow_cmd()]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::WorkflowExecutionCanceled
            ]
        );
        assert_eq!(t.effects, [Effect::Closed]);
        assert_eq!(state.status(), WorkflowExecutionStatus::Canceled);
    }

    #[test]
    fn terminate_closes() {
        let mut state = task_in_flight();
        let t = terminate_workflow(
            &mut state,
            &TerminateWorkflowExecutionRequest::default(),
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskFailed,
                EventType::WorkflowExecutionTerminated
            ]
        );
        assert!(matches!(
            terminate_workflow(
                &mut state,
                &TerminateWorkflowExecutionRequest::default(),
                T0
            ),
            Err(EngineError::WorkflowClosed)
        ));
    }
}
