//! Group commit: many concurrent writers share one apply and one flush.
//!
//! [`Committer::commit`] hands its batch to one dedicated commit thread and waits. The thread
//! takes *every* batch queued since its last turn, hands them to the store as one batch with
//! [`Store::apply_durable`] (atomic, and durable when it returns: the sled store logs it, syncs
//! the log once, then applies it), and then answers each of their callers. A caller is
//! answered only after the durable apply of its own batch, so the batch is on disk when
//! `commit` returns `Ok`. Batches queued while a turn runs are served by the next turn, so N concurrent
//! commits cost one or two applies and flushes, and each commit costs two thread hand-offs
//! (to the commit thread and back), not one blocking-pool task per apply and per flush.
//!
//! Merging is safe because the merged batch applies its operations in queue order (a later
//! write to a key wins, as if the batches had been applied one after another) and is atomic as
//! a whole: every caller of a turn gets that turn's result.
//! Batches that could never apply (a reserved key) are refused before they are queued, so one
//! caller's bad batch cannot fail the others.
//!
//! A failed durable apply fails every waiter of that turn, is logged, and stops the committer:
//! after a failed write or fsync nobody knows which earlier writes reached the disk, so every
//! later commit fails too (fail-stop) and the process must restart and recover from what is on
//! disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::{Store, StoreError, WriteBatch, check_reserved};

type Waiter = oneshot::Sender<Result<(), StoreError>>;

/// Applies batches and acknowledges them only once they are durable, sharing applies and
/// flushes.
///
/// Cheap to clone; all clones share one commit thread, which stops when the last clone is
/// dropped (after answering everything queued).
#[derive(Clone)]
pub struct Committer {
    handle: Arc<Handle>,
}

impl Committer {
    /// Starts the commit thread for `store`.
    ///
    /// # Panics
    /// If the operating system refuses to start a thread (at start-up, before any request).
    pub fn start(store: Arc<dyn Store>) -> Committer {
        let shared = Arc::new(Shared {
            store,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            flushes: AtomicU64::new(0),
            commits: AtomicU64::new(0),
        });
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("lockstep-commit".into())
            .spawn(move || run_commit_thread(&worker))
            .unwrap_or_else(|e| panic!("cannot start the commit thread: {e}"));
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
        check_reserved(&batch)?;
        self.enqueue(batch).await
    }

    /// Waits for a flush that starts after this call; for shutdown, or to make batches that
    /// were applied directly on the store durable.
    pub async fn flush_now(&self) -> Result<(), StoreError> {
        self.enqueue(WriteBatch::new()).await
    }

