//! A test store: a [`MemoryStore`] that keeps a copy of every batch it applies, so tests can
//! assert what was written and in how many batches.

use std::sync::Mutex;

use super::{Entry, Keyspace, MemoryStore, Store, StoreError, WriteBatch};

/// A memory store that records every batch it applies.
#[derive(Default)]
pub(crate) struct RecordingStore {
    inner: MemoryStore,
    batches: Mutex<Vec<WriteBatch>>,
}

impl RecordingStore {
    /// Every batch applied since the last call, in order.
    pub(crate) fn take_batches(&self) -> Vec<WriteBatch> {
        std::mem::take(&mut *self.batches.lock().unwrap())
    }
}

impl Store for RecordingStore {
    fn get(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(keyspace, key)
    }

    fn scan_prefix(
        &self,
        keyspace: Keyspace,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan_prefix(keyspace, prefix, limit)
    }

    fn scan_range(
        &self,
        keyspace: Keyspace,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan_range(keyspace, start, end, limit)
    }

    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.batches.lock().unwrap().push(batch.clone());
        self.inner.apply(batch)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
}
