//! History events for people and for JSON: id, time, type and the key attributes of each type
//! (names as in Temporal's protos, in lowerCamelCase), payloads shown by `payloads`.

use serde_json::{Map, Value, json};
use temporalio_protos::temporal::api::{
    common::v1::Payloads,
    enums::v1::{EventType, RetryState, TimeoutType, WorkflowTaskFailedCause},
    failure::v1::Failure,
    history::v1::{HistoryEvent, history_event::Attributes},
};

use super::{failures, output, payloads};

/// One key attribute's value.
enum Attr<'a> {
    Text(String),
    Int(i64),
    Payloads(&'a Payloads),
    Failure(&'a Failure),
}

/// `WorkflowExecutionStarted`: the type as people read it.
pub(crate) fn type_name(event_type: i32) -> String {
    match EventType::try_from(event_type) {
        Ok(known) => format!("{known:?}"),
        Err(_) => format!("EventType({event_type})"),
    }
}

/// `EVENT_TYPE_WORKFLOW_EXECUTION_STARTED`: the type as proto3 JSON writes it.
fn proto_type_name(event_type: i32) -> String {
    match EventType::try_from(event_type) {
        Ok(known) => known.as_str_name().to_string(),
        Err(_) => event_type.to_string(),
    }
}

/// The key attributes as `key=value` pairs on one line.
pub(crate) fn details_text(event: &HistoryEvent) -> String {
    attributes(event)
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Attr::Text(text) => output::clean(&text),
                Attr::Int(n) => n.to_string(),
                Attr::Payloads(p) => payloads::list_text(Some(p)),
                Attr::Failure(f) => failures::text(f),
            };
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// The event as JSON, shaped like Temporal's: `eventId`, `eventTime`, `eventType`, `taskId`,
/// and `<type>EventAttributes` holding the key attributes.
pub(crate) fn json(event: &HistoryEvent) -> Value {
    let mut attrs = Map::new();
    for (key, value) in attributes(event) {
        let value = match value {
            Attr::Text(text) => Value::String(text),
            Attr::Int(n) => json!(n),
            Attr::Payloads(p) => payloads::list_json(Some(p)),
            Attr::Failure(f) => failures::json(f),
        };
        attrs.insert(key.to_string(), value);
    }
    let mut value = json!({
        "eventId": event.event_id.to_string(),
        "eventTime": output::time_json(event.event_time.as_ref()),
        "eventType": proto_type_name(event.event_type),
        "taskId": event.task_id.to_string(),
    });
    value[attributes_key(event.event_type)] = Value::Object(attrs);
    value
}

/// `workflowExecutionStartedEventAttributes`.
fn attributes_key(event_type: i32) -> String {
    let name = type_name(event_type);
    let mut chars = name.chars();
    let first = chars.next().map(|c| c.to_ascii_lowercase());
    format!(
        "{}{}EventAttributes",
        first.into_iter().collect::<String>(),
        chars.as_str()
    )
}

fn attributes(event: &HistoryEvent) -> Vec<(&'static str, Attr<'_>)> {
    let mut out = Attrs(Vec::new());
    let Some(attributes) = &event.attributes else {
        return out.0;
    };
    match attributes {
        Attributes::WorkflowExecutionStartedEventAttributes(a) => {
            out.text(
                "workflowType",
                name(a.workflow_type.as_ref().map(|t| &t.name)),
            );
            out.text("taskQueue", name(a.task_queue.as_ref().map(|q| &q.name)));
            out.text(
                "workflowRunTimeout",
                &duration(a.workflow_run_timeout.as_ref()),
            );
            out.text(
                "workflowExecutionTimeout",
                &duration(a.workflow_execution_timeout.as_ref()),
            );
            out.text("identity", &a.identity);
            out.payloads("input", a.input.as_ref());
        }
        Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
            out.payloads("result", a.result.as_ref());
        }
        Attributes::WorkflowExecutionFailedEventAttributes(a) => {
            out.text("retryState", &retry_state(a.retry_state));
            out.failure(a.failure.as_ref());
        }
        Attributes::WorkflowExecutionTimedOutEventAttributes(a) => {
            out.text("retryState", &retry_state(a.retry_state));
        }
        Attributes::WorkflowExecutionCancelRequestedEventAttributes(a) => {
            out.text("cause", &a.cause);
            out.text("identity", &a.identity);
        }
        Attributes::WorkflowExecutionCanceledEventAttributes(a) => {
            out.payloads("details", a.details.as_ref());
        }
        Attributes::WorkflowExecutionTerminatedEventAttributes(a) => {
            out.text("reason", &a.reason);
            out.text("identity", &a.identity);
            out.payloads("details", a.details.as_ref());
        }
        Attributes::WorkflowExecutionSignaledEventAttributes(a) => {
            out.text("signalName", &a.signal_name);
            out.text("identity", &a.identity);
            out.payloads("input", a.input.as_ref());
        }
        Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a) => {
            out.text("newExecutionRunId", &a.new_execution_run_id);
            out.text(
                "workflowType",
                name(a.workflow_type.as_ref().map(|t| &t.name)),
            );
            out.payloads("input", a.input.as_ref());
        }
        Attributes::WorkflowTaskScheduledEventAttributes(a) => {
            out.text("taskQueue", name(a.task_queue.as_ref().map(|q| &q.name)));
            out.int("attempt", a.attempt.into());
        }
        Attributes::WorkflowTaskStartedEventAttributes(a) => out.text("identity", &a.identity),
        Attributes::WorkflowTaskCompletedEventAttributes(a) => out.text("identity", &a.identity),
        Attributes::WorkflowTaskTimedOutEventAttributes(a) => {
            out.text("timeoutType", &timeout_type(a.timeout_type));
        }
        Attributes::WorkflowTaskFailedEventAttributes(a) => {
            let cause = WorkflowTaskFailedCause::try_from(a.cause).unwrap_or_default();
            out.text(
                "cause",
                &output::short_enum(cause.as_str_name(), "WORKFLOW_TASK_FAILED_CAUSE_"),
            );
            out.failure(a.failure.as_ref());
        }
        Attributes::ActivityTaskScheduledEventAttributes(a) => {
            out.text("activityId", &a.activity_id);
            out.text(
                "activityType",
                name(a.activity_type.as_ref().map(|t| &t.name)),
            );
            out.text("taskQueue", name(a.task_queue.as_ref().map(|q| &q.name)));
            out.payloads("input", a.input.as_ref());
        }
        Attributes::ActivityTaskStartedEventAttributes(a) => {
            out.int("scheduledEventId", a.scheduled_event_id);
            out.int("attempt", a.attempt.into());
            out.text("identity", &a.identity);
            out.failure(a.last_failure.as_ref());
        }
        Attributes::ActivityTaskCompletedEventAttributes(a) => {
            out.int("scheduledEventId", a.scheduled_event_id);
            out.payloads("result", a.result.as_ref());
        }
        Attributes::ActivityTaskFailedEventAttributes(a) => {
            out.int("scheduledEventId", a.scheduled_event_id);
            out.text("retryState", &retry_state(a.retry_state));
            out.failure(a.failure.as_ref());
        }
        Attributes::ActivityTaskTimedOutEventAttributes(a) => {
            out.int("scheduledEventId", a.scheduled_event_id);
            out.text("retryState", &retry_state(a.retry_state));
            out.failure(a.failure.as_ref());
        }
        Attributes::ActivityTaskCancelRequestedEventAttributes(a) => {
            out.int("scheduledEventId", a.scheduled_event_id);
        }
        Attributes::ActivityTaskCanceledEventAttributes(a) => {
            out.int("scheduledEventId", a.scheduled_event_id);
            out.payloads("details", a.details.as_ref());
        }
        Attributes::TimerStartedEventAttributes(a) => {
            out.text("timerId", &a.timer_id);
            out.text(
                "startToFireTimeout",
                &duration(a.start_to_fire_timeout.as_ref()),
            );
        }
        Attributes::TimerFiredEventAttributes(a) => out.text("timerId", &a.timer_id),
        Attributes::TimerCanceledEventAttributes(a) => out.text("timerId", &a.timer_id),
        Attributes::MarkerRecordedEventAttributes(a) => {
            out.text("markerName", &a.marker_name);
            let mut details: Vec<_> = a.details.iter().collect();
            details.sort_by(|x, y| x.0.cmp(y.0));
            for (_, value) in details {
                out.payloads("details", Some(value));
            }
            out.failure(a.failure.as_ref());
        }
        Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
            out.text("workflowId", &a.workflow_id);
            out.text(
                "workflowType",
                name(a.workflow_type.as_ref().map(|t| &t.name)),
            );
            out.payloads("input", a.input.as_ref());
        }
        Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => {
            out.text(
                "workflowId",
                name(a.workflow_execution.as_ref().map(|e| &e.workflow_id)),
            );
            out.payloads("result", a.result.as_ref());
        }
        Attributes::ChildWorkflowExecutionFailedEventAttributes(a) => {
            out.text(
                "workflowId",
                name(a.workflow_execution.as_ref().map(|e| &e.workflow_id)),
            );
            out.failure(a.failure.as_ref());
        }
        Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(a) => {
            out.text(
                "workflowId",
                name(a.workflow_execution.as_ref().map(|e| &e.workflow_id)),
            );
            out.text("signalName", &a.signal_name);
            out.payloads("input", a.input.as_ref());
        }
        _ => {}
    }
    out.0
}

