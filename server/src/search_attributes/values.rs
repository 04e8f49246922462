//! Search attribute values: JSON payloads (what every SDK writes, `encoding: json/plain`),
//! decoded by the attribute's REGISTERED type, not by the `type` metadata the sender put on it
//! (as Temporal does). `null`, an empty payload, `binary/null` and an empty list unset the
//! attribute; a one-element list stands for its element (except for KeywordList); Datetime is
//! an RFC 3339 string.

use serde_json::Value as Json;
use temporalio_protos::temporal::api::{
    command::v1::{Command, command::Attributes},
    common::v1::{Payload, SearchAttributes},
    enums::v1::IndexedValueType,
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::{Category, Schema, type_name};

/// How many attributes one start or upsert may set (Temporal's default limit).
const MAX_KEYS: usize = 100;
/// The largest value of one attribute, in bytes (Temporal's default limit).
const MAX_VALUE_BYTES: usize = 2 * 1024;
/// The largest total of all values of one start or upsert, in bytes (Temporal's default).
const MAX_TOTAL_BYTES: usize = 40 * 1024;

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchValue {
    /// Bool.
    Bool(bool),
    /// Int.
    Int(i64),
    /// Double.
    Double(f64),
    /// Datetime, nanoseconds since the Unix epoch.
    Datetime(i128),
    /// Keyword or Text.
    Str(String),
    /// KeywordList.
    List(Vec<String>),
}

/// Decodes `payload` as a value of attribute `name`'s type `kind`; `Ok(None)` means "unset".
/// The error says what was wrong, in Temporal's words.
pub fn decode_value(
    name: &str,
    payload: &Payload,
    kind: IndexedValueType,
) -> Result<Option<SearchValue>, String> {
    let invalid = |shown: &str| {
        format!(
            "invalid value for search attribute {name} of type {}: {shown}",
            type_name(kind)
        )
    };
    let encoding = payload.metadata.get("encoding").map(Vec::as_slice);
    match encoding {
        Some(b"binary/null") => return Ok(None),
        None | Some(b"json/plain") => {}
        Some(other) => {
            return Err(format!(
                "search attribute {name} must be a JSON payload (encoding json/plain), not {}; \
                 search attributes are not encrypted by payload codecs",
                String::from_utf8_lossy(other)
            ));
        }
    }
    if payload.data.is_empty() {
        return Ok(None);
    }
    let json: Json = serde_json::from_slice(&payload.data)
        .map_err(|_| invalid(&String::from_utf8_lossy(&payload.data)))?;
    let shown = json.to_string();
    let json = match (kind, json) {
        (_, Json::Null) => return Ok(None),
        (IndexedValueType::KeywordList, json) => json,
        (_, Json::Array(mut items)) => match items.len() {
            0 => return Ok(None),
            1 => items.remove(0),
            _ => return Err(invalid(&shown)),
        },
        (_, json) => json,
    };
    typed(&json, kind).map(Some).ok_or_else(|| invalid(&shown))
}

fn typed(json: &Json, kind: IndexedValueType) -> Option<SearchValue> {
    Some(match kind {
        IndexedValueType::Bool => SearchValue::Bool(json.as_bool()?),
        IndexedValueType::Int => SearchValue::Int(json.as_i64()?),
        IndexedValueType::Double => SearchValue::Double(json.as_f64()?),
        IndexedValueType::Datetime => SearchValue::Datetime(parse_time(json.as_str()?)?),
        IndexedValueType::Keyword | IndexedValueType::Text => {
            SearchValue::Str(json.as_str()?.to_string())
        }
        IndexedValueType::KeywordList => SearchValue::List(
            json.as_array()?
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect::<Option<_>>()?,
        ),
        IndexedValueType::Unspecified => return None,
    })
}

/// An RFC 3339 time as nanoseconds since the epoch.
pub fn parse_time(text: &str) -> Option<i128> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp_nanos)
}

