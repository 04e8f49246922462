//! The signals and cancellation requests a rebuilt run has sent to other workflows and not yet
//! seen resolved: each Initiated event records the whole request, and its outcome event
//! (…Signaled / …CancelRequested / …Failed) names it by `initiated_event_id`.

#![allow(deprecated)] // `namespace` and `control` are deprecated but still on the wire.

use temporalio_protos::temporal::api::history::v1::{
    RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
    SignalExternalWorkflowExecutionInitiatedEventAttributes, history_event::Attributes,
};

use crate::engine::{ExternalRequest, ExternalSignal, MutableState};

/// `SignalExternalWorkflowExecutionInitiated` (event `id`): the signal is pending delivery.
pub(super) fn signal_initiated(
    state: &mut MutableState,
    id: i64,
    a: &SignalExternalWorkflowExecutionInitiatedEventAttributes,
) {
    let request = ExternalRequest {
        initiated_event_id: id,
        namespace: a.namespace.clone(),
        target: a.workflow_execution.clone(),
        child_workflow_only: a.child_workflow_only,
        workflow_task_completed_event_id: a.workflow_task_completed_event_id,
        control: a.control.clone(),
        signal: Some(ExternalSignal {
            name: a.signal_name.clone(),
            input: a.input.clone(),
            header: a.header.clone(),
        }),
        reason: String::new(),
    };
    state.externals.insert(id, request);
}

/// `RequestCancelExternalWorkflowExecutionInitiated` (event `id`): the request is pending.
pub(super) fn cancel_initiated(
    state: &mut MutableState,
    id: i64,
    a: &RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
) {
    let request = ExternalRequest {
        initiated_event_id: id,
        namespace: a.namespace.clone(),
        target: a.workflow_execution.clone(),
        child_workflow_only: a.child_workflow_only,
        workflow_task_completed_event_id: a.workflow_task_completed_event_id,
        control: a.control.clone(),
        signal: None,
        reason: a.reason.clone(),
    };
    state.externals.insert(id, request);
}

/// The initiated event id an outcome event resolves, if `a` is one.
pub(super) fn resolved_initiated_id(a: &Attributes) -> Option<i64> {
    use Attributes as A;
    match a {
        A::ExternalWorkflowExecutionSignaledEventAttributes(e) => Some(e.initiated_event_id),
        A::SignalExternalWorkflowExecutionFailedEventAttributes(e) => Some(e.initiated_event_id),
        A::ExternalWorkflowExecutionCancelRequestedEventAttributes(e) => Some(e.initiated_event_id),
        A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(e) => {
            Some(e.initiated_event_id)
        }
        _ => None,
    }
}
