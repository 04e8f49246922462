//! Group commit: many concurrent writers share one flush.
//!
//! [`Committer::commit`] applies a batch on a blocking thread, registers as a waiter, and waits.
//! One background task takes *all* registered waiters, then starts a flush, then tells each of
//! them the result. Because a waiter registers only after its apply returned, and the flusher
//! takes waiters before it starts the flush, every waiter is answered by a flush that started
//! after its apply: the batch is on disk when `commit` returns `Ok`. Waiters that arrive while
//! a flush runs are served by the next one, so N concurrent commits cost one or two flushes.
//!
//! A failed flush fails every waiter of that flush, is logged, and stops the committer: after
//! a failed fsync nobody knows which earlier writes reached the disk, so every later commit
//! fails too (fail-stop) and the process must restart and recover from what is on disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, oneshot};

use super::{Store, StoreError, WriteBatch};

type Waiter = oneshot::Sender<Result<(), StoreError>>;

/// Applies batches and acknowledges them only once they are durable, sharing flushes.
///
/// Cheap to clone; all clones share one background flusher, which stops when the last clone
/// is dropped.
#[derive(Clone)]
pub struct Committer {
    handle: Arc<Handle>,
}

impl Committer {
    /// Starts the background flusher for `store`.
    ///
    /// Must be called from within a Tokio runtime (it spawns a task, like `tokio::spawn`).
    pub fn start(store: Arc<dyn Store>) -> Committer {
        let shared = Arc::new(Shared {
            store,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            flushes: AtomicU64::new(0),
        });
        tokio::spawn(run_flusher(Arc::clone(&shared)));
        Committer {
            handle: Arc::new(Handle { shared }),
        }
    }

    /// Applies `batch` atomically and returns once it is durable.
    ///
    /// On `Ok` the batch survives a process crash. On `Err` it may or may not have been
    /// applied (e.g. applied, then the flush failed); it must not be acknowledged. An empty
    /// batch just waits for a flush. If the returned future is dropped early the batch may or
    /// may not be applied.
    pub async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let shared = &self.handle.shared;
        if let Some(error) = shared.lock().failed.clone() {
            return Err(error);
        }
        if !batch.is_empty() {
            let store = Arc::clone(&shared.store);
            tokio::task::spawn_blocking(move || store.apply(&batch))
                .await
                .map_err(|e| StoreError::Unavailable {
                    reason: format!("apply task did not complete: {e}"),
                })??;
        }
        self.wait_for_flush().await
    }

    /// Waits for a flush that starts after this call; for shutdown, or to make batches that
    /// were applied directly on the store durable.
    pub async fn flush_now(&self) -> Result<(), StoreError> {
        self.wait_for_flush().await
    }

    /// The store, for reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.handle.shared.store
    }

    /// How many flushes have completed (successfully or not) since `start`.
    pub fn flush_count(&self) -> u64 {
        self.handle.shared.flushes.load(Ordering::Relaxed)
    }

    async fn wait_for_flush(&self) -> Result<(), StoreError> {
        let shared = &self.handle.shared;
        let (tx, rx) = oneshot::channel();
        {
            let mut state = shared.lock();
            if let Some(error) = state.failed.clone() {
                return Err(error);
            }
            state.waiters.push(tx);
        }
        shared.wake.notify_one();
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable {
                reason: "the flusher task stopped (runtime shutting down)".into(),
            })
        })
    }
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("flush_count", &self.flush_count())
            .finish_non_exhaustive()
    }
}

/// Owned by the `Committer` clones only (not the flusher), so its drop means "no more users".
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// State shared by the committers and the flusher task.
struct Shared {
    store: Arc<dyn Store>,
    state: Mutex<State>,
    /// Wakes the flusher when waiters arrive or the last committer is dropped.
    wake: Notify,
    /// Completed flushes, for tests and benchmarks.
    flushes: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held (pushes, takes and flag writes only), so a
        // poisoned lock still guards consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct State {
    /// Commits whose apply finished, waiting for the next flush to start and finish.
    waiters: Vec<Waiter>,
    /// Set by the first failed flush; every later commit fails with it.
    failed: Option<StoreError>,
    /// Set when the last `Committer` is dropped.
    closed: bool,
}

