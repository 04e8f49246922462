//! Evaluates a parsed filter against one listed execution. System attributes come from the
//! execution's fields; any other name is a custom search attribute (JSON payloads, the form
//! every SDK writes), missing ones never match (except `IS NULL`).

use temporalio_protos::temporal::api::{
    enums::v1::WorkflowExecutionStatus, workflow::v1::WorkflowExecutionInfo,
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::query::{Expr, Op, QueryError, Value};

/// A field's value in one execution.
#[derive(Clone, Debug, PartialEq)]
enum Field {
    Text(String),
    Number(f64),
    Time(i64),
    Bool(bool),
    List(Vec<Field>),
}

/// Checks every comparison in `expr` once, so a malformed literal (a bad timestamp, a wrong
/// status name) is refused up front instead of silently matching nothing.
pub(super) fn validate(expr: &Expr) -> Result<(), QueryError> {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            validate(a)?;
            validate(b)
        }
        Expr::Compare(field, _, value) => literal(field, value).map(|_| ()),
        Expr::Between(field, low, high) => {
            literal(field, low)?;
            literal(field, high).map(|_| ())
        }
        Expr::In(field, values) => values
            .iter()
            .try_for_each(|v| literal(field, v).map(|_| ())),
        Expr::StartsWith(_, _) | Expr::IsNull(_, _) => Ok(()),
    }
}

/// Whether `info` matches `expr` (call [`validate`] first).
pub(super) fn matches(expr: &Expr, info: &WorkflowExecutionInfo) -> bool {
    match expr {
        Expr::And(a, b) => matches(a, info) && matches(b, info),
        Expr::Or(a, b) => matches(a, info) || matches(b, info),
        Expr::Compare(name, op, value) => {
            compare_field(info, name, |f| compare(f, *op, name, value))
        }
        Expr::Between(name, low, high) => compare_field(info, name, |f| {
            compare(f, Op::Ge, name, low) && compare(f, Op::Le, name, high)
        }),
        Expr::In(name, values) => compare_field(info, name, |f| {
            values.iter().any(|v| compare(f, Op::Eq, name, v))
        }),
        Expr::StartsWith(name, prefix) => compare_field(info, name, |f| match f {
            Field::Text(text) => text.starts_with(prefix.as_str()),
            _ => false,
        }),
        Expr::IsNull(name, want_null) => field(info, name).is_none() == *want_null,
    }
}

/// Applies `test` to the field, or to any element of a keyword list.
fn compare_field(info: &WorkflowExecutionInfo, name: &str, test: impl Fn(&Field) -> bool) -> bool {
    match field(info, name) {
        Some(Field::List(items)) => items.iter().any(test),
        Some(value) => test(&value),
        None => false,
    }
}

fn compare(field: &Field, op: Op, name: &str, value: &Value) -> bool {
    let Ok(literal) = literal(name, value) else {
        return false;
    };
    let ordering = match (field, &literal) {
        (Field::Text(a), Field::Text(b)) => a.partial_cmp(b),
        (Field::Number(a), Field::Number(b)) => a.partial_cmp(b),
        (Field::Time(a), Field::Time(b)) => a.partial_cmp(b),
        (Field::Bool(a), Field::Bool(b)) => a.partial_cmp(b),
        (Field::Time(a), Field::Text(b)) => parse_time(b).and_then(|b| a.partial_cmp(&b)),
        _ => None,
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        Op::Eq => ordering.is_eq(),
        Op::Ne => ordering.is_ne(),
        Op::Lt => ordering.is_lt(),
        Op::Le => ordering.is_le(),
        Op::Gt => ordering.is_gt(),
        Op::Ge => ordering.is_ge(),
    }
}

/// The literal as the field's type: times parse as RFC 3339, statuses must be real names.
fn literal(name: &str, value: &Value) -> Result<Field, QueryError> {
    Ok(match (name, value) {
        ("StartTime" | "CloseTime" | "ExecutionTime", Value::Str(text)) => {
            Field::Time(parse_time(text).ok_or_else(|| {
                QueryError(format!(
                    "{name} needs an RFC 3339 time like '2026-01-31T12:00:00Z', not '{text}'"
                ))
            })?)
        }
        ("StartTime" | "CloseTime" | "ExecutionTime", _) => {
            return Err(QueryError(format!("{name} needs a quoted RFC 3339 time")));
        }
        ("ExecutionStatus", Value::Str(text)) => {
            status_from_name(text).ok_or_else(|| {
                QueryError(format!(
                    "unknown ExecutionStatus '{text}'; use Running, Completed, Failed, Canceled, Terminated, ContinuedAsNew or TimedOut"
                ))
            })?;
            Field::Text(text.clone())
        }
        (_, Value::Str(text)) => Field::Text(text.clone()),
        (_, Value::Num(n)) => Field::Number(*n),
        (_, Value::Bool(b)) => Field::Bool(*b),
    })
}

