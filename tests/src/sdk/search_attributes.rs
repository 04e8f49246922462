//! Typed custom search attributes with the official SDK on any [`Target`]: registered through
//! the OperatorService (as the `temporal` CLI does), set at start and by an upsert, read back by
//! describe and list filters; an unregistered attribute or a value of the wrong type is refused
//! at start (InvalidArgument, nothing stored) and fails the upserting workflow task with
//! `BAD_SEARCH_ATTRIBUTES`. Each scenario uses its own workflow ids and task queue; the
//! attributes are registered idempotently, so scenarios may share a server.

// `#[workflow_methods]` turns each method into an associated constant that does not carry the
// method's doc comment.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use temporalio_client::{
    Client, Connection, WorkflowGetResultOptions, WorkflowHandle, WorkflowStartOptions,
    WorkflowTerminateOptions,
};
use temporalio_common::search_attributes::{SearchAttributeKey, SearchAttributes, Timestamp};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_protos::temporal::api::{
    common::v1::{
        Payload, SearchAttributes as ProtoSearchAttributes, WorkflowExecution, WorkflowType,
    },
    enums::v1::{EventType, IndexedValueType, WorkflowTaskFailedCause},
    history::v1::history_event::Attributes,
    operatorservice::v1::{AddSearchAttributesRequest, ListSearchAttributesRequest},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        CountWorkflowExecutionsRequest, DescribeWorkflowExecutionRequest,
        StartWorkflowExecutionRequest,
    },
};
use temporalio_sdk::{WorkerOptions, WorkflowContext, WorkflowResult};
use tonic::Code;

use super::{
    NAMESPACE, Target, WorkerHandle, client, connect, fetch_history, run_worker_with,
    scenarios::{ADMIN, Outcome, STARTER, WORKER, events_of, history_of},
};

/// A Keyword attribute set at start.
pub const CUSTOMER: &str = "LockstepCustomer";
/// An Int attribute the workflow upserts.
pub const PRIORITY: &str = "LockstepPriority";
/// A Datetime attribute set at start.
pub const DUE_AT: &str = "LockstepDueAt";
/// What [`UpsertWorkflow`] upserts into [`PRIORITY`] when asked for a good value.
pub const PRIORITY_VALUE: i64 = 7;
/// The patch [`UpsertWorkflow`] takes (so core upserts `TemporalChangeVersion`).
pub const PATCH: &str = "lockstep-sa-patch";
/// The time set into [`DUE_AT`]: 2026-03-01T00:00:00Z.
const DUE_AT_SECONDS: i64 = 1_772_323_200;

/// How long any wait may take.
const WAIT: Duration = Duration::from_secs(60);

/// Upserts [`PRIORITY`]: the Int it is registered with, or (when `wrong_type`) a Keyword value,
/// which the server must refuse.
#[workflow]
#[derive(Default)]
pub struct UpsertWorkflow;

#[workflow_methods]
impl UpsertWorkflow {
    #[run(name = "UpsertWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, wrong_type: bool) -> WorkflowResult<String> {
        if wrong_type {
            const AS_TEXT: SearchAttributeKey<String> = SearchAttributeKey::keyword(PRIORITY);
            ctx.upsert_search_attributes([AS_TEXT.value_set("high".to_string())]);
        } else {
            // Core records the patch in the predefined `TemporalChangeVersion` attribute.
            if ctx.patched(PATCH) {
                ctx.timer(Duration::from_millis(1)).await;
            }
            const PRIORITY_KEY: SearchAttributeKey<i64> = SearchAttributeKey::int(PRIORITY);
            ctx.upsert_search_attributes([PRIORITY_KEY.value_set(PRIORITY_VALUE)]);
        }
        ctx.timer(Duration::from_millis(10)).await;
        Ok("upserted".to_string())
    }
}

/// Registers [`CUSTOMER`], [`PRIORITY`] and [`DUE_AT`] in [`NAMESPACE`] (as admin; idempotent)
/// and checks ListSearchAttributes shows them with their types.
pub async fn register(target: &Target) {
    let connection = connect(&target.as_principal(ADMIN)).await;
    let mut operator = connection.operator_service();
    let wanted = [
        (CUSTOMER, IndexedValueType::Keyword),
        (PRIORITY, IndexedValueType::Int),
        (DUE_AT, IndexedValueType::Datetime),
    ];
    operator
        .add_search_attributes(tonic::Request::new(AddSearchAttributesRequest {
            search_attributes: wanted
                .iter()
                .map(|(name, kind)| (name.to_string(), *kind as i32))
                .collect(),
            namespace: NAMESPACE.into(),
        }))
        .await
        .unwrap_or_else(|e| panic!("AddSearchAttributes: {e}"));
    let listed = operator
        .list_search_attributes(tonic::Request::new(ListSearchAttributesRequest {
            namespace: NAMESPACE.into(),
        }))
        .await
        .unwrap_or_else(|e| panic!("ListSearchAttributes: {e}"))
        .into_inner();
    for (name, kind) in wanted {
        assert_eq!(
            listed.custom_attributes.get(name),
            Some(&(kind as i32)),
            "{name}"
        );
    }
    assert_eq!(
        listed.system_attributes.get("WorkflowId"),
        Some(&(IndexedValueType::Keyword as i32))
    );
}

