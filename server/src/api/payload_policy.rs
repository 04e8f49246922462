//! Enforces a namespace's `encrypted-only` payload policy: every payload a client or worker
//! hands over must be marked `encoding: binary/encrypted`, or the request is refused with
//! InvalidArgument before anything is stored. The server only reads the metadata key; it never
//! looks at `Payload.data`.

use std::sync::Arc;

use prost::Message as _;
use temporalio_protos::temporal::api::{
    command::v1::command::Attributes,
    common::v1::{Memo, Payload, Payloads},
    failure::v1::{Failure, failure::FailureInfo},
    protocol::v1::Message,
    update::v1::{Rejection, Response, outcome},
    workflowservice::v1::{
        RespondWorkflowTaskCompletedRequest, SignalWithStartWorkflowExecutionRequest,
        SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest,
    },
};
use tonic::Status;

use crate::namespaces::{Namespaces, PayloadPolicy};

/// The metadata value that marks an encrypted payload.
pub const ENCRYPTED_ENCODING: &[u8] = b"binary/encrypted";

/// Checks payloads against their namespace's policy.
pub(crate) struct PayloadGuard {
    namespaces: Arc<Namespaces>,
}

impl PayloadGuard {
    pub(crate) fn new(namespaces: Arc<Namespaces>) -> Self {
        Self { namespaces }
    }

    fn enforced(&self, namespace: &str) -> Result<bool, Status> {
        let record = self
            .namespaces
            .get(namespace)
            .ok_or_else(|| Status::not_found(format!("namespace {namespace:?} not found")))?;
        Ok(record.payload_policy() == PayloadPolicy::EncryptedOnly)
    }

    pub(crate) fn check_start(
        &self,
        request: &StartWorkflowExecutionRequest,
    ) -> Result<(), Status> {
        if !self.enforced(&request.namespace)? {
            return Ok(());
        }
        payloads(request.input.as_ref(), "input")?;
        memo(request.memo.as_ref())
    }

    pub(crate) fn check_signal_with_start(
        &self,
        request: &SignalWithStartWorkflowExecutionRequest,
    ) -> Result<(), Status> {
        if !self.enforced(&request.namespace)? {
            return Ok(());
        }
        payloads(request.input.as_ref(), "input")?;
        payloads(request.signal_input.as_ref(), "signal input")?;
        memo(request.memo.as_ref())
    }

    pub(crate) fn check_signal(
        &self,
        request: &SignalWorkflowExecutionRequest,
    ) -> Result<(), Status> {
        if !self.enforced(&request.namespace)? {
            return Ok(());
        }
        payloads(request.input.as_ref(), "signal input")
    }

    pub(crate) fn check_payloads(
        &self,
        namespace: &str,
        value: Option<&Payloads>,
    ) -> Result<(), Status> {
        if !self.enforced(namespace)? {
            return Ok(());
        }
        payloads(value, "payload")
    }

    pub(crate) fn check_failure(
        &self,
        namespace: &str,
        value: Option<&Failure>,
    ) -> Result<(), Status> {
        if !self.enforced(namespace)? {
            return Ok(());
        }
        failure(value)
    }

    pub(crate) fn check_workflow_task_completed(
        &self,
        request: &RespondWorkflowTaskCompletedRequest,
    ) -> Result<(), Status> {
        if !self.enforced(&request.namespace)? {
            return Ok(());
        }
        for command in &request.commands {
            match &command.attributes {
                Some(Attributes::ScheduleActivityTaskCommandAttributes(a)) => {
                    payloads(a.input.as_ref(), "activity input")?
                }
                Some(Attributes::CompleteWorkflowExecutionCommandAttributes(a)) => {
                    payloads(a.result.as_ref(), "workflow result")?
                }
                Some(Attributes::FailWorkflowExecutionCommandAttributes(a)) => {
                    failure(a.failure.as_ref())?
                }
                Some(Attributes::CancelWorkflowExecutionCommandAttributes(a)) => {
                    payloads(a.details.as_ref(), "cancellation details")?
                }
                Some(Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(a)) => {
                    payloads(a.input.as_ref(), "continue-as-new input")?;
                    memo(a.memo.as_ref())?;
                }
                Some(Attributes::StartChildWorkflowExecutionCommandAttributes(a)) => {
                    payloads(a.input.as_ref(), "child workflow input")?;
                    memo(a.memo.as_ref())?;
                }
                Some(Attributes::SignalExternalWorkflowExecutionCommandAttributes(a)) => {
                    payloads(a.input.as_ref(), "signal input")?
                }
                Some(Attributes::ModifyWorkflowPropertiesCommandAttributes(a)) => {
                    memo(a.upserted_memo.as_ref())?
                }
                _ => {}
            }
        }
        for answer in request.query_results.values() {
            payloads(answer.answer.as_ref(), "query result")?;
        }
        request.messages.iter().try_for_each(update_answer)
    }
}

/// The payloads of a worker's update Response or Rejection (undecodable bodies are the
/// engine's to refuse).
fn update_answer(message: &Message) -> Result<(), Status> {
    let Some(body) = &message.body else {
        return Ok(());
    };
    if body.type_url.ends_with("/temporal.api.update.v1.Response") {
        let outcome = Response::decode(body.value.as_slice())
            .ok()
            .and_then(|r| r.outcome)
            .and_then(|o| o.value);
        match outcome {
            Some(outcome::Value::Success(result)) => payloads(Some(&result), "update result")?,
            Some(outcome::Value::Failure(f)) => failure(Some(&f))?,
            None => {}
        }
    } else if body.type_url.ends_with("/temporal.api.update.v1.Rejection")
        && let Ok(rejection) = Rejection::decode(body.value.as_slice())
    {
        failure(rejection.failure.as_ref())?;
    }
    Ok(())
}

fn payload(value: &Payload, what: &str) -> Result<(), Status> {
    match value.metadata.get("encoding") {
        Some(encoding) if encoding.as_slice() == ENCRYPTED_ENCODING => Ok(()),
        _ => Err(Status::invalid_argument(format!(
            "this namespace accepts only encrypted payloads, but a {what} is not marked \
             encoding=binary/encrypted; configure your client's payload codec"
        ))),
    }
}

fn payloads(value: Option<&Payloads>, what: &str) -> Result<(), Status> {
    value
        .into_iter()
        .flat_map(|p| p.payloads.iter())
        .try_for_each(|p| payload(p, what))
}

fn memo(value: Option<&Memo>) -> Result<(), Status> {
    value
        .into_iter()
        .flat_map(|m| m.fields.values())
        .try_for_each(|p| payload(p, "memo value"))
}

fn failure(value: Option<&Failure>) -> Result<(), Status> {
    let mut next = value;
    // Bounded by prost's recursion limit on decode; iterate rather than recurse.
    while let Some(failure) = next {
        if let Some(encoded) = &failure.encoded_attributes {
            payload(encoded, "failure's encoded attributes")?;
        }
        let details = match &failure.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) => info.details.as_ref(),
            Some(FailureInfo::CanceledFailureInfo(info)) => info.details.as_ref(),
            Some(FailureInfo::TimeoutFailureInfo(info)) => info.last_heartbeat_details.as_ref(),
            Some(FailureInfo::ResetWorkflowFailureInfo(info)) => {
                info.last_heartbeat_details.as_ref()
            }
            _ => None,
        };
        payloads(details, "failure detail")?;
        next = failure.cause.as_deref();
    }
    Ok(())
}
