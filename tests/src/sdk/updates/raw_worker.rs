//! The update protocol from a raw worker (plain gRPC, no SDK), on Lockstep: what a poll shows
//! for an update on an idle run (the speculative task's unwritten Scheduled/Started events, one
//! message with the request), what a completion with an Acceptance and a Response writes, and
//! the `encrypted-only` payload policy on both sides (cleartext update arguments and update
//! results are refused, and nothing changes).

use std::collections::HashMap;

use prost::Message as _;
use temporalio_protos::temporal::api::{
    command::v1::{Command, ProtocolMessageCommandAttributes, command::Attributes as C},
    common::v1::{Payload, Payloads, WorkflowExecution, WorkflowType},
    enums::v1::{CommandType, EventType, UpdateWorkflowExecutionLifecycleStage as Stage},
    history::v1::HistoryEvent,
    protocol::v1::{Message, message::SequencingId},
    taskqueue::v1::TaskQueue,
    update::v1::{Acceptance, Meta, Outcome, Request, Response, WaitPolicy, outcome},
    workflowservice::v1::{
        GetWorkflowExecutionHistoryRequest, PollWorkflowTaskQueueRequest,
        PollWorkflowTaskQueueResponse, RegisterNamespaceRequest,
        RespondWorkflowTaskCompletedRequest, StartWorkflowExecutionRequest,
        UpdateWorkflowExecutionRequest, workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::{Code, transport::Channel};

use super::{event_types, raw_update, unique, within};
use crate::{DevServer, clients::dev_client};

/// A payload marked as the codec's ciphertext (the server never looks inside).
fn sealed(data: &[u8]) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            metadata: HashMap::from([("encoding".to_string(), b"binary/encrypted".to_vec())]),
            data: data.to_vec(),
            ..Default::default()
        }],
    }
}

fn cleartext(data: &[u8]) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: data.to_vec(),
            ..Default::default()
        }],
    }
}

async fn poll(
    worker: &mut WorkflowServiceClient<Channel>,
    namespace: &str,
    queue: &str,
) -> PollWorkflowTaskQueueResponse {
    let request = PollWorkflowTaskQueueRequest {
        namespace: namespace.into(),
        task_queue: Some(TaskQueue {
            name: queue.into(),
            ..Default::default()
        }),
        identity: "raw-worker".into(),
        ..Default::default()
    };
    let task = within("poll", worker.poll_workflow_task_queue(request))
        .await
        .expect("poll")
        .into_inner();
    assert!(!task.task_token.is_empty(), "a task within the long poll");
    task
}

fn completion(
    namespace: &str,
    task: &PollWorkflowTaskQueueResponse,
    messages: Vec<Message>,
) -> RespondWorkflowTaskCompletedRequest {
    let commands = messages
        .iter()
        .map(|m| Command {
            command_type: CommandType::ProtocolMessage as i32,
            attributes: Some(C::ProtocolMessageCommandAttributes(
                ProtocolMessageCommandAttributes {
                    message_id: m.id.clone(),
                },
            )),
            ..Default::default()
        })
        .collect();
    RespondWorkflowTaskCompletedRequest {
        namespace: namespace.into(),
        task_token: task.task_token.clone(),
        identity: "raw-worker".into(),
        commands,
        messages,
        ..Default::default()
    }
}

/// The worker's Acceptance and Response (`result`) for the request message `request`.
fn answers(request: &Message, result: Payloads) -> Vec<Message> {
    let update_id = request.protocol_instance_id.clone();
    let any = |type_name: &str, value: Vec<u8>| prost_wkt_types::Any {
        type_url: format!("type.googleapis.com/temporal.api.update.v1.{type_name}"),
        value,
    };
    let accept = Acceptance {
        accepted_request_message_id: request.id.clone(),
        accepted_request_sequencing_event_id: match request.sequencing_id {
            Some(SequencingId::EventId(id)) => id,
            other => panic!("request messages carry an event id: {other:?}"),
        },
        accepted_request: None,
    };
    let response = Response {
        meta: Some(Meta {
            update_id: update_id.clone(),
            identity: "raw-worker".into(),
        }),
        outcome: Some(Outcome {
            value: Some(outcome::Value::Success(result)),
        }),
    };
    vec![
        Message {
            id: format!("{}/accept", request.id),
            protocol_instance_id: update_id.clone(),
            sequencing_id: None,
            body: Some(any("Acceptance", accept.encode_to_vec())),
        },
        Message {
            id: format!("{}/complete", request.id),
            protocol_instance_id: update_id,
            sequencing_id: None,
            body: Some(any("Response", response.encode_to_vec())),
        },
    ]
}