async fn run_flusher(shared: Arc<Shared>) {
    loop {
        let waiters = {
            let mut state = shared.lock();
            if state.waiters.is_empty() && state.closed {
                return;
            }
            std::mem::take(&mut state.waiters)
        };
        if waiters.is_empty() {
            // A notify_one sent since the check above is stored as a permit, so no wake-up
            // is lost between the check and this await.
            shared.wake.notified().await;
            continue;
        }

        let store = Arc::clone(&shared.store);
        let result = match tokio::task::spawn_blocking(move || store.flush()).await {
            Ok(result) => result,
            Err(e) => Err(StoreError::Unavailable {
                reason: format!("flush task did not complete: {e}"),
            }),
        };
        shared.flushes.fetch_add(1, Ordering::Relaxed);

        if let Err(error) = &result {
            tracing::error!(
                %error,
                waiters = waiters.len(),
                "store flush failed; failing every commit waiting on it and all later commits"
            );
            shared.lock().failed = Some(error.clone());
        }
        for waiter in waiters {
            // A waiter whose commit future was dropped is gone; nothing to tell it.
            let _ = waiter.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::io;
    use std::time::Duration;

    use super::*;
    use crate::store::{Keyspace, MemoryStore};

    /// A store that models durability: `flush` snapshots what was applied when it *started*,
    /// sleeps, then makes that snapshot the durable state.
    struct DurabilityModel {
        inner: MemoryStore,
        applied: Mutex<BTreeSet<Vec<u8>>>,
        durable: Mutex<BTreeSet<Vec<u8>>>,
        fail_flush: bool,
    }

    impl DurabilityModel {
        fn new(fail_flush: bool) -> Arc<Self> {
            Arc::new(Self {
                inner: MemoryStore::new(),
                applied: Mutex::default(),
                durable: Mutex::default(),
                fail_flush,
            })
        }

        fn is_durable(&self, key: &[u8]) -> bool {
            self.durable.lock().unwrap().contains(key)
        }
    }

    impl Store for DurabilityModel {
        fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(ks, key)
        }
        fn scan_prefix(
            &self,
            ks: Keyspace,
            prefix: &[u8],
            limit: usize,
        ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
            self.inner.scan_prefix(ks, prefix, limit)
        }
        fn scan_range(
            &self,
            ks: Keyspace,
            start: &[u8],
            end: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
            self.inner.scan_range(ks, start, end, limit)
        }
        fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
            let mut applied = self.applied.lock().unwrap();
            self.inner.apply(batch)?;
            applied.extend(batch.ops().iter().map(|op| op.key().to_vec()));
            Ok(())
        }
        fn flush(&self) -> Result<(), StoreError> {
            let snapshot = self.applied.lock().unwrap().clone();
            std::thread::sleep(Duration::from_millis(20));
            if self.fail_flush {
                return Err(StoreError::Io {
                    operation: "flush",
                    source: Arc::new(io::Error::other("disk on fire")),
                });
            }
            *self.durable.lock().unwrap() = snapshot;
            Ok(())
        }
    }

    fn batch(key: &[u8]) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch.put(Keyspace::History, key, b"v".to_vec()).put(
            Keyspace::Executions,
            key,
            b"v".to_vec(),
        );
        batch
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_commits_share_flushes_and_are_durable_on_return() {
        let model = DurabilityModel::new(false);
        let committer = Committer::start(model.clone());
        let mut tasks = Vec::new();
        for i in 0..50u32 {
            let committer = committer.clone();
            let model = Arc::clone(&model);
            tasks.push(tokio::spawn(async move {
                let key = i.to_be_bytes();
                committer.commit(batch(&key)).await.unwrap();
                assert!(
                    model.is_durable(&key),
                    "commit {i} returned before its flush"
                );
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let flushes = committer.flush_count();
        assert!(
            (1..50).contains(&flushes),
            "{flushes} flushes for 50 commits"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flush_error_fails_every_waiter_and_later_commits() {
        let model = DurabilityModel::new(true);
        let committer = Committer::start(model.clone());
        let results = futures::future::join_all(
            (0..10u32).map(|i| committer.commit(batch(&i.to_be_bytes()))),
        )
        .await;
        for result in results {
            assert!(matches!(
                result,
                Err(StoreError::Io {
                    operation: "flush",
                    ..
                })
            ));
        }
        assert!(committer.flush_count() >= 1);
        let later = committer.commit(batch(b"later")).await;
        assert!(matches!(later, Err(StoreError::Io { .. })));
        assert!(committer.flush_now().await.is_err());
        // The failed committer applied nothing new.
        assert_eq!(model.get(Keyspace::History, b"later").unwrap(), None);
    }

    #[tokio::test]
    async fn apply_error_is_returned_without_a_flush() {
        let committer = Committer::start(Arc::new(MemoryStore::new()));
        let mut bad = WriteBatch::new();
        bad.delete(Keyspace::Meta, crate::store::FORMAT_KEY);
        assert!(matches!(
            committer.commit(bad).await,
            Err(StoreError::ReservedKey { .. })
        ));
        assert_eq!(committer.flush_count(), 0);
        committer.commit(WriteBatch::new()).await.unwrap();
        committer.flush_now().await.unwrap();
        assert_eq!(committer.flush_count(), 2);
    }

    #[tokio::test]
    async fn flusher_stops_when_last_committer_is_dropped() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let committer = Committer::start(Arc::clone(&store));
        let clone = committer.clone();
        committer.commit(batch(b"k")).await.unwrap();
        drop(committer);
        clone.flush_now().await.unwrap();
        drop(clone);
        // The flusher owned the last other reference to the store.
        for _ in 0..100 {
            if Arc::strong_count(&store) == 1 {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("flusher task still holds the store");
    }
}
