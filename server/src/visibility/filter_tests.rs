//! Resolving and evaluating filters: system attributes, every custom type with the operators
//! its type allows, and refusals that name the attribute, operator or literal.

use std::collections::HashMap;

use temporalio_protos::temporal::api::{
    common::v1::{Payload, SearchAttributes, WorkflowExecution, WorkflowType},
    enums::v1::{IndexedValueType, WorkflowExecutionStatus},
    workflow::v1::WorkflowExecutionInfo,
};

use super::{eval::matches, filter::resolve, query::parse};
use crate::search_attributes::Schema;

fn schema() -> Schema {
    let custom = [
        ("Customer", IndexedValueType::Keyword),
        ("Priority", IndexedValueType::Int),
        ("Score", IndexedValueType::Double),
        ("Vip", IndexedValueType::Bool),
        ("DueAt", IndexedValueType::Datetime),
        ("Tags", IndexedValueType::KeywordList),
        ("Notes", IndexedValueType::Text),
        ("Unset", IndexedValueType::Keyword),
    ];
    Schema::new(
        "orders",
        &custom
            .into_iter()
            .map(|(name, kind)| (name.to_string(), kind as i32))
            .collect(),
    )
}

fn info() -> WorkflowExecutionInfo {
    let sa = |json: &str| Payload {
        metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
        data: json.as_bytes().to_vec(),
        ..Default::default()
    };
    WorkflowExecutionInfo {
        execution: Some(WorkflowExecution {
            workflow_id: "order-42".into(),
            run_id: "r1".into(),
        }),
        r#type: Some(WorkflowType {
            name: "Checkout".into(),
        }),
        task_queue: "orders".into(),
        status: WorkflowExecutionStatus::Completed as i32,
        start_time: Some(prost_wkt_types::Timestamp {
            seconds: 1_767_225_600, // 2026-01-01
            nanos: 0,
        }),
        close_time: Some(prost_wkt_types::Timestamp {
            seconds: 1_767_312_000, // 2026-01-02
            nanos: 0,
        }),
        history_length: 11,
        search_attributes: Some(SearchAttributes {
            indexed_fields: HashMap::from([
                ("Customer".to_string(), sa("\"acme\"")),
                ("Priority".to_string(), sa("3")),
                ("Score".to_string(), sa("2.5")),
                ("Vip".to_string(), sa("true")),
                ("Tags".to_string(), sa("[\"red\",\"blue\"]")),
                ("DueAt".to_string(), sa("\"2026-03-01T00:00:00Z\"")),
                ("Notes".to_string(), sa("\"Left at the Front door\"")),
                ("TemporalChangeVersion".to_string(), sa("[\"fix-1\"]")),
            ]),
        }),
        ..Default::default()
    }
}

fn check(query: &str) -> bool {
    let expr = parse(query).unwrap().filter.unwrap();
    let filter = resolve(&expr, &schema()).unwrap_or_else(|e| panic!("{query}: {e}"));
    matches(&filter, &info())
}

fn refused(query: &str) -> String {
    let expr = parse(query).unwrap().filter.unwrap();
    resolve(&expr, &schema()).expect_err(query).0
}

#[test]
fn system_attributes() {
    assert!(check("WorkflowId = 'order-42'"));
    assert!(check("WorkflowId STARTS_WITH 'order-'"));
    assert!(!check("WorkflowId != 'order-42'"));
    assert!(check("WorkflowType = 'Checkout' AND TaskQueue = 'orders'"));
    assert!(check("ExecutionStatus = 'Completed'"));
    assert!(!check("ExecutionStatus = 'Running'"));
    assert!(check(
        "StartTime >= '2026-01-01T00:00:00Z' AND StartTime < '2026-01-01T00:00:01Z'"
    ));
    assert!(check(
        "CloseTime BETWEEN '2026-01-01T12:00:00Z' AND '2026-01-02T00:00:00Z'"
    ));
    assert!(!check("CloseTime > '2026-01-02T00:00:00Z'"));
    assert!(check("HistoryLength BETWEEN 10 AND 11"));
    assert!(check("ParentWorkflowId IS NULL"));
    assert!(check(
        "ExecutionStatus = 'Running' OR (WorkflowId = 'order-42' AND TaskQueue = 'orders')"
    ));
}

#[test]
fn custom_attributes_compare_by_their_registered_type() {
    assert!(check("Customer = 'acme'"));
    assert!(check("Customer IN ('zeta', 'acme')"));
    assert!(check("Customer STARTS_WITH 'ac'"));
    assert!(check("Customer BETWEEN 'a' AND 'b'"));
    assert!(check("Priority >= 3 AND Priority < 4"));
    assert!(check("Priority = 3.0"));
    assert!(check("Priority IN (1, 3)"));
    assert!(!check("Priority > 10"), "numerically, not as text");
    assert!(check("Score BETWEEN 2 AND 3"));
    assert!(check("Vip = true"));
    assert!(!check("Vip != true"));
    assert!(check("DueAt > '2026-02-01T00:00:00Z'"));
    assert!(check("DueAt = '2026-03-01T01:00:00+01:00'"), "as instants");
    assert!(check("Tags = 'blue'"));
    assert!(check("Tags IN ('green', 'red')"));
    assert!(!check("Tags != 'red'"));
    assert!(check("Tags != 'green'"));
    assert!(
        check("Notes = 'front'"),
        "Text shares a word, case-insensitively"
    );
    assert!(check("Notes = 'back door'"));
    assert!(!check("Notes = 'back'"));
    assert!(check("Notes != 'back'"));
    assert!(check("TemporalChangeVersion = 'fix-1'"));
}

#[test]
fn unset_attributes_match_only_is_null_and_negative_list_tests() {
    assert!(check("Unset IS NULL"));
    assert!(!check("Unset IS NOT NULL"));
    assert!(check("Customer IS NOT NULL"));
    assert!(!check("Unset = 'x'"));
    assert!(!check("Unset != 'x'"), "SQL: NULL != 'x' is not true");
    assert!(check("BuildIds != 'x'"), "KeywordList: does not contain");
}

#[test]
fn refusals_name_the_attribute_operator_or_literal() {
    for (query, needle) in [
        ("Nope = 'x'", "invalid search attribute: Nope"),
        ("Tags < 'a'", "operator '<' not supported for KeywordList"),
        (
            "Notes STARTS_WITH 'a'",
            "operator 'STARTS_WITH' not supported for Text",
        ),
        ("Notes IN ('a')", "operator 'IN' not supported for Text"),
        (
            "Priority STARTS_WITH 'a'",
            "STARTS_WITH' not supported for Int",
        ),
        (
            "Tags BETWEEN 'a' AND 'b'",
            "cannot do range condition on search attribute 'Tags'",
        ),
        ("Vip BETWEEN true AND false", "range condition"),
        (
            "Priority = '7'",
            "invalid value type for search attribute Priority of type Int",
        ),
        ("Customer = 5", "of type Keyword: 5"),
        ("Vip = 'yes'", "of type Bool"),
        (
            "DueAt = 'yesterday'",
            "unable to parse datetime 'yesterday'",
        ),
        ("StartTime > 'yesterday'", "unable to parse datetime"),
        (
            "ExecutionStatus = 'Done'",
            "invalid ExecutionStatus value 'Done'",
        ),
        ("CloseTime < true", "of type Datetime"),
    ] {
        let err = refused(query);
        assert!(err.contains(needle), "{query}: {err}");
    }
}
