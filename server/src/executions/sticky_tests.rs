//! Sticky execution end to end inside the server: dispatch to the worker's queue with only the
//! new events, the move to the normal queue after the schedule-to-start timeout, and
//! ShutdownWorker.

use std::{sync::Arc, time::Duration};

use temporalio_protos::temporal::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::{EventType, TaskQueueKind},
    taskqueue::v1::{StickyExecutionAttributes, TaskQueue},
    workflowservice::v1::{
        PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse,
        RespondWorkflowTaskCompletedRequest, ShutdownWorkerRequest, SignalWorkflowExecutionRequest,
        StartWorkflowExecutionRequest,
    },
};

use super::Executions;
use crate::{
    namespaces::{DEFAULT_NAMESPACE, Namespaces, PayloadPolicy},
    store::{Committer, MemoryStore},
    tokens::TokenKey,
};

const NORMAL: &str = "normal-q";
const STICKY: &str = "worker-1-sticky";

async fn executions() -> Arc<Executions> {
    executions_over(Arc::new(MemoryStore::default())).await
}

async fn executions_over(store: Arc<MemoryStore>) -> Arc<Executions> {
    let committer = Committer::start(store);
    let namespaces = Arc::new(Namespaces::load(committer.clone()).unwrap());
    namespaces
        .ensure(
            DEFAULT_NAMESPACE,
            PayloadPolicy::Any,
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
    let executions =
        Executions::open(committer, TokenKey::from_bytes([5; 32]), namespaces).unwrap();
    executions.spawn_timer_driver();
    executions
}

fn queue(name: &str, kind: TaskQueueKind) -> Option<TaskQueue> {
    Some(TaskQueue {
        name: name.into(),
        kind: kind as i32,
        normal_name: String::new(),
    })
}

async fn poll(
    executions: &Executions,
    name: &str,
    kind: TaskQueueKind,
) -> PollWorkflowTaskQueueResponse {
    let request = PollWorkflowTaskQueueRequest {
        namespace: DEFAULT_NAMESPACE.into(),
        task_queue: queue(name, kind),
        ..Default::default()
    };
    let poll = executions.poll_workflow_task(&request);
    let task = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("a task within 10 s")
        .unwrap();
    assert!(!task.task_token.is_empty(), "a task, not an empty poll");
    task
}

fn event_ids(task: &PollWorkflowTaskQueueResponse) -> Vec<i64> {
    task.history
        .as_ref()
        .unwrap()
        .events
        .iter()
        .map(|e| e.event_id)
        .collect()
}

/// Starts a run, completes its first task (from the normal queue) with sticky attributes and a
/// long timer, then signals it: its second task waits on the sticky queue.
async fn sticky_run(executions: &Executions, sticky_timeout_secs: i64) {
    executions
        .start_workflow(&StartWorkflowExecutionRequest {
            namespace: DEFAULT_NAMESPACE.into(),
            workflow_id: "wf".into(),
            workflow_type: Some(WorkflowType { name: "t".into() }),
            task_queue: queue(NORMAL, TaskQueueKind::Normal),
            request_id: "start".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let first = poll(executions, NORMAL, TaskQueueKind::Normal).await;
    assert_eq!(event_ids(&first), [1, 2, 3]);
    let timer = crate::engine::test_support::start_timer_cmd("t", 3_600_000);
    executions
        .complete_workflow_task(&RespondWorkflowTaskCompletedRequest {
            namespace: DEFAULT_NAMESPACE.into(),
            task_token: first.task_token,
            commands: vec![timer],
            sticky_attributes: Some(StickyExecutionAttributes {
                worker_task_queue: queue(STICKY, TaskQueueKind::Sticky),
                schedule_to_start_timeout: Some(prost_wkt_types::Duration {
                    seconds: sticky_timeout_secs,
                    nanos: 0,
                }),
            }),
            ..Default::default()
        })
        .await
        .unwrap(); // 4 completed, 5 timer started
    executions
        .signal(&SignalWorkflowExecutionRequest {
            namespace: DEFAULT_NAMESPACE.into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: "wf".into(),
                run_id: String::new(),
            }),
            signal_name: "go".into(),
            request_id: "signal".into(),
            ..Default::default()
        })
        .await
        .unwrap(); // 6 signaled, 7 scheduled (sticky)
}

#[tokio::test]
async fn the_sticky_queue_gets_only_the_new_events() {
    let executions = executions().await;
    sticky_run(&executions, 10).await;
    let second = poll(&executions, STICKY, TaskQueueKind::Sticky).await;
    assert_eq!(second.previous_started_event_id, 3);
    assert_eq!(
        event_ids(&second),
        [4, 5, 6, 7, 8],
        "events after the previous Started"
    );
    let queue = second.workflow_execution_task_queue.unwrap();
    assert_eq!(
        (queue.name.as_str(), queue.kind),
        (NORMAL, TaskQueueKind::Normal as i32)
    );
}

#[tokio::test]
async fn a_task_nobody_takes_from_the_sticky_queue_moves_to_the_normal_queue() {
    let executions = executions().await;
    sticky_run(&executions, 1).await;
    let moved = poll(&executions, NORMAL, TaskQueueKind::Normal).await;
    let events = &moved.history.as_ref().unwrap().events;
    assert_eq!(
        events.first().map(|e| e.event_id),
        Some(1),
        "the full history"
    );
    let types: Vec<EventType> = events[6..].iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskTimedOut,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted
        ]
    );
    assert_eq!(moved.attempt, 1, "a sticky timeout keeps the attempt");
}

#[tokio::test]
async fn shutdown_worker_moves_its_waiting_tasks_at_once() {
    let executions = executions().await;
    sticky_run(&executions, 600).await;
    executions
        .shutdown_worker(&ShutdownWorkerRequest {
            namespace: DEFAULT_NAMESPACE.into(),
            sticky_task_queue: STICKY.into(),
            ..Default::default()
        })
        .await;
    let moved = poll(&executions, NORMAL, TaskQueueKind::Normal).await;
    assert_eq!(event_ids(&moved).first(), Some(&1), "the full history");
    assert_eq!(
        moved.started_event_id, 10,
        "scheduled 7, timed out 8, scheduled 9, started 10"
    );
}

#[tokio::test]
async fn a_restart_rearms_the_sticky_timeout_from_the_task_row() {
    let store = Arc::new(MemoryStore::default());
    let before = executions_over(store.clone()).await;
    sticky_run(&before, 1).await;
    before.shutdown(); // Its timers die with it.
    let after = executions_over(store).await;
    let moved = poll(&after, NORMAL, TaskQueueKind::Normal).await;
    assert_eq!(event_ids(&moved).first(), Some(&1), "the full history");
    assert_eq!(moved.started_event_id, 10);
}
