//! Which attribute names exist and the rules for registering custom ones, as Temporal has them:
//! system and predefined names (and anything starting with `Temporal`) are reserved, adding a
//! name again with the same type changes nothing, removing an unknown name changes nothing.
//! Unlike Temporal's SQL visibility (which silently keeps the old type), adding a name with
//! another type is refused with AlreadyExists.

use std::collections::HashMap;

use temporalio_protos::temporal::api::enums::v1::IndexedValueType::{
    self, Bool, Datetime, Int, Keyword, KeywordList,
};

use super::{Attribute, Category, SearchAttributeError, type_name};

/// How many custom attributes one namespace may register. Temporal's SQL dev server has fixed
/// columns (10 Keyword, 3 of every other type); Lockstep's rows have no columns to run out of,
/// so the limit only keeps one namespace's schema (and every row's check) small.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 100;
/// The longest attribute name accepted.
const MAX_NAME_BYTES: usize = 255;
/// Names with this prefix belong to Temporal.
const RESERVED_PREFIX: &str = "Temporal";

/// Attributes kept in the run's own fields.
const SYSTEM: [(&str, IndexedValueType); 16] = [
    ("WorkflowId", Keyword),
    ("RunId", Keyword),
    ("WorkflowType", Keyword),
    ("StartTime", Datetime),
    ("ExecutionTime", Datetime),
    ("CloseTime", Datetime),
    ("ExecutionStatus", Keyword),
    ("TaskQueue", Keyword),
    ("HistoryLength", Int),
    ("ExecutionDuration", Int),
    ("StateTransitionCount", Int),
    ("HistorySizeBytes", Int),
    ("ParentWorkflowId", Keyword),
    ("ParentRunId", Keyword),
    ("RootWorkflowId", Keyword),
    ("RootRunId", Keyword),
];

/// Attributes Temporal defines for SDKs and tools; `true` = starts and upserts may set it.
const PREDEFINED: [(&str, IndexedValueType, bool); 17] = [
    ("TemporalChangeVersion", KeywordList, true),
    ("BinaryChecksums", KeywordList, true),
    ("BuildIds", KeywordList, true),
    ("BatcherNamespace", Keyword, true),
    ("BatcherUser", Keyword, true),
    ("TemporalScheduledStartTime", Datetime, true),
    ("TemporalScheduledById", Keyword, true),
    ("TemporalSchedulePaused", Bool, true),
    ("TemporalNamespaceDivision", Keyword, true),
    ("TemporalPauseInfo", KeywordList, true),
    ("TemporalReportedProblems", KeywordList, true),
    ("TemporalWorkerDeploymentVersion", Keyword, false),
    ("TemporalWorkflowVersioningBehavior", Keyword, false),
    ("TemporalWorkerDeployment", Keyword, false),
    ("TemporalUsedWorkerDeploymentVersions", KeywordList, false),
    ("TemporalExternalPayloadCount", Int, false),
    ("TemporalExternalPayloadSizeBytes", Int, false),
];

/// Internal field names that are never attributes.
const RESERVED: [&str; 4] = ["NamespaceId", "Memo", "MemoEncoding", "VisibilityTaskKey"];

/// A system or predefined attribute.
pub(super) fn builtin(name: &str) -> Option<Attribute> {
    if let Some((_, kind)) = SYSTEM.iter().find(|(n, _)| *n == name) {
        return Some(Attribute {
            kind: *kind,
            category: Category::System,
        });
    }
    PREDEFINED
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, settable)| Attribute {
            kind: *kind,
            category: Category::Predefined {
                settable: *settable,
            },
        })
}

/// The system and predefined attributes with their types (what ListSearchAttributes calls
/// system attributes, and GetSearchAttributes lists next to the custom ones).
pub fn system_attributes() -> HashMap<String, i32> {
    SYSTEM
        .iter()
        .map(|(name, kind)| (name.to_string(), *kind as i32))
        .chain(
            PREDEFINED
                .iter()
                .map(|(name, kind, _)| (name.to_string(), *kind as i32)),
        )
        .collect()
}

/// Checks a name for registration: not reserved, 1 to 255 bytes of letters, digits, `_`, `-`
/// and `.`, starting with a letter or `_` (so it can be written in a list filter, with
/// backticks when it has `-`).
fn check_name(name: &str) -> Result<(), SearchAttributeError> {
    if builtin(name).is_some() || RESERVED.contains(&name) || name.starts_with(RESERVED_PREFIX) {
        return Err(SearchAttributeError::Invalid(format!(
            "Search attribute {name} is reserved by system."
        )));
    }
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    let ok_start = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if ok_chars && ok_start && name.len() <= MAX_NAME_BYTES {
        Ok(())
    } else {
        Err(SearchAttributeError::Invalid(format!(
            "search attribute name {name:?} is invalid: use 1 to {MAX_NAME_BYTES} characters \
             from A-Z a-z 0-9 _ - ., starting with a letter or _"
        )))
    }
}

