//! List/Count against a model: 1,000 workflows of mixed types, task queues, statuses, start
//! times and registered custom search attributes (Keyword, Int, Datetime); every supported
//! filter returns exactly the expected set, and paging returns each execution once.

use std::collections::BTreeSet;

use futures::future::join_all;
use lockstep_tests::{
    DevServer,
    clients::{dev_client, dev_operator_client},
};
use temporalio_protos::temporal::api::{
    common::v1::{Payload, SearchAttributes, WorkflowExecution, WorkflowType},
    enums::v1::IndexedValueType,
    operatorservice::v1::AddSearchAttributesRequest,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest,
        StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
    },
};
use tonic::Code;

const N: usize = 1000;

/// What the model says a filter selects.
type Predicate = Box<dyn Fn(&Model) -> bool>;
const TYPES: [&str; 3] = ["Alpha", "Beta", "Gamma"];

/// The model of one started workflow.
struct Model {
    id: String,
    workflow_type: &'static str,
    task_queue: &'static str,
    terminated: bool,
    started_ms: i64,
    /// The custom attributes, unset on every eleventh workflow.
    custom: Option<Custom>,
}

/// The registered custom attributes of one workflow.
struct Custom {
    /// `VisCustomer` (Keyword): `cust-{i % 7}`.
    customer: String,
    /// `VisPriority` (Int): `i % 10`.
    priority: i64,
    /// `VisDueAt` (Datetime): 2026-01-01T00:00:00Z plus `i` hours, in ms.
    due_ms: i64,
}

const DUE_BASE_MS: i64 = 1_767_225_600_000;
const HOUR_MS: i64 = 3_600_000;

fn custom(i: usize) -> Option<Custom> {
    (!i.is_multiple_of(11)).then(|| Custom {
        customer: format!("cust-{}", i % 7),
        priority: (i % 10) as i64,
        due_ms: DUE_BASE_MS + i as i64 * HOUR_MS,
    })
}

fn search_attributes(custom: &Custom) -> SearchAttributes {
    let json = |value: serde_json::Value| Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
        data: value.to_string().into_bytes(),
        ..Default::default()
    };
    SearchAttributes {
        indexed_fields: [
            (
                "VisCustomer".to_string(),
                json(custom.customer.clone().into()),
            ),
            ("VisPriority".to_string(), json(custom.priority.into())),
            ("VisDueAt".to_string(), json(rfc3339(custom.due_ms).into())),
        ]
        .into(),
    }
}

