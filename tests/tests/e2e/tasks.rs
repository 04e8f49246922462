//! Task tokens and payload policy, at the protocol level: a forged, stale or duplicate token is
//! refused with NotFound and changes nothing; an `encrypted-only` namespace refuses cleartext
//! payloads before anything is stored.

use std::collections::HashMap;

use lockstep_tests::{DevServer, clients::dev_client};
use temporalio_protos::temporal::api::{
    command::v1::{
        Command, CompleteWorkflowExecutionCommandAttributes, ScheduleActivityTaskCommandAttributes,
        command::Attributes,
    },
    common::v1::{ActivityType, Payload, Payloads, WorkflowExecution, WorkflowType},
    enums::v1::{CommandType, EventType},
    history::v1::HistoryEvent,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest,
        PollActivityTaskQueueRequest, PollWorkflowTaskQueueRequest, RegisterNamespaceRequest,
        RespondActivityTaskCompletedRequest, RespondActivityTaskFailedRequest,
        RespondWorkflowTaskCompletedRequest, SignalWorkflowExecutionRequest,
        StartWorkflowExecutionRequest, workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::{Code, transport::Channel};

type Client = WorkflowServiceClient<Channel>;

fn queue(name: &str) -> Option<TaskQueue> {
    Some(TaskQueue {
        name: name.into(),
        ..Default::default()
    })
}

fn payload(encoding: &str, data: &[u8]) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            metadata: HashMap::from([("encoding".to_string(), encoding.as_bytes().to_vec())]),
            data: data.to_vec(),
            ..Default::default()
        }],
    }
}

fn start(namespace: &str, workflow_id: &str, input: Payloads) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: namespace.into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType { name: "raw".into() }),
        task_queue: queue(workflow_id),
        input: Some(input),
        request_id: format!("{workflow_id}-request"),
        ..Default::default()
    }
}

async fn history(client: &mut Client, namespace: &str, workflow_id: &str) -> Vec<HistoryEvent> {
    client
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: namespace.into(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.into(),
                run_id: String::new(),
            }),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .history
        .unwrap_or_default()
        .events
}

fn count(events: &[HistoryEvent], event_type: EventType) -> usize {
    events
        .iter()
        .filter(|e| e.event_type == event_type as i32)
        .count()
}

async fn poll_workflow_task(worker: &mut Client, namespace: &str, task_queue: &str) -> Vec<u8> {
    let task = worker
        .poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
            namespace: namespace.into(),
            task_queue: queue(task_queue),
            identity: "raw-worker".into(),
            ..Default::default()
        })
        .await
        .expect("poll workflow task")
        .into_inner();
    assert!(!task.task_token.is_empty(), "a workflow task is ready");
    assert!(!task.task_token.starts_with(b"local_act_"));
    task.task_token
}

