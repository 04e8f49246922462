//! A raw gRPC worker: poll a workflow task, answer it with commands.

use std::collections::HashMap;

use temporalio_protos::temporal::api::{
    command::v1::{Command, CompleteWorkflowExecutionCommandAttributes, command::Attributes},
    common::v1::{Payload, Payloads},
    enums::v1::CommandType,
    failure::v1::{ApplicationFailureInfo, Failure, failure::FailureInfo},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse,
        RespondWorkflowTaskCompletedRequest, workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::transport::Channel;

use super::NS;

pub(super) type Client = WorkflowServiceClient<Channel>;

pub(super) fn queue(name: &str) -> Option<TaskQueue> {
    Some(TaskQueue {
        name: name.into(),
        ..Default::default()
    })
}

pub(super) fn json_payloads(json: &str) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: json.as_bytes().to_vec(),
            ..Default::default()
        }],
    }
}

/// Polls until a workflow task (or query task) arrives.
pub(super) async fn poll(worker: &mut Client, task_queue: &str) -> PollWorkflowTaskQueueResponse {
    loop {
        let task = worker
            .poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
                namespace: NS.into(),
                task_queue: queue(task_queue),
                identity: "raw-worker".into(),
                ..Default::default()
            })
            .await
            .expect("poll workflow task")
            .into_inner();
        if !task.task_token.is_empty() {
            return task;
        }
    }
}

pub(super) async fn respond(worker: &mut Client, token: Vec<u8>, commands: Vec<Command>) {
    worker
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: NS.into(),
            task_token: token,
            commands,
            identity: "raw-worker".into(),
            ..Default::default()
        })
        .await
        .expect("complete workflow task");
}

pub(super) fn complete(result: Payloads) -> Command {
    Command {
        command_type: CommandType::CompleteWorkflowExecution as i32,
        attributes: Some(Attributes::CompleteWorkflowExecutionCommandAttributes(
            CompleteWorkflowExecutionCommandAttributes {
                result: Some(result),
            },
        )),
        ..Default::default()
    }
}

pub(super) fn app_failure(message: &str, kind: &str) -> Failure {
    Failure {
        message: message.into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: kind.into(),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}