/// The model's value of a custom attribute, through `f` (false when unset).
fn has(m: &Model, f: impl Fn(&Custom) -> bool) -> bool {
    m.custom.as_ref().is_some_and(f)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_filter_matches_the_model_and_pages_return_each_once() {
    let server = DevServer::start();
    let client = dev_client(&server, "client").await;
    let admin = dev_client(&server, "admin").await;
    dev_operator_client(&server, "admin")
        .await
        .add_search_attributes(AddSearchAttributesRequest {
            search_attributes: [
                ("VisCustomer".to_string(), IndexedValueType::Keyword as i32),
                ("VisPriority".to_string(), IndexedValueType::Int as i32),
                ("VisDueAt".to_string(), IndexedValueType::Datetime as i32),
            ]
            .into(),
            namespace: "default".into(),
        })
        .await
        .expect("register the custom attributes");
    let mut model = Vec::with_capacity(N);
    let mut halfway_ms = 0;
    for chunk in 0..N / 50 {
        if chunk == N / 100 {
            // A clean time boundary for the StartTime filters.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            halfway_ms = now_ms();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let before = now_ms();
        let starts = (chunk * 50..chunk * 50 + 50).map(|i| {
            let mut client = client.clone();
            async move {
                client
                    .start_workflow_execution(StartWorkflowExecutionRequest {
                        namespace: "default".into(),
                        workflow_id: format!("vis-{i:04}"),
                        workflow_type: Some(WorkflowType {
                            name: TYPES[i % 3].into(),
                        }),
                        task_queue: Some(TaskQueue {
                            name: if i % 2 == 0 { "even" } else { "odd" }.into(),
                            ..Default::default()
                        }),
                        request_id: format!("vis-request-{i}"),
                        search_attributes: custom(i).as_ref().map(search_attributes),
                        ..Default::default()
                    })
                    .await
                    .map(|_| ())
            }
        });
        for result in join_all(starts).await {
            result.expect("start");
        }
        for i in chunk * 50..chunk * 50 + 50 {
            model.push(Model {
                id: format!("vis-{i:04}"),
                workflow_type: TYPES[i % 3],
                task_queue: if i % 2 == 0 { "even" } else { "odd" },
                terminated: i % 5 == 0,
                started_ms: before,
                custom: custom(i),
            });
        }
    }
    let terminations = model.iter().filter(|m| m.terminated).map(|m| {
        let mut admin = admin.clone();
        let id = m.id.clone();
        async move {
            admin
                .terminate_workflow_execution(TerminateWorkflowExecutionRequest {
                    namespace: "default".into(),
                    workflow_execution: Some(WorkflowExecution {
                        workflow_id: id,
                        run_id: String::new(),
                    }),
                    reason: "visibility test".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ())
        }
    });
    for result in join_all(terminations).await {
        result.expect("terminate");
    }

    let list = |query: String, page_size: i32| {
        let mut client = client.clone();
        async move {
            let mut ids = Vec::new();
            let mut token = Vec::new();
            loop {
                let page = client
                    .list_workflow_executions(ListWorkflowExecutionsRequest {
                        namespace: "default".into(),
                        page_size,
                        next_page_token: token,
                        query: query.clone(),
                    })
                    .await
                    .expect("list")
                    .into_inner();
                ids.extend(
                    page.executions
                        .into_iter()
                        .filter_map(|e| e.execution.map(|x| x.workflow_id)),
                );
                if page.next_page_token.is_empty() {
                    return ids;
                }
                token = page.next_page_token;
            }
        }
    };
    let count = |query: String| {
        let mut client = client.clone();
        async move {
            client
                .count_workflow_executions(CountWorkflowExecutionsRequest {
                    namespace: "default".into(),
                    query,
                })
                .await
                .expect("count")
                .into_inner()
                .count
        }
    };
    let halfway = rfc3339(halfway_ms);
    let filters: Vec<(String, Predicate)> = vec![
        (String::new(), Box::new(|_| true)),
        (
            "WorkflowType = 'Alpha'".into(),
            Box::new(|m| m.workflow_type == "Alpha"),
        ),
        (
            "WorkflowType != 'Alpha'".into(),
            Box::new(|m| m.workflow_type != "Alpha"),
        ),
        (
            "WorkflowId = 'vis-0042'".into(),
            Box::new(|m| m.id == "vis-0042"),
        ),
        (
            "WorkflowId STARTS_WITH 'vis-00'".into(),
            Box::new(|m| m.id.starts_with("vis-00")),
        ),
        (
            "TaskQueue = 'even' AND WorkflowType IN ('Beta', 'Gamma')".into(),
            Box::new(|m| m.task_queue == "even" && m.workflow_type != "Alpha"),
        ),
        (
            "ExecutionStatus = 'Terminated'".into(),
            Box::new(|m| m.terminated),
        ),
        (
            "ExecutionStatus = 'Running' ORDER BY StartTime DESC".into(),
            Box::new(|m| !m.terminated),
        ),
        (
            "(ExecutionStatus = 'Terminated' OR WorkflowType = 'Beta') AND TaskQueue = 'odd'"
                .into(),
            Box::new(|m| (m.terminated || m.workflow_type == "Beta") && m.task_queue == "odd"),
        ),
        (
            format!("StartTime < '{halfway}'"),
            Box::new(move |m| m.started_ms < halfway_ms),
        ),
        (
            format!("StartTime >= '{halfway}' AND WorkflowType = 'Gamma'"),
            Box::new(move |m| m.started_ms > halfway_ms && m.workflow_type == "Gamma"),
        ),
        ("CloseTime IS NOT NULL".into(), Box::new(|m| m.terminated)),
        ("CloseTime IS NULL".into(), Box::new(|m| !m.terminated)),
        (
            format!("StartTime BETWEEN '{}' AND '{halfway}'", rfc3339(0)),
            Box::new(move |m| m.started_ms < halfway_ms),
        ),
        (
            "VisCustomer = 'cust-3'".into(),
            Box::new(|m| has(m, |c| c.customer == "cust-3")),
        ),
        (
            "VisCustomer IN ('cust-1', 'cust-2') AND VisPriority > 5".into(),
            Box::new(|m| {
                has(m, |c| {
                    (c.customer == "cust-1" || c.customer == "cust-2") && c.priority > 5
                })
            }),
        ),
        (
            "(VisPriority < 2 OR VisPriority >= 9) AND WorkflowType = 'Beta'".into(),
            Box::new(|m| {
                has(m, |c| c.priority < 2 || c.priority >= 9) && m.workflow_type == "Beta"
            }),
        ),
        (
            "VisPriority BETWEEN 3 AND 5 AND ExecutionStatus = 'Terminated'".into(),
            Box::new(|m| has(m, |c| (3..=5).contains(&c.priority)) && m.terminated),
        ),
        (
            format!(
                "VisDueAt BETWEEN '{}' AND '{}'",
                rfc3339(DUE_BASE_MS + 100 * HOUR_MS),
                rfc3339(DUE_BASE_MS + 200 * HOUR_MS)
            ),
            Box::new(|m| {
                has(m, |c| {
                    (DUE_BASE_MS + 100 * HOUR_MS..=DUE_BASE_MS + 200 * HOUR_MS).contains(&c.due_ms)
                })
            }),
        ),
        (
            format!(
                "VisDueAt > '{}' OR (VisCustomer STARTS_WITH 'cust-6' AND TaskQueue = 'even')",
                rfc3339(DUE_BASE_MS + 900 * HOUR_MS)
            ),
            Box::new(|m| {
                has(m, |c| c.due_ms > DUE_BASE_MS + 900 * HOUR_MS)
                    || (has(m, |c| c.customer == "cust-6") && m.task_queue == "even")
            }),
        ),
        (
            "VisCustomer != 'cust-0' AND (VisPriority = 0 OR VisPriority = 7)".into(),
            Box::new(|m| {
                has(m, |c| {
                    c.customer != "cust-0" && (c.priority == 0 || c.priority == 7)
                })
            }),
        ),
        (
            "VisPriority IS NULL".into(),
            Box::new(|m| m.custom.is_none()),
        ),
        (
            "VisDueAt IS NOT NULL AND WorkflowType = 'Alpha'".into(),
            Box::new(|m| m.custom.is_some() && m.workflow_type == "Alpha"),
        ),
        ("VisPriority = 10".into(), Box::new(|_| false)),
    ];
    for (query, expected) in &filters {
        let expected: BTreeSet<String> = model
            .iter()
            .filter(|m| expected(m))
            .map(|m| m.id.clone())
            .collect();
        let listed = list(query.clone(), 97).await;
        let unique: BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            listed.len(),
            "{query:?}: paging returned an execution twice"
        );
        assert_eq!(unique, expected, "{query:?}");
        assert_eq!(
            count(query.clone()).await,
            expected.len() as i64,
            "{query:?}"
        );
    }
    // Newest first by default.
    let newest = list(String::new(), 1000).await;
    assert_eq!(newest.len(), N);
    assert!(
        newest.first().unwrap().as_str() > "vis-0949",
        "the last chunk comes first: {:?}",
        &newest[..3]
    );

    for (query, needle) in [
        ("WorkflowId LIKE 'vis-%'", "LIKE"),
        ("ExecutionStatus = 'Done'", "ExecutionStatus"),
        ("WorkflowId = 'a' ORDER BY WorkflowId", "ORDER BY"),
        (
            "VisUnregistered = 'x'",
            "invalid search attribute: VisUnregistered",
        ),
        ("VisPriority = 'high'", "VisPriority of type Int"),
        ("VisDueAt > 'soon'", "unable to parse datetime 'soon'"),
        ("VisCustomer < 5", "VisCustomer of type Keyword"),
    ] {
        let mut client = client.clone();
        let status = client
            .list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: "default".into(),
                query: query.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{query}");
        assert!(
            status.message().contains(needle),
            "{query}: {}",
            status.message()
        );
    }

    // The attributes the filters understand, with their types.
    let mut client = client.clone();
    let keys = client
        .get_search_attributes(
            temporalio_protos::temporal::api::workflowservice::v1::GetSearchAttributesRequest {},
        )
        .await
        .expect("search attributes")
        .into_inner()
        .keys;
    assert_eq!(
        keys.get("WorkflowType"),
        Some(&(IndexedValueType::Keyword as i32))
    );
    assert_eq!(
        keys.get("StartTime"),
        Some(&(IndexedValueType::Datetime as i32))
    );
    assert_eq!(
        keys.get("ExecutionStatus"),
        Some(&(IndexedValueType::Keyword as i32))
    );
    assert_eq!(
        keys.get("VisPriority"),
        Some(&(IndexedValueType::Int as i32))
    );
    assert_eq!(
        keys.get("VisDueAt"),
        Some(&(IndexedValueType::Datetime as i32))
    );
}
