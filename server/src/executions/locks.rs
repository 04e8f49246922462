//! Per-workflow serialization: every change to a run happens under the lock of its workflow id,
//! so transitions of one execution apply in order while different executions proceed in
//! parallel (and share flushes through group commit).

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
};

use tokio::sync::{Mutex, MutexGuard};

/// How many stripes; a power of two well above the number of cores.
const STRIPES: usize = 1024;

/// A fixed set of async mutexes indexed by a hash of (namespace, workflow id).
pub(crate) struct StripedLocks {
    stripes: Vec<Mutex<()>>,
}

impl StripedLocks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Locks the stripe of `(namespace, workflow_id)`.
    pub(crate) async fn lock(&self, namespace: &str, workflow_id: &str) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        namespace.hash(&mut hasher);
        workflow_id.hash(&mut hasher);
        let index = (hasher.finish() as usize) % STRIPES;
        self.stripes[index].lock().await
    }
}
