//! Every payload the CLI shows, reachable mutably, so that a page of events (or a description)
//! is decoded with one codec call and the decoded payloads put back in place.

use temporalio_protos::temporal::api::{
    common::v1::{Payload, Payloads},
    failure::v1::{Failure, failure::FailureInfo},
    history::v1::{HistoryEvent, history_event::Attributes},
    workflowservice::v1::DescribeWorkflowExecutionResponse,
};

use super::Context;

/// Decodes, through the codec if one is configured, every payload of `targets` in place.
pub(crate) async fn decode(ctx: &Context, targets: Vec<&mut Payload>) -> anyhow::Result<()> {
    let Some(codec) = &ctx.codec else {
        return Ok(());
    };
    let originals: Vec<Payload> = targets.iter().map(|p| (**p).clone()).collect();
    let decoded = codec.decode(originals).await?;
    for (target, payload) in targets.into_iter().zip(decoded) {
        *target = payload;
    }
    Ok(())
}

/// The payloads of a history event that the CLI displays.
pub(crate) fn event(event: &mut HistoryEvent) -> Vec<&mut Payload> {
    let mut out = Vec::new();
    let Some(attributes) = event.attributes.as_mut() else {
        return out;
    };
    match attributes {
        Attributes::WorkflowExecutionStartedEventAttributes(a) => {
            payloads(&mut out, a.input.as_mut());
            failure(&mut out, a.continued_failure.as_mut());
        }
        Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
            payloads(&mut out, a.result.as_mut());
        }
        Attributes::WorkflowExecutionFailedEventAttributes(a) => {
            failure(&mut out, a.failure.as_mut());
        }
        Attributes::WorkflowExecutionCanceledEventAttributes(a) => {
            payloads(&mut out, a.details.as_mut());
        }
        Attributes::WorkflowExecutionTerminatedEventAttributes(a) => {
            payloads(&mut out, a.details.as_mut());
        }
        Attributes::WorkflowExecutionSignaledEventAttributes(a) => {
            payloads(&mut out, a.input.as_mut());
        }
        Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a) => {
            payloads(&mut out, a.input.as_mut());
        }
        Attributes::WorkflowTaskFailedEventAttributes(a) => failure(&mut out, a.failure.as_mut()),
        Attributes::ActivityTaskScheduledEventAttributes(a) => {
            payloads(&mut out, a.input.as_mut());
        }
        Attributes::ActivityTaskStartedEventAttributes(a) => {
            failure(&mut out, a.last_failure.as_mut());
        }
        Attributes::ActivityTaskCompletedEventAttributes(a) => {
            payloads(&mut out, a.result.as_mut());
        }
        Attributes::ActivityTaskFailedEventAttributes(a) => failure(&mut out, a.failure.as_mut()),
        Attributes::ActivityTaskTimedOutEventAttributes(a) => {
            failure(&mut out, a.failure.as_mut());
        }
        Attributes::ActivityTaskCanceledEventAttributes(a) => {
            payloads(&mut out, a.details.as_mut());
        }
        Attributes::MarkerRecordedEventAttributes(a) => {
            // A map: visit in key order so that the order is stable.
            let mut details: Vec<_> = a.details.iter_mut().collect();
            details.sort_by(|x, y| x.0.cmp(y.0));
            for (_, value) in details {
                payloads(&mut out, Some(value));
            }
            failure(&mut out, a.failure.as_mut());
        }
        Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => {
            payloads(&mut out, a.result.as_mut());
        }
        Attributes::ChildWorkflowExecutionFailedEventAttributes(a) => {
            failure(&mut out, a.failure.as_mut());
        }
        Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
            payloads(&mut out, a.input.as_mut());
        }
        Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(a) => {
            payloads(&mut out, a.input.as_mut());
        }
        _ => {}
    }
    out
}

/// The payloads of a description: heartbeat details and last failures of pending activities.
pub(crate) fn description(
    description: &mut DescribeWorkflowExecutionResponse,
) -> Vec<&mut Payload> {
    let mut out = Vec::new();
    for activity in &mut description.pending_activities {
        payloads(&mut out, activity.heartbeat_details.as_mut());
        failure(&mut out, activity.last_failure.as_mut());
    }
    out
}

fn payloads<'a>(out: &mut Vec<&'a mut Payload>, payloads: Option<&'a mut Payloads>) {
    if let Some(payloads) = payloads {
        out.extend(payloads.payloads.iter_mut());
    }
}

/// A failure's codec-capable parts: encoded attributes, details, and its causes'.
fn failure<'a>(out: &mut Vec<&'a mut Payload>, failure_ref: Option<&'a mut Failure>) {
    let Some(f) = failure_ref else {
        return;
    };
    if let Some(encoded) = f.encoded_attributes.as_mut() {
        out.push(encoded);
    }
    match f.failure_info.as_mut() {
        Some(FailureInfo::ApplicationFailureInfo(info)) => payloads(out, info.details.as_mut()),
        Some(FailureInfo::CanceledFailureInfo(info)) => payloads(out, info.details.as_mut()),
        Some(FailureInfo::TimeoutFailureInfo(info)) => {
            payloads(out, info.last_heartbeat_details.as_mut());
        }
        _ => {}
    }
    failure(out, f.cause.as_deref_mut());
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        failure::v1::ApplicationFailureInfo,
        history::v1::{ActivityTaskFailedEventAttributes, WorkflowExecutionStartedEventAttributes},
    };

    use super::*;

    fn payloads_of(n: usize) -> Option<Payloads> {
        Some(Payloads {
            payloads: vec![Payload::default(); n],
        })
    }

    #[test]
    fn finds_inputs_and_nested_failure_payloads() {
        let mut started = HistoryEvent {
            attributes: Some(Attributes::WorkflowExecutionStartedEventAttributes(
                WorkflowExecutionStartedEventAttributes {
                    input: payloads_of(2),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        assert_eq!(event(&mut started).len(), 2);

        let cause = Failure {
            encoded_attributes: Some(Payload::default()),
            ..Default::default()
        };
        let mut failed = HistoryEvent {
            attributes: Some(Attributes::ActivityTaskFailedEventAttributes(
                ActivityTaskFailedEventAttributes {
                    failure: Some(Failure {
                        failure_info: Some(FailureInfo::ApplicationFailureInfo(
                            ApplicationFailureInfo {
                                details: payloads_of(1),
                                ..Default::default()
                            },
                        )),
                        cause: Some(Box::new(cause)),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        assert_eq!(event(&mut failed).len(), 2);
        assert!(event(&mut HistoryEvent::default()).is_empty());
    }
}
