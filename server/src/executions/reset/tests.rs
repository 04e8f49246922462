//! ResetWorkflowExecution through [`Executions`] on a memory store: the runs it writes, the
//! current-run pointer, idempotency, resets of closed and non-current runs, and refusals that
//! change nothing.

// `reset_reapply_type` is deprecated but still sent by the CLI and SDKs.
#![allow(deprecated)]

use std::sync::Arc;

use temporalio_protos::temporal::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::{EventType, ResetReapplyExcludeType, ResetReapplyType, WorkflowExecutionStatus},
    history::v1::{HistoryEvent, history_event::Attributes},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        DescribeWorkflowExecutionRequest, PollWorkflowTaskQueueRequest,
        ResetStickyTaskQueueRequest, ResetWorkflowExecutionRequest, SignalWorkflowExecutionRequest,
        StartWorkflowExecutionRequest,
    },
};

use prost::Message;

use crate::{
    engine::{MutableState, RESETTER_IDENTITY},
    executions::{ExecutionError, Executions, RunKey, keys},
    namespaces::Namespaces,
    store::{Committer, Keyspace, MemoryStore, RecordingStore, Store, WriteOp},
    tokens::TokenKey,
};

const NS: &str = "default";
const WF: &str = "wf";

async fn executions() -> Arc<Executions> {
    executions_over(Arc::new(MemoryStore::default()))
}

fn executions_over(store: Arc<dyn Store>) -> Arc<Executions> {
    let committer = Committer::start(store);
    let namespaces = Arc::new(Namespaces::load(committer.clone()).unwrap());
    Executions::open(committer, TokenKey::from_bytes([7; 32]), namespaces).unwrap()
}