fn worker_options(task_queue: &str) -> WorkerOptions {
    WorkerOptions::new(task_queue)
        .graceful_shutdown_period(Duration::from_secs(1))
        .register_workflow::<UpsertWorkflow>()
        .expect("register UpsertWorkflow")
        .build()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// Registers the attributes, starts a worker on a fresh task queue and connects the starter.
async fn prepare(target: &Target, scenario: &str) -> (WorkerHandle, Connection, String) {
    register(target).await;
    let task_queue = unique(scenario);
    let worker = run_worker_with(
        connect(&target.as_principal(WORKER)).await,
        worker_options(&task_queue),
    );
    let connection = connect(&target.as_principal(STARTER)).await;
    (worker, connection, task_queue)
}

/// Set at start, upserted by the workflow (and `TemporalChangeVersion` by core for a patch),
/// read back by describe and by list filters on all three types (polled: Temporal's
/// visibility is eventually consistent).
pub async fn typed_search_attributes(target: &Target) -> Outcome {
    let (worker, connection, task_queue) = prepare(target, "typed-sa").await;
    let workflow_id = unique("typed-sa");
    let customer = unique("acme");
    const CUSTOMER_KEY: SearchAttributeKey<String> = SearchAttributeKey::keyword(CUSTOMER);
    const DUE_AT_KEY: SearchAttributeKey<Timestamp> = SearchAttributeKey::datetime(DUE_AT);
    let options = WorkflowStartOptions::new(task_queue.clone(), workflow_id.clone())
        .search_attributes(SearchAttributes::new([
            CUSTOMER_KEY.value_set(customer.clone()),
            DUE_AT_KEY.value_set(Timestamp::new(DUE_AT_SECONDS, 0)),
        ]))
        .build();
    let handle = client(&connection)
        .start_workflow(UpsertWorkflow::run, false, options)
        .await
        .unwrap_or_else(|e| panic!("start {workflow_id}: {e}"));
    let result = tokio::time::timeout(WAIT, handle.get_result(WorkflowGetResultOptions::default()))
        .await
        .expect("the result in time")
        .expect("the workflow completes");
    assert_eq!(result, "upserted");
    let run_id = handle.run_id().expect("run id").to_string();

    let described = connection
        .workflow_service()
        .describe_workflow_execution(tonic::Request::new(DescribeWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.clone(),
                run_id: run_id.clone(),
            }),
        }))
        .await
        .expect("describe")
        .into_inner();
    let fields = described
        .workflow_execution_info
        .and_then(|info| info.search_attributes)
        .map(|sa| sa.indexed_fields)
        .unwrap_or_default();
    assert_eq!(json(fields.get(CUSTOMER)), serde_json::json!(customer));
    assert_eq!(
        json(fields.get(PRIORITY)),
        serde_json::json!(PRIORITY_VALUE)
    );
    assert!(fields.contains_key(DUE_AT), "{fields:?}");

    // The BETWEEN bounds stay clear of the value itself: Temporal's SQLite visibility compares
    // datetimes as strings in two formats, so an inclusive bound equal to the value misses.
    for query in [
        format!("{CUSTOMER} = '{customer}'"),
        format!("{CUSTOMER} = '{customer}' AND {PRIORITY} >= 7 AND {PRIORITY} < 8"),
        format!(
            "{CUSTOMER} = '{customer}' AND ({PRIORITY} = 1 OR \
             {DUE_AT} BETWEEN '2026-02-28T00:00:00Z' AND '2026-03-02T00:00:00Z')"
        ),
    ] {
        assert_eq!(count_eventually(&connection, &query, 1).await, 1, "{query}");
    }
    let patched = format!("{CUSTOMER} = '{customer}' AND TemporalChangeVersion = '{PATCH}'");
    assert_eq!(
        count_eventually(&connection, &patched, 1).await,
        1,
        "{patched}"
    );
    for query in [
        format!("{CUSTOMER} = '{customer}' AND {PRIORITY} > 7"),
        format!("{CUSTOMER} = '{customer}' AND {DUE_AT} < '2026-02-28T00:00:00Z'"),
    ] {
        assert_eq!(count_eventually(&connection, &query, 0).await, 0, "{query}");
    }

    let history = history_of(&connection, &workflow_id, &run_id).await;
    assert!(
        !events_of(&history, EventType::UpsertWorkflowSearchAttributes).is_empty(),
        "the upserts are recorded"
    );
    worker.shutdown().await.expect("the worker stops cleanly");
    Outcome {
        workflow_id,
        run_id,
        history,
    }
}

