//! Key layouts of the execution keyspaces. Byte order equals logical order (see
//! `store::keys`), so prefixes select one workflow, one run, or one run's events in id order.
//!
//! | keyspace   | key                                                   | value            |
//! |------------|-------------------------------------------------------|------------------|
//! | Executions | `c` ns wf                                             | current run id   |
//! | Executions | `s` ns wf run                                         | `MutableState`   |
//! | History    | ns wf run event_id                                    | `HistoryEvent`   |
//! | Tasks      | ns wf run kind scheduled_event_id attempt             | `TaskRow`        |
//! | Tasks      | ns wf run 3 initiated_event_id 0 (start child)        | empty            |
//! | Tasks      | ns wf run 4 0 0 (notify parent)                       | `ChildCompletion`|
//! | Tasks      | ns wf run 5 index 0 (parent close policy)             | `ParentCloseAction` |
//! | Tasks      | ns wf run 6 initiated_event_id 0 (signal/cancel other)| empty            |
//! | Timers     | fire_at_ms ns wf run timer                            | `TimerTask`      |

use crate::store::keys::KeyBuilder;

const CURRENT_RUN: u8 = b'c';
const STATE: u8 = b's';

/// Identifies one workflow run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey {
    /// Namespace name.
    pub namespace: String,
    /// Workflow id.
    pub workflow_id: String,
    /// Run id.
    pub run_id: String,
}

impl RunKey {
    /// A run key.
    pub fn new(namespace: &str, workflow_id: &str, run_id: &str) -> Self {
        Self {
            namespace: namespace.into(),
            workflow_id: workflow_id.into(),
            run_id: run_id.into(),
        }
    }
}

/// Executions keyspace: the current run of a workflow id.
pub(crate) fn current_run(namespace: &str, workflow_id: &str) -> Vec<u8> {
    KeyBuilder::new()
        .u8(CURRENT_RUN)
        .str(namespace)
        .str(workflow_id)
        .finish()
}

/// Executions keyspace: the mutable state of a run.
pub(crate) fn state(run: &RunKey) -> Vec<u8> {
    KeyBuilder::new()
        .u8(STATE)
        .str(&run.namespace)
        .str(&run.workflow_id)
        .str(&run.run_id)
        .finish()
}

/// History keyspace: the prefix of all events of a run.
pub(crate) fn history_prefix(run: &RunKey) -> Vec<u8> {
    KeyBuilder::new()
        .str(&run.namespace)
        .str(&run.workflow_id)
        .str(&run.run_id)
        .finish()
}

/// History keyspace: one event.
pub(crate) fn event(run: &RunKey, event_id: i64) -> Vec<u8> {
    let mut key = history_prefix(run);
    key.extend_from_slice(&(u64::try_from(event_id).unwrap_or(0)).to_be_bytes());
    key
}

/// Tasks keyspace: a queued workflow or activity task of a run.
pub(crate) fn task(run: &RunKey, kind: u8, scheduled_event_id: i64, attempt: i32) -> Vec<u8> {
    KeyBuilder::new()
        .str(&run.namespace)
        .str(&run.workflow_id)
        .str(&run.run_id)
        .u8(kind)
        .i64(scheduled_event_id)
        .i64(i64::from(attempt))
        .finish()
}

/// Timers keyspace: a durable timer, ordered by fire time.
pub(crate) fn timer(fire_at_ms: i64, run: &RunKey, encoded_timer: &[u8]) -> Vec<u8> {
    KeyBuilder::new()
        .i64(fire_at_ms)
        .str(&run.namespace)
        .str(&run.workflow_id)
        .str(&run.run_id)
        .bytes(encoded_timer)
        .finish()
}

/// Parses a Tasks key back into (run, kind, scheduled event id, attempt).
pub(crate) fn parse_task(
    key: &[u8],
) -> Result<(RunKey, u8, i64, i32), crate::store::keys::KeyError> {
    let mut reader = crate::store::keys::KeyReader::new(key);
    let run = RunKey {
        namespace: reader.str()?,
        workflow_id: reader.str()?,
        run_id: reader.str()?,
    };
    let kind = reader.u8()?;
    let scheduled = reader.i64()?;
    let attempt = i32::try_from(reader.i64()?).unwrap_or(i32::MAX);
    reader.finish()?;
    Ok((run, kind, scheduled, attempt))
}

/// Parses the run out of a Timers key.
pub(crate) fn parse_timer_run(key: &[u8]) -> Result<RunKey, crate::store::keys::KeyError> {
    let mut reader = crate::store::keys::KeyReader::new(key);
    let _fire_at = reader.i64()?;
    Ok(RunKey {
        namespace: reader.str()?,
        workflow_id: reader.str()?,
        run_id: reader.str()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_sort_by_id_and_stay_under_their_run() {
        let run = RunKey::new("ns", "wf", "run");
        let other = RunKey::new("ns", "wf", "run2");
        let prefix = history_prefix(&run);
        let e2 = event(&run, 2);
        let e10 = event(&run, 10);
        assert!(e2 < e10);
        assert!(e2.starts_with(&prefix) && e10.starts_with(&prefix));
        assert!(!event(&other, 1).starts_with(&prefix));
    }

    #[test]
    fn timers_sort_by_time_first() {
        let a = RunKey::new("zzz", "wf", "r");
        let b = RunKey::new("aaa", "wf", "r");
        assert!(timer(1_000, &a, b"x") < timer(2_000, &b, b"x"));
    }
}