/// See the module docs.
pub async fn raw_worker_update_protocol(server: &DevServer) {
    let namespace = "sealed-updates";
    let queue = unique("raw-queue");
    let workflow_id = unique("raw-update");
    let mut admin = dev_client(server, "admin").await;
    let mut client = dev_client(server, "client").await;
    let mut worker = dev_client(server, "worker").await;
    within(
        "register",
        admin.register_namespace(RegisterNamespaceRequest {
            namespace: namespace.into(),
            workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                seconds: 86400,
                nanos: 0,
            }),
            data: HashMap::from([(
                "lockstep.payload-policy".to_string(),
                "encrypted-only".to_string(),
            )]),
            ..Default::default()
        }),
    )
    .await
    .expect("register an encrypted-only namespace");
    within(
        "start",
        client.start_workflow_execution(StartWorkflowExecutionRequest {
            namespace: namespace.into(),
            workflow_id: workflow_id.clone(),
            workflow_type: Some(WorkflowType { name: "Raw".into() }),
            task_queue: Some(TaskQueue {
                name: queue.clone(),
                ..Default::default()
            }),
            request_id: unique("start"),
            ..Default::default()
        }),
    )
    .await
    .expect("start");
    let first = poll(&mut worker, namespace, &queue).await;
    assert!(first.messages.is_empty());
    within(
        "complete the first task",
        worker.respond_workflow_task_completed(completion(namespace, &first, vec![])),
    )
    .await
    .expect("first task");

    let update = |args: Payloads| {
        let mut request: UpdateWorkflowExecutionRequest =
            raw_update(&workflow_id, "sealed-add", "add");
        request.namespace = namespace.into();
        request.wait_policy = Some(WaitPolicy {
            lifecycle_stage: Stage::Completed as i32,
        });
        if let Some(input) = request.request.as_mut().and_then(|r| r.input.as_mut()) {
            input.args = Some(args);
        }
        request
    };
    let refused = within(
        "cleartext update",
        client.update_workflow_execution(update(cleartext(b"5"))),
    )
    .await
    .expect_err("cleartext arguments are refused");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("encrypted"), "{refused:?}");

    let sealed_update = update(sealed(b"five"));
    let mut caller = client.clone();
    let pending =
        tokio::spawn(async move { caller.update_workflow_execution(sealed_update).await });
    let task = poll(&mut worker, namespace, &queue).await;
    let history = task.history.clone().unwrap_or_default().events;
    let shown: Vec<(i64, EventType)> = history
        .iter()
        .map(|e| (e.event_id, e.event_type()))
        .collect();
    assert_eq!(
        shown[4..],
        [
            (5, EventType::WorkflowTaskScheduled),
            (6, EventType::WorkflowTaskStarted)
        ],
        "the speculative task's events, not yet in history: {shown:?}"
    );
    assert_eq!(
        (task.started_event_id, task.previous_started_event_id),
        (6, 3)
    );
    assert_eq!(task.messages.len(), 1, "{:?}", task.messages);
    let request = &task.messages[0];
    assert_eq!(request.protocol_instance_id, "sealed-add");
    assert_eq!(request.id, "sealed-add/request");
    assert_eq!(request.sequencing_id, Some(SequencingId::EventId(5)));
    let body = request.body.as_ref().expect("a body");
    assert_eq!(
        body.type_url,
        "type.googleapis.com/temporal.api.update.v1.Request"
    );
    let decoded = Request::decode(body.value.as_slice()).expect("an update request");
    assert_eq!(decoded.input.and_then(|i| i.args), Some(sealed(b"five")));
    let stored = stored_history(&mut client, namespace, &workflow_id).await;
    assert_eq!(
        stored.len(),
        4,
        "nothing written for the speculative task yet"
    );

    let refused = within(
        "cleartext result",
        worker.respond_workflow_task_completed(completion(
            namespace,
            &task,
            answers(request, cleartext(b"15")),
        )),
    )
    .await
    .expect_err("a cleartext update result is refused");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    within(
        "sealed result",
        worker.respond_workflow_task_completed(completion(
            namespace,
            &task,
            answers(request, sealed(b"fifteen")),
        )),
    )
    .await
    .expect("the same task takes the sealed result: the refusal changed nothing");
    let answered = within("the update's answer", pending)
        .await
        .expect("the caller task")
        .expect("the update completes")
        .into_inner();
    assert_eq!(answered.stage, Stage::Completed as i32);
    assert_eq!(
        answered.outcome.and_then(|o| o.value),
        Some(outcome::Value::Success(sealed(b"fifteen")))
    );
    let stored = stored_history(&mut client, namespace, &workflow_id).await;
    assert_eq!(
        event_types(&stored)[4..],
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted,
        ]
    );
}

/// The run's history as stored (GetWorkflowExecutionHistory; speculative events never show).
async fn stored_history(
    client: &mut WorkflowServiceClient<Channel>,
    namespace: &str,
    workflow_id: &str,
) -> Vec<HistoryEvent> {
    let request = GetWorkflowExecutionHistoryRequest {
        namespace: namespace.into(),
        execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: String::new(),
        }),
        ..Default::default()
    };
    within("history", client.get_workflow_execution_history(request))
        .await
        .expect("history")
        .into_inner()
        .history
        .unwrap_or_default()
        .events
}