fn field(info: &WorkflowExecutionInfo, name: &str) -> Option<Field> {
    let time = |t: &Option<prost_wkt_types::Timestamp>| {
        t.as_ref()
            .map(|t| Field::Time(t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000)))
    };
    match name {
        "WorkflowId" => info
            .execution
            .as_ref()
            .map(|e| Field::Text(e.workflow_id.clone())),
        "RunId" => info
            .execution
            .as_ref()
            .map(|e| Field::Text(e.run_id.clone())),
        "WorkflowType" => info.r#type.as_ref().map(|t| Field::Text(t.name.clone())),
        "TaskQueue" => Some(Field::Text(info.task_queue.clone())),
        "ExecutionStatus" => Some(Field::Text(status_name(info.status).to_string())),
        "StartTime" => time(&info.start_time),
        "CloseTime" => time(&info.close_time),
        "ExecutionTime" => time(&info.execution_time),
        "HistoryLength" => Some(Field::Number(info.history_length as f64)),
        custom => {
            let payload = info
                .search_attributes
                .as_ref()?
                .indexed_fields
                .get(custom)?;
            let json: serde_json::Value = serde_json::from_slice(&payload.data).ok()?;
            from_json(&json)
        }
    }
}

fn from_json(json: &serde_json::Value) -> Option<Field> {
    match json {
        serde_json::Value::String(s) => Some(match parse_time(s) {
            Some(ms) => Field::Time(ms),
            None => Field::Text(s.clone()),
        }),
        serde_json::Value::Number(n) => n.as_f64().map(Field::Number),
        serde_json::Value::Bool(b) => Some(Field::Bool(*b)),
        serde_json::Value::Array(items) => {
            Some(Field::List(items.iter().filter_map(from_json).collect()))
        }
        _ => None,
    }
}

fn parse_time(text: &str) -> Option<i64> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The name Temporal's list filter uses for a status.
pub(crate) fn status_name(status: i32) -> &'static str {
    match WorkflowExecutionStatus::try_from(status).unwrap_or(WorkflowExecutionStatus::Unspecified)
    {
        WorkflowExecutionStatus::Running => "Running",
        WorkflowExecutionStatus::Completed => "Completed",
        WorkflowExecutionStatus::Failed => "Failed",
        WorkflowExecutionStatus::Canceled => "Canceled",
        WorkflowExecutionStatus::Terminated => "Terminated",
        WorkflowExecutionStatus::ContinuedAsNew => "ContinuedAsNew",
        WorkflowExecutionStatus::TimedOut => "TimedOut",
        _ => "Unspecified",
    }
}

fn status_from_name(name: &str) -> Option<WorkflowExecutionStatus> {
    [
        WorkflowExecutionStatus::Running,
        WorkflowExecutionStatus::Completed,
        WorkflowExecutionStatus::Failed,
        WorkflowExecutionStatus::Canceled,
        WorkflowExecutionStatus::Terminated,
        WorkflowExecutionStatus::ContinuedAsNew,
        WorkflowExecutionStatus::TimedOut,
    ]
    .into_iter()
    .find(|s| status_name(*s as i32) == name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use temporalio_protos::temporal::api::common::v1::{
        Payload, SearchAttributes, WorkflowExecution, WorkflowType,
    };

    use super::*;
    use crate::visibility::query::parse;

    fn info() -> WorkflowExecutionInfo {
        let sa = |json: &str| Payload {
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
                seconds: 1_767_225_600,
                nanos: 0,
            }), // 2026-01-01
            close_time: Some(prost_wkt_types::Timestamp {
                seconds: 1_767_312_000,
                nanos: 0,
            }), // 2026-01-02
            search_attributes: Some(SearchAttributes {
                indexed_fields: HashMap::from([
                    ("Customer".to_string(), sa("\"acme\"")),
                    ("Priority".to_string(), sa("3")),
                    ("Tags".to_string(), sa("[\"red\",\"blue\"]")),
                    ("DueAt".to_string(), sa("\"2026-03-01T00:00:00Z\"")),
                ]),
            }),
            ..Default::default()
        }
    }

    fn check(query: &str) -> bool {
        let filter = parse(query).unwrap().filter.unwrap();
        validate(&filter).unwrap();
        matches(&filter, &info())
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
        assert!(check(
            "ExecutionStatus = 'Running' OR (WorkflowId = 'order-42' AND TaskQueue = 'orders')"
        ));
    }

    #[test]
    fn custom_attributes() {
        assert!(check("Customer = 'acme'"));
        assert!(check("Priority >= 3 AND Priority < 4"));
        assert!(check("Tags = 'blue'"));
        assert!(check("Tags IN ('green', 'red')"));
        assert!(check("DueAt > '2026-02-01T00:00:00Z'"));
        assert!(!check("Missing = 'x'"));
        assert!(check("Missing IS NULL"));
        assert!(check("Customer IS NOT NULL"));
    }

    #[test]
    fn malformed_literals_are_refused() {
        for (query, needle) in [
            ("StartTime > 'yesterday'", "RFC 3339"),
            ("ExecutionStatus = 'Done'", "unknown ExecutionStatus"),
            ("CloseTime < 5", "quoted"),
        ] {
            let filter = parse(query).unwrap().filter.unwrap();
            let err = validate(&filter).expect_err(query);
            assert!(err.0.contains(needle), "{query}: {err}");
        }
    }
}