/// Key attributes being collected; empty values are left out.
struct Attrs<'a>(Vec<(&'static str, Attr<'a>)>);

impl<'a> Attrs<'a> {
    fn text(&mut self, key: &'static str, value: &str) {
        if !value.is_empty() {
            self.0.push((key, Attr::Text(value.to_string())));
        }
    }

    fn int(&mut self, key: &'static str, value: i64) {
        self.0.push((key, Attr::Int(value)));
    }

    fn payloads(&mut self, key: &'static str, payloads: Option<&'a Payloads>) {
        if let Some(p) = payloads.filter(|p| !p.payloads.is_empty()) {
            self.0.push((key, Attr::Payloads(p)));
        }
    }

    fn failure(&mut self, failure: Option<&'a Failure>) {
        if let Some(f) = failure {
            self.0.push(("failure", Attr::Failure(f)));
        }
    }
}

fn name(value: Option<&String>) -> &str {
    value.map_or("", String::as_str)
}

fn duration(value: Option<&prost_wkt_types::Duration>) -> String {
    match output::duration(value).as_str() {
        "-" => String::new(),
        text => text.to_string(),
    }
}

fn retry_state(state: i32) -> String {
    let state = RetryState::try_from(state).unwrap_or_default();
    match state {
        RetryState::Unspecified => String::new(),
        known => output::short_enum(known.as_str_name(), "RETRY_STATE_"),
    }
}

