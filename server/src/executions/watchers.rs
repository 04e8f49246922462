//! Long-poll support for GetWorkflowExecutionHistory: callers wait for a run's next event id to
//! pass a value; every committed transition publishes the new next event id.

use std::{collections::HashMap, sync::Mutex};

use tokio::sync::watch;

use super::keys::RunKey;

/// Publishes each run's progress to the history long polls waiting on it.
pub(crate) struct HistoryWatchers {
    runs: Mutex<HashMap<RunKey, watch::Sender<Progress>>>,
}

/// What a waiter needs to know about a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Progress {
    /// The id the next event will get.
    pub(crate) next_event_id: i64,
    /// Whether the run is closed.
    pub(crate) closed: bool,
}

impl HistoryWatchers {
    pub(crate) fn new() -> Self {
        Self {
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// A receiver for `run`, starting from `current`.
    pub(crate) fn subscribe(&self, run: &RunKey, current: Progress) -> watch::Receiver<Progress> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let sender = runs
            .entry(run.clone())
            .or_insert_with(|| watch::channel(current).0);
        sender.subscribe()
    }

    /// Publishes `progress`; forgets runs nobody waits on.
    pub(crate) fn publish(&self, run: &RunKey, progress: Progress) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = runs.get(run) {
            sender.send_replace(progress);
            if sender.receiver_count() == 0 {
                runs.remove(run);
            }
        }
    }
}
