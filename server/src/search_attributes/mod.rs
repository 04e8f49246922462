//! Search attributes: the system attributes every run has, the predefined ones the SDKs set
//! (`TemporalChangeVersion`, …), and the typed custom attributes an operator registers per
//! namespace (OperatorService AddSearchAttributes). The registry of a namespace lives in its
//! stored [`NamespaceRecord`](crate::namespaces::NamespaceRecord), so it is durable and survives
//! restarts with the namespace.
//!
//! - `registry`: which names exist, their types, and the rules for adding and removing custom
//!   attributes (pure: a map in, a changed map or an error out).
//! - `values`: decoding a stored or requested value by its type, and checking what a start or
//!   an upsert sets before anything is stored.
//!
//! Search attribute values are JSON payloads in clear text: SDK payload codecs leave them
//! alone (by design in Temporal) so the server can index them. The server reads them; it never
//! reads any other payload.

mod registry;
mod values;

use std::collections::{BTreeMap, HashMap};

pub use registry::{MAX_CUSTOM_ATTRIBUTES, add_custom, remove_custom, system_attributes};
use temporalio_protos::temporal::api::enums::v1::IndexedValueType;
pub use values::{SearchValue, check_commands, check_set, decode_value, parse_time};

use crate::namespaces::NamespaceRecord;

/// Where an attribute comes from, which decides where its value lives and who may set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Kept in the run's own fields (`WorkflowId`, `StartTime`, …); never set by a client.
    System,
    /// Defined by Temporal for the SDKs and the server (`TemporalChangeVersion`, `BuildIds`, …),
    /// stored with the custom attributes. `settable` says whether a client or worker may set it.
    Predefined {
        /// Whether starts and upserts may set it.
        settable: bool,
    },
    /// Registered by an operator for this namespace.
    Custom,
}

/// A known attribute: its type and category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute's type.
    pub kind: IndexedValueType,
    /// Where it comes from.
    pub category: Category,
}

/// Every attribute a namespace knows: the system and predefined ones plus its custom ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    namespace: String,
    custom: BTreeMap<String, IndexedValueType>,
}

impl Schema {
    /// The schema of a namespace with the given custom attributes (name → type).
    pub fn new(namespace: &str, custom: &HashMap<String, i32>) -> Self {
        Self {
            namespace: namespace.to_string(),
            custom: custom
                .iter()
                .filter_map(|(name, kind)| {
                    let kind = IndexedValueType::try_from(*kind).ok()?;
                    Some((name.clone(), kind))
                })
                .collect(),
        }
    }

    /// The schema of a stored namespace.
    pub fn of(record: &NamespaceRecord) -> Self {
        Self::new(&record.name, &record.search_attributes)
    }

    /// The namespace this schema belongs to (for messages).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The attribute called `name`, if it exists here.
    pub fn attribute(&self, name: &str) -> Option<Attribute> {
        if let Some(attribute) = registry::builtin(name) {
            return Some(attribute);
        }
        self.custom.get(name).map(|kind| Attribute {
            kind: *kind,
            category: Category::Custom,
        })
    }

    /// The custom attributes, by name.
    pub fn custom(&self) -> &BTreeMap<String, IndexedValueType> {
        &self.custom
    }
}

/// Why a registry change was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SearchAttributeError {
    /// The request is invalid (reserved or malformed name, unknown type, too many attributes);
    /// the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The name is registered with another type.
    #[error(
        "Search attribute {name} already exists with type {existing}; remove it first to \
         register it as {requested}."
    )]
    AlreadyExists {
        /// The attribute name.
        name: String,
        /// Its registered type.
        existing: &'static str,
        /// The type the request asked for.
        requested: &'static str,
    },
}

/// The name Temporal prints for a type (`Keyword`, `KeywordList`, …).
pub fn type_name(kind: IndexedValueType) -> &'static str {
    match kind {
        IndexedValueType::Text => "Text",
        IndexedValueType::Keyword => "Keyword",
        IndexedValueType::Int => "Int",
        IndexedValueType::Double => "Double",
        IndexedValueType::Bool => "Bool",
        IndexedValueType::Datetime => "Datetime",
        IndexedValueType::KeywordList => "KeywordList",
        IndexedValueType::Unspecified => "Unspecified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_resolves_builtin_before_custom_and_drops_unknown_types() {
        let custom = HashMap::from([
            ("Customer".to_string(), IndexedValueType::Keyword as i32),
            ("Broken".to_string(), 99),
        ]);
        let schema = Schema::new("orders", &custom);
        assert_eq!(
            schema.attribute("Customer"),
            Some(Attribute {
                kind: IndexedValueType::Keyword,
                category: Category::Custom
            })
        );
        assert_eq!(schema.attribute("Broken"), None);
        assert_eq!(
            schema.attribute("StartTime").map(|a| a.category),
            Some(Category::System)
        );
        assert_eq!(
            schema.attribute("TemporalChangeVersion"),
            Some(Attribute {
                kind: IndexedValueType::KeywordList,
                category: Category::Predefined { settable: true }
            })
        );
        assert_eq!(schema.attribute("Missing"), None);
        assert_eq!(schema.namespace(), "orders");
    }
}
