//! Visibility: list and count executions with a subset of Temporal's list-filter language.
//!
//! Every run has one row in the Visibility keyspace, rewritten with each of its transitions in
//! the same batch as its state, keyed `namespace ‖ (u64::MAX − start ms) ‖ run id` so a scan of
//! a namespace yields the newest runs first (`ORDER BY StartTime DESC`, Temporal's default).
//! Listing reads these rows only, never histories.
//!
//! - `query`: the parser.
//! - `filter`: resolving names against the namespace's search attributes, checking operators
//!   and literals against their types.
//! - `eval`: evaluating a resolved filter against one row.

mod eval;
mod filter;
#[cfg(test)]
mod filter_tests;
pub mod query;

use prost::Message;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;

pub use query::{Query, QueryError};

use crate::{
    search_attributes::Schema,
    store::{
        Keyspace, Store, StoreError,
        keys::{KeyBuilder, prefix_end},
    },
};

/// Rows read per store scan while filtering.
const SCAN_CHUNK: usize = 1024;
/// Page size when the client does not say, and the largest one allowed.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Why listing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisibilityError {
    /// The query is outside the supported subset or malformed; the message names the part.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The page token is not one this server issued.
    #[error("next_page_token is not one this server issued for this namespace")]
    BadToken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn namespace_prefix(namespace: &str) -> Vec<u8> {
    KeyBuilder::new().str(namespace).finish()
}

/// The Visibility row key of a run.
pub fn row_key(namespace: &str, start_time_ms: i64, run_id: &str) -> Vec<u8> {
    let newest_first = u64::MAX - u64::try_from(start_time_ms).unwrap_or(0);
    KeyBuilder::new()
        .str(namespace)
        .u64(newest_first)
        .str(run_id)
        .finish()
}

/// The Visibility row value of a run.
pub fn row_value(info: &WorkflowExecutionInfo) -> Vec<u8> {
    info.encode_to_vec()
}

/// A list query checked against a namespace's search attributes, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    filter: Option<filter::Filter>,
}

/// Parses a list query and resolves it against `schema`: an unknown attribute, an operator its
/// type does not support or a literal of the wrong type is refused, naming it.
pub fn prepare(query: &str, schema: &Schema) -> Result<Prepared, VisibilityError> {
    let parsed = query::parse(query)?;
    let filter = parsed
        .filter
        .as_ref()
        .map(|expr| filter::resolve(expr, schema))
        .transpose()?;
    Ok(Prepared { filter })
}

/// One page of executions matching `query`, newest first, and the token of the next page
/// (empty when there is none).
pub fn list(
    store: &dyn Store,
    namespace: &str,
    query: &Prepared,
    page_size: i32,
    page_token: &[u8],
) -> Result<(Vec<WorkflowExecutionInfo>, Vec<u8>), VisibilityError> {
    let prefix = namespace_prefix(namespace);
    let end = prefix_end(&prefix);
    if !page_token.is_empty() && !page_token.starts_with(&prefix) {
        return Err(VisibilityError::BadToken);
    }
    let mut start = if page_token.is_empty() {
        prefix
    } else {
        successor(page_token)
    };
    let page_size = match usize::try_from(page_size) {
        Ok(0) | Err(_) => DEFAULT_PAGE,
        Ok(n) => n.min(MAX_PAGE),
    };
    let mut page = Vec::new();
    loop {
        let rows = store.scan_range(Keyspace::Visibility, &start, end.as_deref(), SCAN_CHUNK)?;
        let exhausted = rows.len() < SCAN_CHUNK;
        for (key, value) in rows {
            let info = WorkflowExecutionInfo::decode(value.as_slice())
                .map_err(|err| StoreError::decode(Keyspace::Visibility, &key, err))?;
            start = successor(&key);
            if query
                .filter
                .as_ref()
                .is_none_or(|f| eval::matches(f, &info))
            {
                page.push(info);
                if page.len() == page_size {
                    // There may be more: hand out a token (the client stops on an empty page).
                    return Ok((page, key));
                }
            }
        }
        if exhausted {
            return Ok((page, Vec::new()));
        }
    }
}