fn timeout_type(kind: i32) -> String {
    let kind = TimeoutType::try_from(kind).unwrap_or_default();
    output::short_enum(kind.as_str_name(), "TIMEOUT_TYPE_")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use temporalio_protos::temporal::api::{
        common::v1::{Payload, WorkflowType},
        history::v1::{
            WorkflowExecutionSignaledEventAttributes, WorkflowExecutionStartedEventAttributes,
        },
        taskqueue::v1::TaskQueue,
    };

    use super::*;

    fn started() -> HistoryEvent {
        HistoryEvent {
            event_id: 1,
            event_type: EventType::WorkflowExecutionStarted as i32,
            attributes: Some(Attributes::WorkflowExecutionStartedEventAttributes(
                WorkflowExecutionStartedEventAttributes {
                    workflow_type: Some(WorkflowType {
                        name: "greet".into(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: "q".into(),
                        ..Default::default()
                    }),
                    input: Some(Payloads {
                        payloads: vec![Payload {
                            metadata: HashMap::from([("encoding".into(), b"json/plain".to_vec())]),
                            data: b"\"world\"".to_vec(),
                            ..Default::default()
                        }],
                    }),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn key_attributes_in_text_and_json() {
        let event = started();
        assert_eq!(type_name(event.event_type), "WorkflowExecutionStarted");
        assert_eq!(
            details_text(&event),
            "workflowType=greet  taskQueue=q  input=\"world\""
        );
        let value = json(&event);
        assert_eq!(value["eventType"], "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED");
        assert_eq!(value["eventId"], "1");
        assert_eq!(
            value["workflowExecutionStartedEventAttributes"]["input"],
            json!(["world"])
        );
    }

    #[test]
    fn server_text_is_sanitized() {
        let event = HistoryEvent {
            event_type: EventType::WorkflowExecutionSignaled as i32,
            attributes: Some(Attributes::WorkflowExecutionSignaledEventAttributes(
                WorkflowExecutionSignaledEventAttributes {
                    signal_name: "go\x1b]0;pwned\x07".into(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        assert_eq!(details_text(&event), "signalName=go\\u{1b}]0;pwned\\u{7}");
    }
}
