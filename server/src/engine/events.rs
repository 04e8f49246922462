//! The `EventType` that goes with each kind of event attributes the engine writes.

use temporalio_protos::temporal::api::{
    enums::v1::EventType, history::v1::history_event::Attributes,
};

/// The event type of `attributes`. Kinds the engine never writes map to `Unspecified`.
pub(crate) fn event_type(attributes: &Attributes) -> EventType {
    use Attributes as A;
    use EventType as E;
    match attributes {
        A::WorkflowExecutionStartedEventAttributes(_) => E::WorkflowExecutionStarted,
        A::WorkflowExecutionCompletedEventAttributes(_) => E::WorkflowExecutionCompleted,
        A::WorkflowExecutionFailedEventAttributes(_) => E::WorkflowExecutionFailed,
        A::WorkflowExecutionTimedOutEventAttributes(_) => E::WorkflowExecutionTimedOut,
        A::WorkflowExecutionCanceledEventAttributes(_) => E::WorkflowExecutionCanceled,
        A::WorkflowExecutionTerminatedEventAttributes(_) => E::WorkflowExecutionTerminated,
        A::WorkflowExecutionCancelRequestedEventAttributes(_) => {
            E::WorkflowExecutionCancelRequested
        }
        A::WorkflowExecutionSignaledEventAttributes(_) => E::WorkflowExecutionSignaled,
        A::WorkflowTaskScheduledEventAttributes(_) => E::WorkflowTaskScheduled,
        A::WorkflowTaskStartedEventAttributes(_) => E::WorkflowTaskStarted,
        A::WorkflowTaskCompletedEventAttributes(_) => E::WorkflowTaskCompleted,
        A::WorkflowTaskTimedOutEventAttributes(_) => E::WorkflowTaskTimedOut,
        A::WorkflowTaskFailedEventAttributes(_) => E::WorkflowTaskFailed,
        A::ActivityTaskScheduledEventAttributes(_) => E::ActivityTaskScheduled,
        A::ActivityTaskStartedEventAttributes(_) => E::ActivityTaskStarted,
        A::ActivityTaskCompletedEventAttributes(_) => E::ActivityTaskCompleted,
        A::ActivityTaskFailedEventAttributes(_) => E::ActivityTaskFailed,
        A::ActivityTaskTimedOutEventAttributes(_) => E::ActivityTaskTimedOut,
        A::ActivityTaskCancelRequestedEventAttributes(_) => E::ActivityTaskCancelRequested,
        A::ActivityTaskCanceledEventAttributes(_) => E::ActivityTaskCanceled,
        A::TimerStartedEventAttributes(_) => E::TimerStarted,
        A::TimerFiredEventAttributes(_) => E::TimerFired,
        A::TimerCanceledEventAttributes(_) => E::TimerCanceled,
        A::MarkerRecordedEventAttributes(_) => E::MarkerRecorded,
        A::UpsertWorkflowSearchAttributesEventAttributes(_) => E::UpsertWorkflowSearchAttributes,
        A::WorkflowPropertiesModifiedEventAttributes(_) => E::WorkflowPropertiesModified,
        A::WorkflowExecutionContinuedAsNewEventAttributes(_) => E::WorkflowExecutionContinuedAsNew,
        A::StartChildWorkflowExecutionInitiatedEventAttributes(_) => {
            E::StartChildWorkflowExecutionInitiated
        }
        A::StartChildWorkflowExecutionFailedEventAttributes(_) => {
            E::StartChildWorkflowExecutionFailed
        }
        A::ChildWorkflowExecutionStartedEventAttributes(_) => E::ChildWorkflowExecutionStarted,
        A::ChildWorkflowExecutionCompletedEventAttributes(_) => E::ChildWorkflowExecutionCompleted,
        A::ChildWorkflowExecutionFailedEventAttributes(_) => E::ChildWorkflowExecutionFailed,
        A::ChildWorkflowExecutionCanceledEventAttributes(_) => E::ChildWorkflowExecutionCanceled,
        A::ChildWorkflowExecutionTimedOutEventAttributes(_) => E::ChildWorkflowExecutionTimedOut,
        A::ChildWorkflowExecutionTerminatedEventAttributes(_) => {
            E::ChildWorkflowExecutionTerminated
        }
        A::WorkflowExecutionUpdateAdmittedEventAttributes(_) => E::WorkflowExecutionUpdateAdmitted,
        A::WorkflowExecutionUpdateAcceptedEventAttributes(_) => E::WorkflowExecutionUpdateAccepted,
        A::WorkflowExecutionUpdateCompletedEventAttributes(_) => {
            E::WorkflowExecutionUpdateCompleted
        }
        A::SignalExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            E::SignalExternalWorkflowExecutionInitiated
        }
        A::SignalExternalWorkflowExecutionFailedEventAttributes(_) => {
            E::SignalExternalWorkflowExecutionFailed
        }
        A::ExternalWorkflowExecutionSignaledEventAttributes(_) => {
            E::ExternalWorkflowExecutionSignaled
        }
        A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            E::RequestCancelExternalWorkflowExecutionInitiated
        }
        A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(_) => {
            E::RequestCancelExternalWorkflowExecutionFailed
        }
        A::ExternalWorkflowExecutionCancelRequestedEventAttributes(_) => {
            E::ExternalWorkflowExecutionCancelRequested
        }
        _ => E::Unspecified,
    }
}