/// How many executions match `query`.
pub fn count(store: &dyn Store, namespace: &str, query: &Prepared) -> Result<i64, VisibilityError> {
    let mut total = 0i64;
    let mut token = Vec::new();
    loop {
        let (page, next) = list(store, namespace, query, MAX_PAGE as i32, &token)?;
        total += page.len() as i64;
        if next.is_empty() {
            return Ok(total);
        }
        token = next;
    }
}

/// The smallest key greater than `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::common::v1::WorkflowExecution;

    use super::*;
    use crate::store::{MemoryStore, WriteBatch};

    fn run(id: usize, start_ms: i64) -> WorkflowExecutionInfo {
        WorkflowExecutionInfo {
            execution: Some(WorkflowExecution {
                workflow_id: format!("wf-{id}"),
                run_id: format!("run-{id}"),
            }),
            start_time: Some(prost_wkt_types::Timestamp {
                seconds: start_ms / 1000,
                nanos: 0,
            }),
            task_queue: if id.is_multiple_of(2) {
                "even".into()
            } else {
                "odd".into()
            },
            ..Default::default()
        }
    }

    fn store_with(n: usize) -> MemoryStore {
        let store = MemoryStore::default();
        let mut batch = WriteBatch::default();
        for id in 0..n {
            let start = 1_000_000 + id as i64 * 1000;
            batch.put(
                Keyspace::Visibility,
                row_key("ns", start, &format!("run-{id}")),
                row_value(&run(id, start)),
            );
        }
        batch.put(
            Keyspace::Visibility,
            row_key("other", 5, "x"),
            row_value(&run(99, 5)),
        );
        store.apply(&batch).unwrap();
        store
    }

    #[test]
    fn lists_newest_first_in_pages_within_the_namespace() {
        let store = store_with(2500);
        let all = prepare("", &Schema::default()).unwrap();
        let (first, token) = list(&store, "ns", &all, 1000, &[]).unwrap();
        assert_eq!(first.len(), 1000);
        assert_eq!(first[0].execution.as_ref().unwrap().workflow_id, "wf-2499");
        let mut seen = first.len();
        let mut token = token;
        while !token.is_empty() {
            let (page, next) = list(&store, "ns", &all, 1000, &token).unwrap();
            seen += page.len();
            token = next;
        }
        assert_eq!(seen, 2500);
        assert_eq!(count(&store, "ns", &all).unwrap(), 2500);
        assert_eq!(count(&store, "other", &all).unwrap(), 1);
    }

    #[test]
    fn filters_and_counts() {
        let store = store_with(3000);
        let even = prepare(
            "TaskQueue = 'even' ORDER BY StartTime DESC",
            &Schema::default(),
        )
        .unwrap();
        assert_eq!(count(&store, "ns", &even).unwrap(), 1500);
        let one = prepare("WorkflowId = 'wf-7'", &Schema::default()).unwrap();
        let (page, token) = list(&store, "ns", &one, 10, &[]).unwrap();
        assert_eq!(page.len(), 1);
        assert!(token.is_empty());
    }

    #[test]
    fn bad_tokens_and_queries_are_refused() {
        let store = store_with(1);
        let all = prepare("", &Schema::default()).unwrap();
        assert!(matches!(
            list(&store, "ns", &all, 10, b"\xffnot-ours"),
            Err(VisibilityError::BadToken)
        ));
        assert!(matches!(
            prepare("WorkflowId LIKE 'x'", &Schema::default()),
            Err(VisibilityError::Query(_))
        ));
        assert!(matches!(
            prepare("Unregistered = 'x'", &Schema::default()),
            Err(VisibilityError::Query(_))
        ));
    }
}