/// Checks what a start, signal-with-start, child start, continue-as-new or upsert sets: every
/// name must be a settable attribute of the namespace and every value of its type, within
/// Temporal's limits. The error is the message for InvalidArgument (or the workflow task
/// failure), naming the attribute.
pub fn check_set(schema: &Schema, attributes: Option<&SearchAttributes>) -> Result<(), String> {
    let Some(attributes) = attributes else {
        return Ok(());
    };
    let fields = &attributes.indexed_fields;
    if fields.len() > MAX_KEYS {
        return Err(format!(
            "number of search attributes {} exceeds limit {MAX_KEYS}",
            fields.len()
        ));
    }
    let mut names: Vec<_> = fields.keys().collect();
    names.sort();
    let mut total = 0usize;
    for name in names {
        let payload = &fields[name];
        let attribute = schema.attribute(name).ok_or_else(|| {
            format!(
                "Namespace {} has no mapping defined for search attribute {name}; register it \
                 with `temporal operator search-attribute create --name {name} --type …`",
                schema.namespace()
            )
        })?;
        if matches!(
            attribute.category,
            Category::System | Category::Predefined { settable: false }
        ) {
            return Err(format!("{name} attribute can't be set in SearchAttributes"));
        }
        if payload.data.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "search attribute {name} value size {} exceeds size limit {MAX_VALUE_BYTES}",
                payload.data.len()
            ));
        }
        total += payload.data.len();
        decode_value(name, payload, attribute.kind)?;
    }
    if total > MAX_TOTAL_BYTES {
        return Err(format!(
            "total size of search attributes {total} exceeds size limit {MAX_TOTAL_BYTES}"
        ));
    }
    Ok(())
}

