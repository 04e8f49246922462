//! Retention end to end: a server started with `--min-retention-secs 1`, a namespace created by
//! the real `temporal` CLI with a 3-second retention, workflows completed by a raw worker. After
//! the retention a run is gone from describe, history, list and count, and after the server
//! stops no row of it is left in any keyspace of the sled store. A run whose retention timer
//! was armed before a SIGKILL is still deleted after the restart: the timer is durable.

use std::time::{Duration, Instant};

use lockstep_server::store::{Keyspace, SledStore, Store};
use lockstep_tests::{DevServer, clients::dev_client};
use temporalio_protos::temporal::api::{
    command::v1::{Command, CompleteWorkflowExecutionCommandAttributes, command::Attributes},
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::CommandType,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        CountWorkflowExecutionsRequest, DescribeWorkflowExecutionRequest,
        GetWorkflowExecutionHistoryRequest, ListWorkflowExecutionsRequest,
        PollWorkflowTaskQueueRequest, RespondWorkflowTaskCompletedRequest,
        StartWorkflowExecutionRequest, workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::{Code, transport::Channel};

use super::clients::temporal;

type Client = WorkflowServiceClient<Channel>;

const SHORT: &str = "short-lived";
const RETENTION: Duration = Duration::from_secs(3);
/// How long after the retention a deletion may take (timer precision, a loaded machine).
const SLACK: Duration = Duration::from_secs(20);

fn execution(workflow_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: String::new(),
    })
}

