//! Failures for people and for JSON: the message (or, when the SDK moved it into
//! `encoded_attributes`, the decoded one), the kind, and the cause chain.

use serde_json::{Value, json};
use temporalio_protos::temporal::api::{
    enums::v1::{RetryState, TimeoutType},
    failure::v1::{Failure, failure::FailureInfo},
};

use super::{output::clean, payloads};

/// How deep a cause chain is followed.
const MAX_CAUSES: usize = 8;

/// `message (kind)`, then `; caused by: …` for each cause.
pub(crate) fn text(failure: &Failure) -> String {
    let mut parts = Vec::new();
    let mut current = Some(failure);
    while let Some(f) = current.take() {
        if parts.len() == MAX_CAUSES {
            parts.push("…".to_string());
            break;
        }
        let kind = kind(f);
        let message = message(f);
        parts.push(if kind.is_empty() {
            message
        } else {
            format!("{message} ({kind})")
        });
        current = f.cause.as_deref();
    }
    parts.join("; caused by: ")
}

/// The failure as JSON, with the field names of Temporal's `Failure`.
pub(crate) fn json(failure: &Failure) -> Value {
    let mut value = json!({
        "message": message(failure),
        "source": clean(&failure.source),
    });
    let kind = kind(failure);
    if !kind.is_empty() {
        value["kind"] = Value::String(kind);
    }
    if !failure.stack_trace.is_empty() {
        value["stackTrace"] = Value::String(failure.stack_trace.clone());
    }
    if let Some(encoded) = &failure.encoded_attributes {
        value["encodedAttributes"] = payloads::json(encoded);
    }
    match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) => {
            value["applicationFailureInfo"] = json!({
                "type": clean(&info.r#type),
                "nonRetryable": info.non_retryable,
                "details": payloads::list_json(info.details.as_ref()),
            });
        }
        Some(FailureInfo::CanceledFailureInfo(info)) => {
            value["canceledFailureInfo"] =
                json!({ "details": payloads::list_json(info.details.as_ref()) });
        }
        _ => {}
    }
    if let Some(cause) = &failure.cause {
        value["cause"] = json(cause);
    }
    value
}

/// The message; an SDK that encodes common attributes leaves "Encoded failure" in clear text
/// and the real message in `encoded_attributes`, shown here once it decodes to JSON.
fn message(failure: &Failure) -> String {
    let decoded =
        failure
            .encoded_attributes
            .as_ref()
            .and_then(|payload| match payloads::json(payload) {
                Value::Object(map) => map.get("message").and_then(Value::as_str).map(clean),
                _ => None,
            });
    if let Some(message) = decoded {
        return message;
    }
    match &failure.encoded_attributes {
        Some(payload) => format!("{} [{}]", clean(&failure.message), payloads::text(payload)),
        None => clean(&failure.message),
    }
}

/// What kind of failure: the application error type, a timeout's type, and so on.
fn kind(failure: &Failure) -> String {
    let named = |name: &str, prefix: &str| name.strip_prefix(prefix).unwrap_or(name).to_string();
    match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) => {
            let mut kind = match info.r#type.as_str() {
                "" => "application error".to_string(),
                t => format!("type {}", clean(t)),
            };
            if info.non_retryable {
                kind.push_str(", non-retryable");
            }
            kind
        }
        Some(FailureInfo::TimeoutFailureInfo(info)) => {
            let kind = TimeoutType::try_from(info.timeout_type).unwrap_or_default();
            format!("timeout {}", named(kind.as_str_name(), "TIMEOUT_TYPE_"))
        }
        Some(FailureInfo::CanceledFailureInfo(_)) => "canceled".into(),
        Some(FailureInfo::TerminatedFailureInfo(_)) => "terminated".into(),
        Some(FailureInfo::ServerFailureInfo(_)) => "server".into(),
        Some(FailureInfo::ActivityFailureInfo(info)) => {
            let retry = RetryState::try_from(info.retry_state).unwrap_or_default();
            format!(
                "activity {} {}, retry state {}",
                clean(&info.activity_id),
                clean(
                    &info
                        .activity_type
                        .as_ref()
                        .map(|t| t.name.clone())
                        .unwrap_or_default()
                ),
                named(retry.as_str_name(), "RETRY_STATE_")
            )
        }
        Some(FailureInfo::ChildWorkflowExecutionFailureInfo(_)) => "child workflow".into(),
        Some(_) | None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use temporalio_protos::temporal::api::{
        common::v1::Payload, failure::v1::ApplicationFailureInfo,
    };

    use super::*;

    #[test]
    fn messages_kinds_and_causes() {
        let failure = Failure {
            message: "charge failed".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: "CardDeclined".into(),
                    non_retryable: true,
                    ..Default::default()
                },
            )),
            cause: Some(Box::new(Failure {
                message: "bank\x1b[0m down".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            text(&failure),
            "charge failed (type CardDeclined, non-retryable); caused by: bank\\u{1b}[0m down"
        );
        assert_eq!(
            json(&failure)["applicationFailureInfo"]["type"],
            "CardDeclined"
        );
    }

    #[test]
    fn encoded_attributes_carry_the_real_message() {
        let mut failure = Failure {
            message: "Encoded failure".into(),
            encoded_attributes: Some(Payload {
                metadata: HashMap::from([("encoding".into(), b"json/plain".to_vec())]),
                data: br#"{"message":"secret reason","stack_trace":""}"#.to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(text(&failure), "secret reason");
        failure.encoded_attributes = Some(Payload {
            metadata: HashMap::from([
                ("encoding".into(), b"binary/encrypted".to_vec()),
                ("encryption-key-id".into(), b"k1".to_vec()),
            ]),
            data: vec![0; 8],
            ..Default::default()
        });
        assert_eq!(text(&failure), "Encoded failure [encrypted (key id k1)]");
    }
}
