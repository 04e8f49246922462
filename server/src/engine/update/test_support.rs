//! Builders for tests that drive updates: requests, the worker's answers as protocol
//! messages, the `PROTOCOL_MESSAGE` command naming one, and a completion carrying them.

use prost::Message as _;
use temporalio_protos::temporal::api::{
    command::v1::{Command, ProtocolMessageCommandAttributes, command::Attributes as C},
    common::v1::WorkflowExecution,
    enums::v1::{CommandType, UpdateWorkflowExecutionLifecycleStage as Stage},
    failure::v1::Failure,
    protocol::v1::Message,
    update::v1::{
        Acceptance, Input, Meta, Outcome, Rejection, Request, Response, WaitPolicy, outcome,
    },
    workflowservice::v1::UpdateWorkflowExecutionRequest,
};

use crate::engine::{
    EngineError, MutableState, Transition, complete_workflow_task, test_support::*,
};

/// An update request for update `update_id` named `name`, waiting for ACCEPTED.
pub(crate) fn update_req(update_id: &str, name: &str) -> UpdateWorkflowExecutionRequest {
    UpdateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: WORKFLOW_ID.into(),
            run_id: String::new(),
        }),
        wait_policy: Some(WaitPolicy {
            lifecycle_stage: Stage::Accepted as i32,
        }),
        request: Some(Request {
            meta: Some(Meta {
                update_id: update_id.into(),
                identity: "client".into(),
            }),
            input: Some(Input {
                name: name.into(),
                args: Some(payloads("arg")),
                header: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A protocol message from the worker answering `update_id` with a `type_name` body.
pub(crate) fn message(update_id: &str, kind: &str, type_name: &str, value: Vec<u8>) -> Message {
    Message {
        id: format!("{update_id}/request/{kind}"),
        protocol_instance_id: update_id.into(),
        sequencing_id: None,
        body: Some(prost_wkt_types::Any {
            type_url: format!("type.googleapis.com/temporal.api.update.v1.{type_name}"),
            value,
        }),
    }
}

/// The worker's Acceptance of `update_id`.
pub(crate) fn accept(update_id: &str) -> Message {
    let body = Acceptance {
        accepted_request_message_id: format!("{update_id}/request"),
        accepted_request_sequencing_event_id: 4,
        accepted_request: None,
    };
    message(update_id, "accept", "Acceptance", body.encode_to_vec())
}

/// The worker's successful Response to `update_id`, with `result`.
pub(crate) fn respond(update_id: &str, result: &str) -> Message {
    let body = Response {
        meta: Some(Meta {
            update_id: update_id.into(),
            identity: "worker".into(),
        }),
        outcome: Some(Outcome {
            value: Some(outcome::Value::Success(payloads(result))),
        }),
    };
    message(update_id, "complete", "Response", body.encode_to_vec())
}

/// The worker's Rejection of `update_id`, saying `why`.
pub(crate) fn reject(update_id: &str, why: &str) -> Message {
    let body = Rejection {
        failure: Some(Failure {
            message: why.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    message(update_id, "reject", "Rejection", body.encode_to_vec())
}

/// The `PROTOCOL_MESSAGE` command naming `message`.
pub(crate) fn protocol_cmd(message: &Message) -> Command {
    Command {
        command_type: CommandType::ProtocolMessage as i32,
        attributes: Some(C::ProtocolMessageCommandAttributes(
            ProtocolMessageCommandAttributes {
                message_id: message.id.clone(),
            },
        )),
        ..Default::default()
    }
}

/// Completes the started task with `commands` and the update answers `messages`.
pub(crate) fn complete(
    state: &mut MutableState,
    commands: Vec<Command>,
    messages: Vec<Message>,
) -> Result<Transition, EngineError> {
    let task = state.pending_workflow_task().expect("started task").clone();
    let mut req = completed_req(commands);
    req.messages = messages;
    complete_workflow_task(
        state,
        task.scheduled_event_id,
        task.started_event_id,
        task.attempt,
        &req,
        "run-2",
        T0,
    )
}