/// Adds `requested` (name → type) to `current`, all or nothing. Returns whether anything
/// changed (re-adding a name with its registered type is a no-op, as in Temporal).
pub fn add_custom(
    current: &mut HashMap<String, i32>,
    requested: &HashMap<String, i32>,
    namespace: &str,
) -> Result<bool, SearchAttributeError> {
    if requested.is_empty() {
        return Err(SearchAttributeError::Invalid(
            "SearchAttributes are not set on request.".into(),
        ));
    }
    let mut names: Vec<_> = requested.iter().collect();
    names.sort();
    let mut next = current.clone();
    for (name, kind) in names {
        check_name(name)?;
        let requested_kind = IndexedValueType::try_from(*kind)
            .ok()
            .filter(|k| *k != IndexedValueType::Unspecified)
            .ok_or_else(|| {
                SearchAttributeError::Invalid(format!("Unknown search attribute type: {kind}."))
            })?;
        match next.get(name).map(|k| IndexedValueType::try_from(*k)) {
            Some(Ok(existing)) if existing == requested_kind => {}
            Some(existing) => {
                return Err(SearchAttributeError::AlreadyExists {
                    name: name.clone(),
                    existing: existing.map_or("Unspecified", type_name),
                    requested: type_name(requested_kind),
                });
            }
            None => {
                next.insert(name.clone(), requested_kind as i32);
            }
        }
    }
    if next.len() > MAX_CUSTOM_ATTRIBUTES {
        return Err(SearchAttributeError::Invalid(format!(
            "Unable to create search attributes: namespace {namespace} cannot have more than \
             {MAX_CUSTOM_ATTRIBUTES} custom search attributes (it has {}).",
            current.len()
        )));
    }
    let changed = next.len() != current.len();
    *current = next;
    Ok(changed)
}

/// Removes `names` from `current`, all or nothing; unknown names are skipped (as in Temporal),
/// system and predefined names are refused. Returns whether anything changed.
pub fn remove_custom(
    current: &mut HashMap<String, i32>,
    names: &[String],
) -> Result<bool, SearchAttributeError> {
    if names.is_empty() {
        return Err(SearchAttributeError::Invalid(
            "SearchAttributes are not set on request.".into(),
        ));
    }
    if let Some(name) = names.iter().find(|name| builtin(name).is_some()) {
        return Err(SearchAttributeError::Invalid(format!(
            "Unable to remove non-custom search attributes: {name}."
        )));
    }
    let before = current.len();
    for name in names {
        current.remove(name);
    }
    Ok(current.len() != before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&str, IndexedValueType)]) -> HashMap<String, i32> {
        pairs
            .iter()
            .map(|(name, kind)| (name.to_string(), *kind as i32))
            .collect()
    }

    #[test]
    fn adds_are_all_or_nothing_and_idempotent() {
        let mut current = HashMap::new();
        let added = add_custom(
            &mut current,
            &request(&[("Customer", Keyword), ("Priority", Int)]),
            "ns",
        );
        assert_eq!(added, Ok(true));
        assert_eq!(current.len(), 2);
        assert_eq!(
            add_custom(&mut current, &request(&[("Customer", Keyword)]), "ns"),
            Ok(false)
        );
        let before = current.clone();
        let clash = add_custom(
            &mut current,
            &request(&[("Aaa", Bool), ("Customer", Int)]),
            "ns",
        )
        .unwrap_err();
        assert_eq!(
            clash,
            SearchAttributeError::AlreadyExists {
                name: "Customer".into(),
                existing: "Keyword",
                requested: "Int"
            }
        );
        assert_eq!(current, before, "a refused add changes nothing");
    }

    #[test]
    fn reserved_malformed_and_untyped_names_are_refused() {
        let mut current = HashMap::new();
        for (name, needle) in [
            ("WorkflowId", "reserved by system"),
            ("TemporalChangeVersion", "reserved by system"),
            ("TemporalAnything", "reserved by system"),
            ("Memo", "reserved by system"),
            ("", "is invalid"),
            ("1st", "is invalid"),
            ("has space", "is invalid"),
            ("back`tick", "is invalid"),
        ] {
            let err = add_custom(&mut current, &request(&[(name, Keyword)]), "ns").unwrap_err();
            assert!(err.to_string().contains(needle), "{name:?}: {err}");
        }
        let long = "a".repeat(256);
        assert!(add_custom(&mut current, &request(&[(&long, Keyword)]), "ns").is_err());
        let untyped = HashMap::from([("Ok".to_string(), 0)]);
        let err = add_custom(&mut current, &untyped, "ns").unwrap_err();
        assert!(err.to_string().contains("Unknown search attribute type: 0"));
        let unknown = HashMap::from([("Ok".to_string(), 42)]);
        assert!(add_custom(&mut current, &unknown, "ns").is_err());
        assert!(add_custom(&mut current, &HashMap::new(), "ns").is_err());
        assert!(current.is_empty());
    }

    #[test]
    fn the_limit_counts_what_would_be_registered() {
        let mut current: HashMap<String, i32> = (0..MAX_CUSTOM_ATTRIBUTES)
            .map(|i| (format!("A{i}"), Keyword as i32))
            .collect();
        assert_eq!(
            add_custom(&mut current, &request(&[("A0", Keyword)]), "ns"),
            Ok(false)
        );
        let err = add_custom(&mut current, &request(&[("Extra", Keyword)]), "ns").unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot have more than 100 custom search attributes"),
            "{err}"
        );
        assert_eq!(current.len(), MAX_CUSTOM_ATTRIBUTES);
    }

    #[test]
    fn removes_skip_unknown_names_and_refuse_system_ones() {
        let mut current = request(&[("Customer", Keyword), ("Priority", Int)]);
        assert_eq!(
            remove_custom(&mut current, &["Customer".into(), "Nope".into()]),
            Ok(true)
        );
        assert_eq!(remove_custom(&mut current, &["Nope".into()]), Ok(false));
        let err = remove_custom(&mut current, &["Priority".into(), "WorkflowId".into()]);
        assert!(err.is_err());
        assert!(
            current.contains_key("Priority"),
            "a refused remove changes nothing"
        );
        assert!(remove_custom(&mut current, &[]).is_err());
    }

    #[test]
    fn system_attributes_list_system_and_predefined_names() {
        let system = system_attributes();
        assert_eq!(system.len(), SYSTEM.len() + PREDEFINED.len());
        assert_eq!(system["StartTime"], Datetime as i32);
        assert_eq!(system["TemporalChangeVersion"], KeywordList as i32);
    }
}