/// Checks the search attributes the commands of one workflow task completion set (upserts,
/// child starts, continue-as-new; children live in the parent's namespace) with [`check_set`].
pub fn check_commands(schema: &Schema, commands: &[Command]) -> Result<(), String> {
    commands.iter().try_for_each(|command| {
        let attributes = match &command.attributes {
            Some(Attributes::UpsertWorkflowSearchAttributesCommandAttributes(a)) => {
                a.search_attributes.as_ref()
            }
            Some(Attributes::StartChildWorkflowExecutionCommandAttributes(a)) => {
                a.search_attributes.as_ref()
            }
            Some(Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(a)) => {
                a.search_attributes.as_ref()
            }
            _ => None,
        };
        check_set(schema, attributes)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use IndexedValueType::*;

    fn json(data: &str) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn values_decode_by_the_registered_type() {
        let ok = |data: &str, kind| decode_value("A", &json(data), kind).unwrap();
        assert_eq!(ok("true", Bool), Some(SearchValue::Bool(true)));
        assert_eq!(ok("42", Int), Some(SearchValue::Int(42)));
        assert_eq!(ok("[42]", Int), Some(SearchValue::Int(42)));
        assert_eq!(ok("1.5", Double), Some(SearchValue::Double(1.5)));
        assert_eq!(ok("7", Double), Some(SearchValue::Double(7.0)));
        assert_eq!(
            ok("\"acme\"", Keyword),
            Some(SearchValue::Str("acme".into()))
        );
        assert_eq!(
            ok("\"free text\"", Text),
            Some(SearchValue::Str("free text".into()))
        );
        assert_eq!(
            ok("\"2026-01-02T03:04:05.5Z\"", Datetime),
            Some(SearchValue::Datetime(1_767_323_045_500_000_000))
        );
        assert_eq!(
            ok("[\"a\",\"b\"]", KeywordList),
            Some(SearchValue::List(vec!["a".into(), "b".into()]))
        );
        for unset in ["null", "[]"] {
            assert_eq!(ok(unset, Keyword), None, "{unset}");
        }
        assert_eq!(ok("[]", KeywordList), Some(SearchValue::List(vec![])));
        assert_eq!(decode_value("A", &Payload::default(), Int), Ok(None));
        let null = Payload {
            metadata: HashMap::from([("encoding".to_string(), b"binary/null".to_vec())]),
            ..Default::default()
        };
        assert_eq!(decode_value("A", &null, Int), Ok(None));
    }

    #[test]
    fn wrong_values_are_named_with_their_type() {
        for (data, kind) in [
            ("\"abc\"", Int),
            ("1.5", Int),
            ("[1,2]", Int),
            ("9223372036854775808", Int),
            ("\"yes\"", Bool),
            ("\"yesterday\"", Datetime),
            ("\"single\"", KeywordList),
            ("[\"a\",1]", KeywordList),
            ("5", Keyword),
            ("not json", Keyword),
        ] {
            let err = decode_value("A", &json(data), kind).unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "invalid value for search attribute A of type {}",
                    type_name(kind)
                )),
                "{data} as {kind:?}: {err}"
            );
        }
        let mut encrypted = json("\"x\"");
        encrypted
            .metadata
            .insert("encoding".into(), b"binary/encrypted".to_vec());
        let err = decode_value("A", &encrypted, Keyword).unwrap_err();
        assert!(err.contains("not encrypted by payload codecs"), "{err}");
    }

    fn set(pairs: &[(&str, &str)]) -> SearchAttributes {
        SearchAttributes {
            indexed_fields: pairs
                .iter()
                .map(|(name, data)| (name.to_string(), json(data)))
                .collect(),
        }
    }

    #[test]
    fn sets_need_registered_settable_attributes_of_the_right_type() {
        let schema = Schema::new(
            "default",
            &HashMap::from([
                ("Customer".to_string(), Keyword as i32),
                ("Priority".to_string(), Int as i32),
            ]),
        );
        let check = |pairs: &[(&str, &str)]| check_set(&schema, Some(&set(pairs)));
        assert_eq!(
            check(&[("Customer", "\"acme\""), ("Priority", "3")]),
            Ok(())
        );
        assert_eq!(check(&[("TemporalChangeVersion", "[\"v1\"]")]), Ok(()));
        assert_eq!(check_set(&schema, None), Ok(()));
        for (pairs, needle) in [
            (
                vec![("Nope", "\"x\"")],
                "Namespace default has no mapping defined for search attribute Nope",
            ),
            (
                vec![("Priority", "\"high\"")],
                "invalid value for search attribute Priority of type Int: \"high\"",
            ),
            (
                vec![("WorkflowId", "\"x\"")],
                "WorkflowId attribute can't be set in SearchAttributes",
            ),
            (vec![("TemporalWorkerDeployment", "\"x\"")], "can't be set"),
        ] {
            let err = check(&pairs).unwrap_err();
            assert!(err.contains(needle), "{pairs:?}: {err}");
        }
        let big = format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES));
        assert!(
            check(&[("Customer", &big)])
                .unwrap_err()
                .contains("size limit")
        );
        let many: Vec<(String, String)> = (0..=MAX_KEYS)
            .map(|i| (format!("K{i}"), "1".into()))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert!(check(&many).unwrap_err().contains("exceeds limit"));
    }

    #[test]
    fn commands_that_set_attributes_are_checked() {
        use temporalio_protos::temporal::api::command::v1::{
            ContinueAsNewWorkflowExecutionCommandAttributes,
            StartChildWorkflowExecutionCommandAttributes,
            UpsertWorkflowSearchAttributesCommandAttributes,
        };
        let schema = Schema::new(
            "default",
            &HashMap::from([("Priority".to_string(), Int as i32)]),
        );
        let command = |attributes| Command {
            attributes: Some(attributes),
            ..Default::default()
        };
        let good = set(&[("Priority", "1"), ("TemporalChangeVersion", "[\"v\"]")]);
        let bad = set(&[("Priority", "\"high\"")]);
        let upsert = |sa: &SearchAttributes| {
            command(Attributes::UpsertWorkflowSearchAttributesCommandAttributes(
                UpsertWorkflowSearchAttributesCommandAttributes {
                    search_attributes: Some(sa.clone()),
                },
            ))
        };
        let child = command(Attributes::StartChildWorkflowExecutionCommandAttributes(
            StartChildWorkflowExecutionCommandAttributes {
                search_attributes: Some(bad.clone()),
                ..Default::default()
            },
        ));
        let continued = command(Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(
            ContinueAsNewWorkflowExecutionCommandAttributes {
                search_attributes: Some(set(&[("Nope", "1")])),
                ..Default::default()
            },
        ));
        assert_eq!(check_commands(&schema, &[upsert(&good)]), Ok(()));
        assert!(check_commands(&schema, &[upsert(&good), upsert(&bad)]).is_err());
        assert!(
            check_commands(&schema, &[child])
                .unwrap_err()
                .contains("of type Int")
        );
        assert!(
            check_commands(&schema, &[continued])
                .unwrap_err()
                .contains("Nope")
        );
        assert_eq!(check_commands(&schema, &[Command::default()]), Ok(()));
    }
}
