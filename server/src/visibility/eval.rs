//! Evaluates a resolved [`Filter`] against one listed execution. System attributes come from
//! the execution's fields; the others from its search attribute map, decoded by their
//! registered type (a value that no longer decodes, e.g. after the attribute was re-registered
//! with another type, counts as unset). Numbers compare numerically, times as instants.
//!
//! An unset attribute matches only `IS NULL` — and, as in Temporal's SQL visibility, the
//! negative tests of KeywordList and Text (`!=`: "does not contain").

use temporalio_protos::temporal::api::{
    enums::v1::WorkflowExecutionStatus, workflow::v1::WorkflowExecutionInfo,
};

use super::{
    filter::{Field, Filter, Scalar, Test, words},
    query::Op,
};
use crate::search_attributes::{SearchValue, decode_value};

/// A field's value in one execution.
enum Found {
    Scalar(Scalar),
    List(Vec<String>),
}

/// Whether `info` matches `filter`.
pub(super) fn matches(filter: &Filter, info: &WorkflowExecutionInfo) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, info) && matches(b, info),
        Filter::Or(a, b) => matches(a, info) || matches(b, info),
        Filter::IsNull(field, want_null) => value(info, field).is_none() == *want_null,
        Filter::Test(field, test) => test_value(test, value(info, field)),
    }
}

fn test_value(test: &Test, found: Option<Found>) -> bool {
    match (test, found) {
        (Test::Contains { values, negated }, found) => {
            let contains = matches!(found, Some(Found::List(items)) if values.iter().any(|v| items.contains(v)));
            contains != *negated
        }
        (
            Test::Words {
                words: wanted,
                negated,
            },
            found,
        ) => {
            let shares = matches!(found, Some(Found::Scalar(Scalar::Str(text))) if {
                let have = words(&text);
                wanted.iter().any(|w| have.contains(w))
            });
            shares != *negated
        }
        (_, Some(Found::Scalar(value))) => match test {
            Test::Compare(op, literal) => compare(&value, *op, literal),
            Test::Between(low, high) => {
                compare(&value, Op::Ge, low) && compare(&value, Op::Le, high)
            }
            Test::In(literals) => literals.iter().any(|l| compare(&value, Op::Eq, l)),
            Test::StartsWith(prefix) => {
                matches!(&value, Scalar::Str(text) if text.starts_with(prefix.as_str()))
            }
            Test::Contains { .. } | Test::Words { .. } => false,
        },
        (_, _) => false,
    }
}

fn compare(value: &Scalar, op: Op, literal: &Scalar) -> bool {
    // Same-variant comparisons only: the filter converted every literal to the field's type.
    let Some(ordering) = (match (value, literal) {
        (Scalar::Num(a), Scalar::Num(b)) => a.partial_cmp(b),
        (Scalar::Time(a), Scalar::Time(b)) => a.partial_cmp(b),
        (Scalar::Str(a), Scalar::Str(b)) => a.partial_cmp(b),
        (Scalar::Bool(a), Scalar::Bool(b)) => a.partial_cmp(b),
        _ => None,
    }) else {
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

fn value(info: &WorkflowExecutionInfo, field: &Field) -> Option<Found> {
    if field.system {
        return system_value(info, &field.name).map(Found::Scalar);
    }
    let payload = info
        .search_attributes
        .as_ref()?
        .indexed_fields
        .get(&field.name)?;
    Some(
        match decode_value(&field.name, payload, field.kind).ok()?? {
            SearchValue::Bool(b) => Found::Scalar(Scalar::Bool(b)),
            SearchValue::Int(n) => Found::Scalar(Scalar::Num(n as f64)),
            SearchValue::Double(n) => Found::Scalar(Scalar::Num(n)),
            SearchValue::Datetime(t) => Found::Scalar(Scalar::Time(t)),
            SearchValue::Str(s) => Found::Scalar(Scalar::Str(s)),
            SearchValue::List(items) => Found::List(items),
        },
    )
}

fn system_value(info: &WorkflowExecutionInfo, name: &str) -> Option<Scalar> {
    let time = |t: &Option<prost_wkt_types::Timestamp>| {
        t.as_ref()
            .map(|t| Scalar::Time(i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)))
    };
    let text = |s: &str| Some(Scalar::Str(s.to_string()));
    match name {
        "WorkflowId" => info.execution.as_ref().and_then(|e| text(&e.workflow_id)),
        "RunId" => info.execution.as_ref().and_then(|e| text(&e.run_id)),
        "WorkflowType" => info.r#type.as_ref().and_then(|t| text(&t.name)),
        "TaskQueue" => text(&info.task_queue),
        "ExecutionStatus" => text(status_name(info.status)),
        "StartTime" => time(&info.start_time),
        "CloseTime" => time(&info.close_time),
        "ExecutionTime" => time(&info.execution_time),
        "HistoryLength" => Some(Scalar::Num(info.history_length as f64)),
        "HistorySizeBytes" => Some(Scalar::Num(info.history_size_bytes as f64)),
        "StateTransitionCount" => Some(Scalar::Num(info.state_transition_count as f64)),
        "ExecutionDuration" => info
            .execution_duration
            .as_ref()
            .map(|d| Scalar::Num(d.seconds as f64 * 1e9 + f64::from(d.nanos))),
        "ParentWorkflowId" => info
            .parent_execution
            .as_ref()
            .and_then(|e| text(&e.workflow_id)),
        "ParentRunId" => info.parent_execution.as_ref().and_then(|e| text(&e.run_id)),
        "RootWorkflowId" => info
            .root_execution
            .as_ref()
            .and_then(|e| text(&e.workflow_id)),
        "RootRunId" => info.root_execution.as_ref().and_then(|e| text(&e.run_id)),
        _ => None,
    }
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

/// The status a filter names, if it is one.
pub(super) fn status_from_name(name: &str) -> Option<WorkflowExecutionStatus> {
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