    /// The store, for reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.handle.shared.store
    }

    /// How many flushes have completed (successfully or not) since `start`.
    pub fn flush_count(&self) -> u64 {
        self.handle.shared.flushes.load(Ordering::Relaxed)
    }

    /// How many commits (and flush requests) have been served since `start`; with
    /// [`Committer::flush_count`], how well group commit shares flushes.
    pub fn commit_count(&self) -> u64 {
        self.handle.shared.commits.load(Ordering::Relaxed)
    }

    async fn enqueue(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let shared = &self.handle.shared;
        let (tx, rx) = oneshot::channel();
        {
            let mut state = shared.lock();
            if let Some(error) = state.failed.clone() {
                return Err(error);
            }
            state.queue.push((batch, tx));
        }
        shared.wake.notify_one();
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable {
                reason: "the commit thread stopped".into(),
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

/// Owned by the `Committer` clones only (not the thread), so its drop means "no more users".
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// State shared by the committers and the commit thread.
struct Shared {
    store: Arc<dyn Store>,
    state: Mutex<State>,
    /// Wakes the commit thread when batches arrive or the last committer is dropped.
    wake: Condvar,
    /// Completed flushes, for tests and benchmarks.
    flushes: AtomicU64,
    /// Commits (and flush requests) served, for the group-commit figure in the logs.
    commits: AtomicU64,
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
    /// Batches (possibly empty: flush only) waiting for the next turn, in arrival order.
    queue: Vec<(WriteBatch, Waiter)>,
    /// Set by the first failed durable apply; every later commit fails with it.
    failed: Option<StoreError>,
    /// Set when the last `Committer` is dropped.
    closed: bool,
}

/// The commit thread: one turn per group of queued batches, until the last committer is gone
/// and the queue is empty.
fn run_commit_thread(shared: &Shared) {
    loop {
        let queued = {
            let mut state = shared.lock();
            while state.queue.is_empty() && !state.closed {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.queue.is_empty() {
                return;
            }
            std::mem::take(&mut state.queue)
        };
        shared
            .commits
            .fetch_add(queued.len() as u64, Ordering::Relaxed);
        let (merged, waiters) = merge(queued);
        let result = commit_group(shared, &merged);
        for waiter in waiters {
            // A waiter whose commit future was dropped is gone; nothing to tell it.
            let _ = waiter.send(result.clone());
        }
    }
}

/// One batch holding every queued operation in queue order, and the callers to answer.
fn merge(queued: Vec<(WriteBatch, Waiter)>) -> (WriteBatch, Vec<Waiter>) {
    let mut merged = WriteBatch::new();
    let mut waiters = Vec::with_capacity(queued.len());
    for (batch, waiter) in queued {
        merged.extend(batch);
        waiters.push(waiter);
    }
    (merged, waiters)
}

/// Applies `merged` durably. Any error stops the committer for good: after a failed write or
/// sync nobody knows which earlier writes reached the disk.
fn commit_group(shared: &Shared, merged: &WriteBatch) -> Result<(), StoreError> {
    if let Some(error) = shared.lock().failed.clone() {
        return Err(error);
    }
    let result = shared.store.apply_durable(merged);
    shared.flushes.fetch_add(1, Ordering::Relaxed);
    if let Err(error) = &result {
        tracing::error!(
            %error,
            "store commit failed; failing every commit waiting on it and all later commits"
        );
        shared.lock().failed = Some(error.clone());
    }
    result
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_bad_batch_fails_alone_among_concurrent_commits() {
        let model = DurabilityModel::new(false);
        let committer = Committer::start(model.clone());
        let mut bad = batch(b"bad");
        bad.delete(Keyspace::Meta, crate::store::FORMAT_KEY);
        let good = (0..10u32).map(|i| committer.commit(batch(&i.to_be_bytes())));
        let (bad_result, good_results) =
            tokio::join!(committer.commit(bad), futures::future::join_all(good));
        assert!(matches!(bad_result, Err(StoreError::ReservedKey { .. })));
        for (i, result) in good_results.into_iter().enumerate() {
            result.unwrap();
            assert!(model.is_durable(&(i as u32).to_be_bytes()));
        }
        assert!(!model.is_durable(b"bad"));
    }

    #[test]
    fn merged_batches_apply_in_queue_order() {
        let (tx1, _rx1) = oneshot::channel();
        let (tx2, _rx2) = oneshot::channel();
        let mut first = WriteBatch::new();
        first
            .put(Keyspace::History, b"k".to_vec(), b"1".to_vec())
            .put(Keyspace::Tasks, b"gone".to_vec(), b"x".to_vec());
        let mut second = WriteBatch::new();
        second
            .put(Keyspace::History, b"k".to_vec(), b"2".to_vec())
            .delete(Keyspace::Tasks, b"gone".to_vec());
        let (merged, waiters) = merge(vec![(first, tx1), (second, tx2)]);
        assert_eq!(waiters.len(), 2);
        let store = MemoryStore::new();
        store.apply(&merged).unwrap();
        assert_eq!(
            store.get(Keyspace::History, b"k").unwrap(),
            Some(b"2".to_vec())
        );
        assert_eq!(store.get(Keyspace::Tasks, b"gone").unwrap(), None);
    }

    #[tokio::test]
    async fn commit_thread_stops_when_last_committer_is_dropped() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let committer = Committer::start(Arc::clone(&store));
        let clone = committer.clone();
        committer.commit(batch(b"k")).await.unwrap();
        drop(committer);
        clone.flush_now().await.unwrap();
        drop(clone);
        // The commit thread owned the last other reference to the store.
        for _ in 0..500 {
            if Arc::strong_count(&store) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the commit thread still holds the store");
    }
}