/// A running workflow whose first task is still scheduled (event 2), signalled twice (3, 4).
async fn started_and_signalled(executions: &Executions) -> String {
    let started = executions
        .start_workflow(&StartWorkflowExecutionRequest {
            namespace: NS.into(),
            workflow_id: WF.into(),
            workflow_type: Some(WorkflowType { name: "T".into() }),
            task_queue: Some(TaskQueue {
                name: "q".into(),
                ..Default::default()
            }),
            request_id: "start-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    for request_id in ["s1", "s2"] {
        executions
            .signal(&SignalWorkflowExecutionRequest {
                namespace: NS.into(),
                workflow_execution: Some(execution("")),
                signal_name: "go".into(),
                request_id: request_id.into(),
                identity: "client".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    started.run_id
}

fn execution(run_id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: WF.into(),
        run_id: run_id.into(),
    }
}

fn reset_request(run_id: &str, finish: i64, request_id: &str) -> ResetWorkflowExecutionRequest {
    ResetWorkflowExecutionRequest {
        namespace: NS.into(),
        workflow_execution: Some(execution(run_id)),
        reason: "fix the bug".into(),
        workflow_task_finish_event_id: finish,
        request_id: request_id.into(),
        ..Default::default()
    }
}

fn history(executions: &Executions, run_id: &str) -> Vec<HistoryEvent> {
    executions
        .read_events(&RunKey::new(NS, WF, run_id), 1, i64::MAX)
        .unwrap()
}

fn types(events: &[HistoryEvent]) -> Vec<EventType> {
    events.iter().map(HistoryEvent::event_type).collect()
}

fn status(executions: &Executions, run_id: &str) -> (WorkflowExecutionStatus, String) {
    let described = executions
        .describe(&DescribeWorkflowExecutionRequest {
            namespace: NS.into(),
            execution: Some(execution(run_id)),
        })
        .unwrap();
    let info = described.workflow_execution_info.unwrap();
    let reset_run_id = described.workflow_extended_info.unwrap().reset_run_id;
    (
        info.status(),
        format!("{}/{reset_run_id}", info.execution.unwrap().run_id),
    )
}

#[tokio::test]
async fn reset_terminates_the_base_and_makes_the_new_run_current() {
    let executions = executions().await;
    let base = started_and_signalled(&executions).await;

    let new = executions
        .reset_workflow(&reset_request("", 3, "reset-1"))
        .await
        .unwrap()
        .run_id;
    assert_ne!(new, base);
    let events = history(&executions, &new);
    assert_eq!(
        types(&events),
        [
            EventType::WorkflowExecutionStarted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled,
        ]
    );
    let base_events = history(&executions, &base);
    assert_eq!(events[..2], base_events[..2]);
    let Some(Attributes::WorkflowExecutionTerminatedEventAttributes(t)) =
        &base_events.last().unwrap().attributes
    else {
        panic!("{base_events:?}")
    };
    assert_eq!(
        (t.reason.as_str(), t.identity.as_str()),
        ("fix the bug", RESETTER_IDENTITY)
    );
    assert_eq!(
        status(&executions, &base),
        (WorkflowExecutionStatus::Terminated, format!("{base}/{new}"))
    );
    assert_eq!(
        status(&executions, ""),
        (WorkflowExecutionStatus::Running, format!("{new}/")),
        "the new run is current"
    );

    // The same request id answers the same run; a new one resets again.
    let again = executions
        .reset_workflow(&reset_request("", 3, "reset-1"))
        .await;
    assert_eq!(again.unwrap().run_id, new);
    assert_eq!(history(&executions, &new).len(), 7, "nothing was written");

    // The new run's workflow task is dispatched; the base's stale one is skipped.
    let task = executions
        .poll_workflow_task(&PollWorkflowTaskQueueRequest {
            namespace: NS.into(),
            task_queue: Some(TaskQueue {
                name: "q".into(),
                ..Default::default()
            }),
            identity: "w".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(task.workflow_execution.unwrap().run_id, new);
    assert_eq!(task.started_event_id, 8);
}

#[tokio::test]
async fn closed_and_non_current_runs_can_be_reset() {
    let executions = executions().await;
    let base = started_and_signalled(&executions).await;
    let first = executions
        .reset_workflow(&reset_request(&base, 3, "reset-1"))
        .await
        .unwrap()
        .run_id;
    // The base is closed and no longer current: resetting it terminates the current run.
    let mut request = reset_request(&base, 3, "reset-2");
    request.reset_reapply_exclude_types = vec![ResetReapplyExcludeType::Signal as i32];
    let second = executions.reset_workflow(&request).await.unwrap().run_id;
    assert_eq!(
        status(&executions, &first).0,
        WorkflowExecutionStatus::Terminated
    );
    assert_eq!(status(&executions, "").1, format!("{second}/"));
    assert_eq!(
        types(&history(&executions, &second))[2..],
        [
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskFailed,
            EventType::WorkflowTaskScheduled,
        ],
        "signals excluded"
    );
}

#[tokio::test]
async fn reapply_type_none_reapplies_no_signal() {
    let executions = executions().await;
    started_and_signalled(&executions).await;
    let mut request = reset_request("", 3, "reset-1");
    request.reset_reapply_type = ResetReapplyType::None as i32;
    let new = executions.reset_workflow(&request).await.unwrap().run_id;
    let types = types(&history(&executions, &new));
    assert!(
        !types.contains(&EventType::WorkflowExecutionSignaled),
        "{types:?}"
    );
}

/// Temporal's mapping (`GetResetReapplyExcludeTypes`): the deprecated type says what to
/// include (SIGNAL: signals only), then every exclusion takes its kind out.
#[test]
fn reapply_types_and_exclusions_follow_temporal() {
    use super::{Reapply, validate};
    use ResetReapplyExcludeType as X;
    use ResetReapplyType as T;
    let reapply = |ty: T, exclude: &[X]| {
        let mut request = reset_request("", 3, "r");
        request.reset_reapply_type = ty as i32;
        request.reset_reapply_exclude_types = exclude.iter().map(|x| *x as i32).collect();
        validate(&request).unwrap()
    };
    let of = |signals, updates| Reapply { signals, updates };
    assert_eq!(reapply(T::Unspecified, &[]), of(true, true));
    assert_eq!(reapply(T::AllEligible, &[]), of(true, true));
    assert_eq!(reapply(T::Signal, &[]), of(true, false));
    assert_eq!(reapply(T::None, &[]), of(false, false));
    assert_eq!(reapply(T::Unspecified, &[X::Update]), of(true, false));
    assert_eq!(reapply(T::Unspecified, &[X::Signal]), of(false, true));
    assert_eq!(reapply(T::AllEligible, &[X::Nexus]), of(true, true));
    assert_eq!(reapply(T::Signal, &[X::Signal]), of(false, false));
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let executions = executions().await;
    let base = started_and_signalled(&executions).await;
    let before = history(&executions, &base);
    let invalid = |result: Result<_, ExecutionError>| match result {
        Err(ExecutionError::InvalidArgument(m))
        | Err(ExecutionError::Engine(crate::engine::EngineError::InvalidArgument(m))) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    for finish in [0, 1, 6] {
        let message = invalid(
            executions
                .reset_workflow(&reset_request("", finish, "r"))
                .await,
        );
        assert!(message.contains("must be > 1"), "{message}");
    }
    // Before event 2 no workflow task is pending: not a reset point.
    let message = invalid(executions.reset_workflow(&reset_request("", 2, "r")).await);
    assert!(message.contains("Can only reset"), "{message}");
    let message = invalid(executions.reset_workflow(&reset_request("", 3, "")).await);
    assert!(message.contains("RequestId"), "{message}");
    let mut no_execution = reset_request("", 3, "r");
    no_execution.workflow_execution = None;
    invalid(executions.reset_workflow(&no_execution).await);
    let mut bad_type = reset_request("", 3, "r");
    bad_type.reset_reapply_exclude_types = vec![99];
    invalid(executions.reset_workflow(&bad_type).await);
    let mut bad_type = reset_request("", 3, "r");
    bad_type.reset_reapply_type = 42;
    invalid(executions.reset_workflow(&bad_type).await);
    let mut operations = reset_request("", 3, "r");
    operations.post_reset_operations = vec![Default::default()];
    let message = invalid(executions.reset_workflow(&operations).await);
    assert!(message.contains("post_reset_operations"), "{message}");
    assert!(matches!(
        executions
            .reset_workflow(&reset_request("no-such-run", 3, "r"))
            .await,
        Err(ExecutionError::NotFound(_))
    ));
    assert_eq!(history(&executions, &base), before);
    assert_eq!(status(&executions, "").1, format!("{base}/"));
}

#[tokio::test]
async fn reset_sticky_task_queue_needs_a_running_run() {
    let executions = executions().await;
    let base = started_and_signalled(&executions).await;
    let sticky = |run_id: &str| ResetStickyTaskQueueRequest {
        namespace: NS.into(),
        execution: Some(execution(run_id)),
    };
    executions
        .reset_sticky_task_queue(&sticky(""))
        .await
        .unwrap();
    executions
        .reset_workflow(&reset_request("", 3, "reset-1"))
        .await
        .unwrap();
    assert!(
        executions
            .reset_sticky_task_queue(&sticky(&base))
            .await
            .is_err()
    );
    assert!(
        executions
            .reset_sticky_task_queue(&sticky("missing"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_terminated_run_the_new_run_and_the_pointer_are_one_batch() {
    let store = Arc::new(RecordingStore::default());
    let executions = executions_over(store.clone());
    let base = started_and_signalled(&executions).await;
    store.take_batches();

    let new = executions
        .reset_workflow(&reset_request("", 3, "reset-1"))
        .await
        .unwrap()
        .run_id;
    let batches = store.take_batches();
    assert_eq!(batches.len(), 1, "a reset applies exactly one batch");
    let put = |keyspace: Keyspace, key: &[u8]| {
        batches[0].ops().iter().find_map(|op| match op {
            WriteOp::Put {
                keyspace: k,
                key: written,
                value,
            } if *k == keyspace && written == key => Some(value.clone()),
            _ => None,
        })
    };
    let state = |run_id: &str| {
        let bytes = put(
            Keyspace::Executions,
            &keys::state(&RunKey::new(NS, WF, run_id)),
        )
        .unwrap_or_else(|| panic!("the batch writes the state of {run_id}"));
        MutableState::decode(bytes.as_slice()).unwrap()
    };
    assert_eq!(state(&base).status(), WorkflowExecutionStatus::Terminated);
    assert_eq!(state(&base).reset_run_id(), new);
    assert_eq!(state(&new).status(), WorkflowExecutionStatus::Running);
    assert_eq!(
        put(Keyspace::Executions, &keys::current_run(NS, WF)),
        Some(new.as_bytes().to_vec()),
        "the batch moves the current-run pointer"
    );
    let new_events = batches[0]
        .ops()
        .iter()
        .filter(|op| {
            op.keyspace() == Keyspace::History
                && op
                    .key()
                    .starts_with(&keys::history_prefix(&RunKey::new(NS, WF, &new)))
        })
        .count();
    assert_eq!(new_events, 7, "and the whole history of the new run");
}