/// True for the events that close a run.
#[cfg(test)]
pub(crate) fn is_close_event(event_type: EventType) -> bool {
    matches!(
        event_type,
        EventType::WorkflowExecutionCompleted
            | EventType::WorkflowExecutionFailed
            | EventType::WorkflowExecutionTimedOut
            | EventType::WorkflowExecutionCanceled
            | EventType::WorkflowExecutionTerminated
            | EventType::WorkflowExecutionContinuedAsNew
    )
}

/// The scheduled event id of an activity's final event (completed, failed, timed out,
/// canceled), if `attributes` is one.
pub(crate) fn activity_final_scheduled_id(attributes: &Attributes) -> Option<i64> {
    match attributes {
        Attributes::ActivityTaskCompletedEventAttributes(a) => Some(a.scheduled_event_id),
        Attributes::ActivityTaskFailedEventAttributes(a) => Some(a.scheduled_event_id),
        Attributes::ActivityTaskTimedOutEventAttributes(a) => Some(a.scheduled_event_id),
        Attributes::ActivityTaskCanceledEventAttributes(a) => Some(a.scheduled_event_id),
        _ => None,
    }
}

/// Points an activity's final event at its (just numbered) started event.
pub(crate) fn set_activity_started_id(attributes: &mut Attributes, started_event_id: i64) {
    match attributes {
        Attributes::ActivityTaskCompletedEventAttributes(a) => {
            a.started_event_id = started_event_id
        }
        Attributes::ActivityTaskFailedEventAttributes(a) => a.started_event_id = started_event_id,
        Attributes::ActivityTaskTimedOutEventAttributes(a) => a.started_event_id = started_event_id,
        Attributes::ActivityTaskCanceledEventAttributes(a) => a.started_event_id = started_event_id,
        _ => {}
    }
}

/// The initiated event id of a child workflow's close event (completed, failed, canceled, timed
/// out, terminated), if `attributes` is one.
pub(crate) fn child_close_initiated_id(attributes: &Attributes) -> Option<i64> {
    match attributes {
        Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => Some(a.initiated_event_id),
        Attributes::ChildWorkflowExecutionFailedEventAttributes(a) => Some(a.initiated_event_id),
        Attributes::ChildWorkflowExecutionCanceledEventAttributes(a) => Some(a.initiated_event_id),
        Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a) => Some(a.initiated_event_id),
        Attributes::ChildWorkflowExecutionTerminatedEventAttributes(a) => {
            Some(a.initiated_event_id)
        }
        _ => None,
    }
}

/// Points a child's close event at its (just numbered) started event.
pub(crate) fn set_child_started_id(attributes: &mut Attributes, started_event_id: i64) {
    match attributes {
        Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => {
            a.started_event_id = started_event_id
        }
        Attributes::ChildWorkflowExecutionFailedEventAttributes(a) => {
            a.started_event_id = started_event_id
        }
        Attributes::ChildWorkflowExecutionCanceledEventAttributes(a) => {
            a.started_event_id = started_event_id
        }
        Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a) => {
            a.started_event_id = started_event_id
        }
        Attributes::ChildWorkflowExecutionTerminatedEventAttributes(a) => {
            a.started_event_id = started_event_id
        }
        _ => {}
    }
}