/// Starts a workflow in `namespace` and completes it through a raw worker; returns its run id.
async fn complete_one(
    client: &mut Client,
    worker: &mut Client,
    namespace: &str,
    id: &str,
) -> String {
    let queue = Some(TaskQueue {
        name: format!("{id}-queue"),
        ..Default::default()
    });
    let run_id = client
        .start_workflow_execution(StartWorkflowExecutionRequest {
            namespace: namespace.into(),
            workflow_id: id.into(),
            workflow_type: Some(WorkflowType {
                name: "retained".into(),
            }),
            task_queue: queue.clone(),
            request_id: format!("{id}-request"),
            // A timer that would outlive the run's retention: it must be deleted with the run.
            workflow_execution_timeout: Some(prost_wkt_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect("start")
        .into_inner()
        .run_id;
    let task = worker
        .poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
            namespace: namespace.into(),
            task_queue: queue,
            identity: "retention-worker".into(),
            ..Default::default()
        })
        .await
        .expect("poll")
        .into_inner();
    assert!(!task.task_token.is_empty(), "a workflow task is ready");
    worker
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: namespace.into(),
            task_token: task.task_token,
            identity: "retention-worker".into(),
            commands: vec![Command {
                command_type: CommandType::CompleteWorkflowExecution as i32,
                attributes: Some(Attributes::CompleteWorkflowExecutionCommandAttributes(
                    CompleteWorkflowExecutionCommandAttributes::default(),
                )),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("complete");
    run_id
}

/// Whether describe finds the workflow (NotFound = false; anything else fails the test).
async fn described(client: &mut Client, namespace: &str, id: &str) -> bool {
    match client
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: namespace.into(),
            execution: execution(id),
        })
        .await
    {
        Ok(_) => true,
        Err(status) if status.code() == Code::NotFound => false,
        Err(status) => panic!("describe {id}: {status:?}"),
    }
}

/// The workflow ids `query` lists in `namespace`, and what count says.
async fn listed(client: &mut Client, namespace: &str, query: &str) -> (Vec<String>, i64) {
    let ids = client
        .list_workflow_executions(ListWorkflowExecutionsRequest {
            namespace: namespace.into(),
            query: query.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .executions
        .into_iter()
        .filter_map(|e| e.execution.map(|x| x.workflow_id))
        .collect();
    let count = client
        .count_workflow_executions(CountWorkflowExecutionsRequest {
            namespace: namespace.into(),
            query: query.into(),
        })
        .await
        .expect("count")
        .into_inner()
        .count;
    (ids, count)
}

/// Checks the run is visible everywhere right after it closed.
async fn assert_visible(client: &mut Client, id: &str) {
    assert!(described(client, SHORT, id).await, "{id} is described");
    let query = format!("WorkflowId = '{id}' AND ExecutionStatus = 'Completed'");
    assert_eq!(
        listed(client, SHORT, &query).await,
        (vec![id.to_string()], 1)
    );
}

/// Waits until describe says NotFound (at most retention + slack after `closed`), then checks
/// history, list and count agree.
async fn assert_deleted(client: &mut Client, id: &str, closed: Instant) {
    while described(client, SHORT, id).await {
        assert!(
            closed.elapsed() < RETENTION + SLACK,
            "{id} still exists {:?} after it closed",
            closed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // `closed` was taken just after the server's close time.
    assert!(
        closed.elapsed() + Duration::from_millis(500) >= RETENTION,
        "{id} deleted after {:?}, before its retention",
        closed.elapsed()
    );
    let history = client
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: SHORT.into(),
            execution: execution(id),
            ..Default::default()
        })
        .await
        .expect_err("no history after retention");
    assert_eq!(history.code(), Code::NotFound);
    let query = format!("WorkflowId = '{id}'");
    assert_eq!(listed(client, SHORT, &query).await, (vec![], 0));
}

/// Every stored key and value that mentions `needle`, by keyspace.
fn rows_mentioning(store: &SledStore, needle: &str) -> Vec<(Keyspace, String)> {
    let needle = needle.as_bytes();
    let mentions = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    Keyspace::ALL
        .into_iter()
        .flat_map(|keyspace| {
            store
                .scan_prefix(keyspace, b"", usize::MAX)
                .expect("scan")
                .into_iter()
                .filter(|(key, value)| mentions(key) || mentions(value))
                .map(move |(key, _)| (keyspace, String::from_utf8_lossy(&key).into_owned()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_runs_disappear_after_a_short_retention_even_across_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = DevServer::start_in(&data, &["--min-retention-secs", "1"]);

    // The API refuses what the knob does not allow, and the real CLI creates the namespace.
    let create = |name: &str, retention: &str| {
        let args = [
            "operator",
            "namespace",
            "create",
            "--namespace",
            name,
            "--retention",
            retention,
        ];
        let output = temporal(&server, true, &args);
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, stderr) = create("too-short", "500ms");
    assert!(
        !ok && stderr.contains("at least 1 s"),
        "below min_retention_secs: {stderr}"
    );
    let (ok, stderr) = create(SHORT, "3s");
    assert!(ok, "create: {stderr}");

    // Across a SIGKILL: the retention timer was written with the closing batch.
    let mut client = dev_client(&server, "client").await;
    let mut worker = dev_client(&server, "worker").await;
    let survivor = format!("retained-across-kill-{}", uuid::Uuid::new_v4());
    let survivor_run = complete_one(&mut client, &mut worker, SHORT, &survivor).await;
    let survivor_closed = Instant::now();
    assert_visible(&mut client, &survivor).await;
    server.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.restart();
    let mut client = dev_client(&server, "client").await;
    let mut worker = dev_client(&server, "worker").await;
    assert!(
        described(&mut client, SHORT, &survivor).await,
        "kept during its retention, after the restart"
    );

    // The ordinary path, and a control run in a namespace with the default retention.
    let plain = format!("retained-{}", uuid::Uuid::new_v4());
    let plain_run = complete_one(&mut client, &mut worker, SHORT, &plain).await;
    let plain_closed = Instant::now();
    assert_visible(&mut client, &plain).await;
    let control = format!("kept-{}", uuid::Uuid::new_v4());
    complete_one(&mut client, &mut worker, "default", &control).await;

    assert_deleted(&mut client, &survivor, survivor_closed).await;
    assert_deleted(&mut client, &plain, plain_closed).await;
    assert!(described(&mut client, "default", &control).await);
    drop((client, worker));
    assert!(server.terminate(), "SIGTERM exits cleanly");

    let store = SledStore::open(&data.join("db")).expect("open the stopped server's store");
    for (id, run) in [(&survivor, &survivor_run), (&plain, &plain_run)] {
        assert_eq!(rows_mentioning(&store, id), vec![], "rows of {id} remain");
        assert_eq!(
            rows_mentioning(&store, run),
            vec![],
            "rows of run {run} remain"
        );
    }
    let kept = rows_mentioning(&store, &control);
    for keyspace in [
        Keyspace::Executions,
        Keyspace::History,
        Keyspace::Visibility,
    ] {
        assert!(
            kept.iter().any(|(k, _)| *k == keyspace),
            "the control run has {keyspace:?} rows (the scan sees rows): {kept:?}"
        );
    }
}
