//! Resolves a parsed query against a namespace's [`Schema`]: every name must be a known search
//! attribute (else InvalidArgument naming it), every operator must suit the attribute's type and
//! every literal must parse as that type, as Temporal's SQL visibility requires:
//!
//! | type                 | operators                                   |
//! |----------------------|---------------------------------------------|
//! | Keyword              | `= != < <= > >=`, `IN`, `BETWEEN`, `STARTS_WITH` |
//! | Int, Double, Datetime| `= != < <= > >=`, `IN`, `BETWEEN`           |
//! | Bool                 | `= != < <= > >=`, `IN`                      |
//! | KeywordList          | `=` / `IN` (contains), `!=` (does not contain) |
//! | Text                 | `=` (shares a word), `!=` (shares none)     |
//!
//! `IS [NOT] NULL` works on every attribute.

use temporalio_protos::temporal::api::enums::v1::IndexedValueType;

use super::{
    eval::status_from_name,
    query::{Expr, Op, QueryError, Value},
};
use crate::search_attributes::{Category, Schema, parse_time, type_name};

/// A resolved filter.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Test(Field, Test),
    IsNull(Field, bool),
}

/// A resolved attribute.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) kind: IndexedValueType,
    /// Kept in the row's own fields, not in its search attribute map.
    pub(super) system: bool,
}

/// A typed literal.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub(super) enum Scalar {
    Num(f64),
    /// Nanoseconds since the epoch.
    Time(i128),
    Str(String),
    Bool(bool),
}

/// What a filter tests a field's value with.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Test {
    Compare(Op, Scalar),
    Between(Scalar, Scalar),
    In(Vec<Scalar>),
    StartsWith(String),
    /// KeywordList: contains one of the values (`negated`: contains none, or is unset).
    Contains {
        values: Vec<String>,
        negated: bool,
    },
    /// Text: shares a word with the words (`negated`: shares none, or is unset).
    Words {
        words: Vec<String>,
        negated: bool,
    },
}

/// Resolves `expr` against `schema`.
pub(super) fn resolve(expr: &Expr, schema: &Schema) -> Result<Filter, QueryError> {
    Ok(match expr {
        Expr::And(a, b) => {
            Filter::And(Box::new(resolve(a, schema)?), Box::new(resolve(b, schema)?))
        }
        Expr::Or(a, b) => Filter::Or(Box::new(resolve(a, schema)?), Box::new(resolve(b, schema)?)),
        Expr::IsNull(name, null) => Filter::IsNull(field(name, schema)?, *null),
        Expr::Compare(name, op, value) => {
            let field = field(name, schema)?;
            let test = compare(&field, *op, value)?;
            Filter::Test(field, test)
        }
        Expr::In(name, values) => {
            let field = field(name, schema)?;
            let test = match field.kind {
                IndexedValueType::KeywordList => Test::Contains {
                    values: strings(&field, values)?,
                    negated: false,
                },
                IndexedValueType::Text => return Err(unsupported(&field, "IN")),
                _ => Test::In(
                    values
                        .iter()
                        .map(|v| scalar(&field, v))
                        .collect::<Result<_, _>>()?,
                ),
            };
            Filter::Test(field, test)
        }
        Expr::Between(name, low, high) => {
            let field = field(name, schema)?;
            if !matches!(
                field.kind,
                IndexedValueType::Keyword
                    | IndexedValueType::Int
                    | IndexedValueType::Double
                    | IndexedValueType::Datetime
            ) {
                return Err(QueryError(format!(
                    "cannot do range condition on search attribute '{}' of type {}",
                    field.name,
                    type_name(field.kind)
                )));
            }
            let test = Test::Between(scalar(&field, low)?, scalar(&field, high)?);
            Filter::Test(field, test)
        }
        Expr::StartsWith(name, prefix) => {
            let field = field(name, schema)?;
            if field.kind != IndexedValueType::Keyword {
                return Err(unsupported(&field, "STARTS_WITH"));
            }
            Filter::Test(field, Test::StartsWith(prefix.clone()))
        }
    })
}

fn field(name: &str, schema: &Schema) -> Result<Field, QueryError> {
    let attribute = schema.attribute(name).ok_or_else(|| {
        QueryError(format!(
            "invalid search attribute: {name} (not defined in namespace {}; register it with \
             `temporal operator search-attribute create`)",
            schema.namespace()
        ))
    })?;
    Ok(Field {
        name: name.to_string(),
        kind: attribute.kind,
        system: attribute.category == Category::System,
    })
}

fn compare(field: &Field, op: Op, value: &Value) -> Result<Test, QueryError> {
    match field.kind {
        IndexedValueType::KeywordList | IndexedValueType::Text
            if !matches!(op, Op::Eq | Op::Ne) =>
        {
            Err(unsupported(field, op_name(op)))
        }
        IndexedValueType::KeywordList => Ok(Test::Contains {
            values: vec![string(field, value)?.to_string()],
            negated: op == Op::Ne,
        }),
        IndexedValueType::Text => Ok(Test::Words {
            words: words(string(field, value)?),
            negated: op == Op::Ne,
        }),
        _ => Ok(Test::Compare(op, scalar(field, value)?)),
    }
}

/// The literal as the field's type.
fn scalar(field: &Field, value: &Value) -> Result<Scalar, QueryError> {
    Ok(match (field.kind, value) {
        (_, Value::Str(text)) if field.name == "ExecutionStatus" => {
            status_from_name(text).ok_or_else(|| {
                QueryError(format!(
                    "invalid ExecutionStatus value '{text}'; use Running, Completed, Failed, \
                     Canceled, Terminated, ContinuedAsNew or TimedOut"
                ))
            })?;
            Scalar::Str(text.clone())
        }
        (IndexedValueType::Int | IndexedValueType::Double, Value::Num(n)) => Scalar::Num(*n),
        (IndexedValueType::Bool, Value::Bool(b)) => Scalar::Bool(*b),
        (IndexedValueType::Datetime, Value::Str(text)) => {
            Scalar::Time(parse_time(text).ok_or_else(|| {
                QueryError(format!(
                    "unable to parse datetime '{text}' for {}: use RFC 3339 like \
                     '2026-01-31T12:00:00Z'",
                    field.name
                ))
            })?)
        }
        (IndexedValueType::Datetime, Value::Num(n)) if n.fract() == 0.0 => Scalar::Time(*n as i128),
        (IndexedValueType::Keyword | IndexedValueType::Text, Value::Str(text)) => {
            Scalar::Str(text.clone())
        }
        _ => return Err(wrong_type(field, value)),
    })
}

fn string<'v>(field: &Field, value: &'v Value) -> Result<&'v str, QueryError> {
    match value {
        Value::Str(text) => Ok(text),
        other => Err(wrong_type(field, other)),
    }
}

fn strings(field: &Field, values: &[Value]) -> Result<Vec<String>, QueryError> {
    values
        .iter()
        .map(|value| string(field, value).map(str::to_string))
        .collect()
}

fn wrong_type(field: &Field, value: &Value) -> QueryError {
    QueryError(format!(
        "invalid value type for search attribute {} of type {}: {}",
        field.name,
        type_name(field.kind),
        shown(value)
    ))
}

/// The words of a Text value or literal: lower-cased runs of letters and digits (the way
/// SQLite's full-text index splits them).
pub(super) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn unsupported(field: &Field, op: &str) -> QueryError {
    QueryError(format!(
        "operator '{op}' not supported for {} type search attribute '{}'",
        type_name(field.kind),
        field.name
    ))
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("'{s}'"),
        Value::Num(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}