fn schedule_activity() -> Command {
    Command {
        command_type: CommandType::ScheduleActivityTask as i32,
        attributes: Some(Attributes::ScheduleActivityTaskCommandAttributes(
            ScheduleActivityTaskCommandAttributes {
                activity_id: "1".into(),
                activity_type: Some(ActivityType { name: "act".into() }),
                task_queue: queue("tokens"),
                start_to_close_timeout: Some(prost_wkt_types::Duration {
                    seconds: 30,
                    nanos: 0,
                }),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

fn complete_workflow(result: Payloads) -> Command {
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

fn completed(
    namespace: &str,
    token: &[u8],
    commands: Vec<Command>,
) -> RespondWorkflowTaskCompletedRequest {
    RespondWorkflowTaskCompletedRequest {
        namespace: namespace.into(),
        task_token: token.to_vec(),
        commands,
        identity: "raw-worker".into(),
        ..Default::default()
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, tonic::Status>, case: &str) {
    let status = result.expect_err(case);
    assert_eq!(status.code(), Code::NotFound, "{case}: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_and_duplicate_tokens_are_refused() {
    let server = DevServer::start();
    let other_server = DevServer::start();
    let mut client = dev_client(&server, "client").await;
    let mut worker = dev_client(&server, "worker").await;
    let mut other_worker = dev_client(&other_server, "worker").await;
    let ns = "default";
    client
        .start_workflow_execution(start(ns, "tokens", payload("json/plain", b"1")))
        .await
        .unwrap();
    let mut other_client = dev_client(&other_server, "client").await;
    other_client
        .start_workflow_execution(start(ns, "tokens", payload("json/plain", b"1")))
        .await
        .unwrap();

    let first = poll_workflow_task(&mut worker, ns, "tokens").await;
    // Forged: one flipped bit, random bytes, a token of another server.
    let mut flipped = first.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_not_found(
        worker
            .respond_workflow_task_completed(completed(ns, &flipped, vec![schedule_activity()]))
            .await,
        "flipped bit",
    );
    assert_not_found(
        worker
            .respond_workflow_task_completed(completed(ns, b"\x01garbage", vec![]))
            .await,
        "garbage",
    );
    let foreign = poll_workflow_task(&mut other_worker, ns, "tokens").await;
    assert_not_found(
        worker
            .respond_workflow_task_completed(completed(ns, &foreign, vec![]))
            .await,
        "other server",
    );
    assert_eq!(
        count(
            &history(&mut client, ns, "tokens").await,
            EventType::ActivityTaskScheduled
        ),
        0,
        "forgeries changed nothing"
    );

    worker
        .respond_workflow_task_completed(completed(ns, &first, vec![schedule_activity()]))
        .await
        .expect("the real token works");
    // Duplicate.
    assert_not_found(
        worker
            .respond_workflow_task_completed(completed(ns, &first, vec![schedule_activity()]))
            .await,
        "duplicate workflow task completion",
    );

    let activity = worker
        .poll_activity_task_queue(PollActivityTaskQueueRequest {
            namespace: ns.into(),
            task_queue: queue("tokens"),
            identity: "raw-worker".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(activity.attempt, 1);
    let done = RespondActivityTaskCompletedRequest {
        namespace: ns.into(),
        task_token: activity.task_token.clone(),
        result: Some(payload("json/plain", b"\"ok\"")),
        ..Default::default()
    };
    worker
        .respond_activity_task_completed(done.clone())
        .await
        .expect("first completion");
    assert_not_found(
        worker.respond_activity_task_completed(done).await,
        "duplicate activity completion",
    );
    assert_not_found(
        worker
            .respond_activity_task_failed(RespondActivityTaskFailedRequest {
                namespace: ns.into(),
                task_token: activity.task_token,
                ..Default::default()
            })
            .await,
        "failing a completed activity",
    );
    // Stale: the first workflow task's token after the next task was handed out.
    let second = poll_workflow_task(&mut worker, ns, "tokens").await;
    assert_not_found(
        worker
            .respond_workflow_task_completed(completed(
                ns,
                &first,
                vec![complete_workflow(payload("json/plain", b"1"))],
            ))
            .await,
        "stale workflow task token",
    );
    worker
        .respond_workflow_task_completed(completed(
            ns,
            &second,
            vec![complete_workflow(payload("json/plain", b"1"))],
        ))
        .await
        .unwrap();

    let events = history(&mut client, ns, "tokens").await;
    assert_eq!(
        count(&events, EventType::ActivityTaskCompleted),
        1,
        "one completion accepted"
    );
    assert_eq!(count(&events, EventType::WorkflowExecutionCompleted), 1);
    let ids: Vec<i64> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());

    // The same history newest first, in pages of 4.
    let mut reversed = Vec::new();
    let mut token = Vec::new();
    loop {
        let page = client
            .get_workflow_execution_history_reverse(
                temporalio_protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryReverseRequest {
                    namespace: ns.into(),
                    execution: Some(WorkflowExecution { workflow_id: "tokens".into(), run_id: String::new() }),
                    maximum_page_size: 4,
                    next_page_token: token,
                },
            )
            .await
            .unwrap()
            .into_inner();
        reversed.extend(
            page.history
                .unwrap_or_default()
                .events
                .into_iter()
                .map(|e| e.event_id),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(reversed, ids.iter().rev().copied().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_only_namespaces_refuse_cleartext_and_store_nothing() {
    let server = DevServer::start();
    let mut admin = dev_client(&server, "admin").await;
    let mut worker = dev_client(&server, "worker").await;
    let ns = "sealed";
    admin
        .register_namespace(RegisterNamespaceRequest {
            namespace: ns.into(),
            workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                seconds: 86400,
                nanos: 0,
            }),
            data: HashMap::from([(
                "lockstep.payload-policy".to_string(),
                "encrypted-only".to_string(),
            )]),
            ..Default::default()
        })
        .await
        .unwrap();

    let refused = admin
        .start_workflow_execution(start(ns, "clear", payload("json/plain", b"\"secret\"")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("encrypted"),
        "{}",
        refused.message()
    );
    let described = admin
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: ns.into(),
            execution: Some(WorkflowExecution {
                workflow_id: "clear".into(),
                run_id: String::new(),
            }),
        })
        .await;
    assert_eq!(
        described.unwrap_err().code(),
        Code::NotFound,
        "nothing was stored"
    );

    admin
        .start_workflow_execution(start(
            ns,
            "sealed",
            payload("binary/encrypted", b"\x00ciphertext"),
        ))
        .await
        .expect("encrypted input accepted");
    let signal = SignalWorkflowExecutionRequest {
        namespace: ns.into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: "sealed".into(),
            run_id: String::new(),
        }),
        signal_name: "s".into(),
        input: Some(payload("json/plain", b"1")),
        ..Default::default()
    };
    assert_eq!(
        admin
            .signal_workflow_execution(signal)
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );

    // A worker's cleartext result is refused too, and the task stays open.
    let token = poll_workflow_task(&mut worker, ns, "sealed").await;
    let clear_result = worker
        .respond_workflow_task_completed(completed(
            ns,
            &token,
            vec![complete_workflow(payload("json/plain", b"1"))],
        ))
        .await;
    assert_eq!(clear_result.unwrap_err().code(), Code::InvalidArgument);
    worker
        .respond_workflow_task_completed(completed(
            ns,
            &token,
            vec![complete_workflow(payload("binary/encrypted", b"\x01c"))],
        ))
        .await
        .expect("encrypted result accepted with the same token");
    let events = history(&mut admin, ns, "sealed").await;
    assert_eq!(count(&events, EventType::WorkflowExecutionSignaled), 0);
    assert_eq!(count(&events, EventType::WorkflowExecutionCompleted), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_timeout_closes_a_workflow_nobody_works_on() {
    let server = DevServer::start();
    let mut client = dev_client(&server, "client").await;
    let mut request = start("default", "times-out", payload("json/plain", b"1"));
    request.workflow_run_timeout = Some(prost_wkt_types::Duration {
        seconds: 1,
        nanos: 0,
    });
    client.start_workflow_execution(request).await.unwrap();
    // The close event is what a client waits for; it must come from the durable timer.
    let close = client
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "times-out".into(),
                run_id: String::new(),
            }),
            wait_new_event: true,
            history_event_filter_type:
                temporalio_protos::temporal::api::enums::v1::HistoryEventFilterType::CloseEvent
                    as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .history
        .unwrap_or_default()
        .events;
    assert_eq!(close.len(), 1, "exactly the close event");
    assert_eq!(
        close[0].event_type,
        EventType::WorkflowExecutionTimedOut as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_records_the_reason_and_signal_with_start_reuses_the_run() {
    use temporalio_protos::temporal::api::workflowservice::v1::{
        SignalWithStartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
    };
    let server = DevServer::start();
    let mut client = dev_client(&server, "client").await;
    let mut admin = dev_client(&server, "admin").await;
    let signal_with_start = || SignalWithStartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: "sws".into(),
        workflow_type: Some(WorkflowType { name: "raw".into() }),
        task_queue: queue("sws"),
        signal_name: "go".into(),
        signal_input: Some(payload("json/plain", b"1")),
        request_id: uuid_like(),
        ..Default::default()
    };
    let first = client
        .signal_with_start_workflow_execution(signal_with_start())
        .await
        .unwrap()
        .into_inner();
    assert!(first.started);
    let second = client
        .signal_with_start_workflow_execution(signal_with_start())
        .await
        .unwrap()
        .into_inner();
    assert!(!second.started);
    assert_eq!(second.run_id, first.run_id, "the open run is reused");
    let events = history(&mut client, "default", "sws").await;
    assert_eq!(count(&events, EventType::WorkflowExecutionSignaled), 2);
    assert_eq!(
        events[1].event_type,
        EventType::WorkflowExecutionSignaled as i32,
        "the signal precedes the first task"
    );

    // Terminate needs admin; the reason is stored.
    let terminate = TerminateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: "sws".into(),
            run_id: String::new(),
        }),
        reason: "operator cleanup".into(),
        ..Default::default()
    };
    assert_eq!(
        client
            .terminate_workflow_execution(terminate.clone())
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    admin.terminate_workflow_execution(terminate).await.unwrap();
    let events = history(&mut client, "default", "sws").await;
    let last = events.last().unwrap();
    assert_eq!(
        last.event_type,
        EventType::WorkflowExecutionTerminated as i32
    );
    match &last.attributes {
        Some(temporalio_protos::temporal::api::history::v1::history_event::Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
            assert_eq!(a.reason, "operator cleanup");
        }
        other => panic!("terminated event without attributes: {other:?}"),
    }
    let described = client
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "sws".into(),
                run_id: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let status = described
        .workflow_execution_info
        .map(|i| i.status)
        .unwrap_or_default();
    assert_eq!(
        status,
        temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus::Terminated as i32
    );
}

fn uuid_like() -> String {
    format!("{:?}", std::time::SystemTime::now())
}