/// Starts with an unregistered attribute and with a value of the wrong type: InvalidArgument
/// naming the attribute, and no workflow exists afterwards.
pub async fn refused_at_start(target: &Target) {
    register(target).await;
    let connection = connect(&target.as_principal(STARTER)).await;
    let json_payload = |data: &str| Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
        data: data.as_bytes().to_vec(),
        ..Default::default()
    };
    for (name, value, needle) in [
        (
            "LockstepNeverRegistered",
            "\"x\"",
            "LockstepNeverRegistered",
        ),
        (
            PRIORITY,
            "\"high\"",
            "invalid value for search attribute LockstepPriority",
        ),
        (
            DUE_AT,
            "\"yesterday\"",
            "invalid value for search attribute LockstepDueAt",
        ),
        ("WorkflowId", "\"x\"", "WorkflowId attribute can't be set"),
    ] {
        let workflow_id = unique("refused-sa");
        let status = connection
            .workflow_service()
            .start_workflow_execution(tonic::Request::new(StartWorkflowExecutionRequest {
                namespace: NAMESPACE.into(),
                workflow_id: workflow_id.clone(),
                workflow_type: Some(WorkflowType {
                    name: "UpsertWorkflow".into(),
                }),
                task_queue: Some(TaskQueue {
                    name: unique("refused-sa"),
                    ..Default::default()
                }),
                request_id: unique("request"),
                search_attributes: Some(ProtoSearchAttributes {
                    indexed_fields: [(name.to_string(), json_payload(value))].into(),
                }),
                ..Default::default()
            }))
            .await
            .expect_err("a bad search attribute is refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert!(
            status.message().contains(needle),
            "{name}: {}",
            status.message()
        );
        let described = connection
            .workflow_service()
            .describe_workflow_execution(tonic::Request::new(DescribeWorkflowExecutionRequest {
                namespace: NAMESPACE.into(),
                execution: Some(WorkflowExecution {
                    workflow_id,
                    run_id: String::new(),
                }),
            }))
            .await
            .expect_err("nothing was started");
        assert_eq!(described.code(), Code::NotFound, "{name}");
    }
}

/// The workflow upserts a Keyword value into the Int attribute: its workflow task fails with
/// `BAD_SEARCH_ATTRIBUTES` naming the attribute, and the value is not stored.
pub async fn bad_upsert_fails_the_workflow_task(target: &Target) {
    let (worker, connection, task_queue) = prepare(target, "bad-upsert").await;
    let workflow_id = unique("bad-upsert");
    let handle = client(&connection)
        .start_workflow(
            UpsertWorkflow::run,
            true,
            WorkflowStartOptions::new(task_queue, workflow_id.clone()).build(),
        )
        .await
        .unwrap_or_else(|e| panic!("start {workflow_id}: {e}"));
    let run_id = handle.run_id().expect("run id").to_string();
    let failed = wait_for_failed_task(&connection, &workflow_id, &run_id).await;
    assert_eq!(failed.0, WorkflowTaskFailedCause::BadSearchAttributes);
    assert!(failed.1.contains(PRIORITY), "failure message: {}", failed.1);

    let admin = client(&connect(&target.as_principal(ADMIN)).await);
    let as_admin: WorkflowHandle<Client, upsert_workflow::Run> =
        WorkflowHandle::new(admin, handle.info().clone());
    as_admin
        .terminate(
            WorkflowTerminateOptions::builder()
                .reason("bad upsert")
                .build(),
        )
        .await
        .expect("terminate");
    let history = history_of(&connection, &workflow_id, &run_id).await;
    assert!(
        events_of(&history, EventType::UpsertWorkflowSearchAttributes).is_empty(),
        "a refused upsert writes no event"
    );
    worker.shutdown().await.expect("the worker stops cleanly");
}

/// Polls the history for the first WorkflowTaskFailed; its cause and failure message.
async fn wait_for_failed_task(
    connection: &Connection,
    workflow_id: &str,
    run_id: &str,
) -> (WorkflowTaskFailedCause, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        let history = fetch_history(connection, workflow_id, run_id).await;
        let failed = history.iter().find_map(|e| match &e.attributes {
            Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => Some((
                a.cause(),
                a.failure
                    .as_ref()
                    .map(|f| f.message.clone())
                    .unwrap_or_default(),
            )),
            _ => None,
        });
        if let Some(failed) = failed {
            return failed;
        }
        assert!(
            Instant::now() < deadline,
            "no WorkflowTaskFailed within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// CountWorkflowExecutions of `query`, re-asked (for at most [`WAIT`]) until it is `expected`;
/// returns the last count.
async fn count_eventually(connection: &Connection, query: &str, expected: i64) -> i64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let count = connection
            .workflow_service()
            .count_workflow_executions(tonic::Request::new(CountWorkflowExecutionsRequest {
                namespace: NAMESPACE.into(),
                query: query.to_string(),
            }))
            .await
            .unwrap_or_else(|e| panic!("count {query:?}: {e}"))
            .into_inner()
            .count;
        if count == expected || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn json(payload: Option<&Payload>) -> serde_json::Value {
    payload
        .and_then(|p| serde_json::from_slice(&p.data).ok())
        .unwrap_or(serde_json::Value::Null)
}
