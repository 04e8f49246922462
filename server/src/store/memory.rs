//! An in-memory [`Store`]: one `BTreeMap` per keyspace behind a mutex.
//!
//! It is the reference model the disk store is tested against and a fast store for unit tests
//! of upper layers. It behaves like [`SledStore`](super::SledStore) in everything observable
//! (including the reserved format record in `Meta`), except that nothing survives a drop and
//! [`Store::flush`] does nothing.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Entry, FORMAT_KEY, FORMAT_VERSION, Keyspace, Store, StoreError, WriteBatch, WriteOp};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A volatile [`Store`] backed by one `BTreeMap` per [`Keyspace`].
#[derive(Debug)]
pub struct MemoryStore {
    maps: Mutex<[Map; Keyspace::ALL.len()]>,
}

impl MemoryStore {
    /// An empty store holding only the format record, like a freshly created disk store.
    pub fn new() -> Self {
        let mut maps: [Map; Keyspace::ALL.len()] = Default::default();
        maps[Keyspace::Meta.index()]
            .insert(FORMAT_KEY.to_vec(), FORMAT_VERSION.to_be_bytes().to_vec());
        Self {
            maps: Mutex::new(maps),
        }
    }

    fn lock(&self) -> MutexGuard<'_, [Map; Keyspace::ALL.len()]> {
        // A poisoned lock cannot hold a half-applied batch: `apply` only inserts and removes
        // while holding it, and those abort rather than unwind on allocation failure.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Store for MemoryStore {
    fn get(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock()[keyspace.index()].get(key).cloned())
    }

    fn scan_prefix(
        &self,
        keyspace: Keyspace,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let maps = self.lock();
        let range =
            maps[keyspace.index()].range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded));
        Ok(range
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn scan_range(
        &self,
        keyspace: Keyspace,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        // BTreeMap::range panics on an inverted range; an empty result is the contract.
        if end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        let end = end.map_or(Bound::Unbounded, Bound::Excluded);
        let maps = self.lock();
        Ok(maps[keyspace.index()]
            .range::<[u8], _>((Bound::Included(start), end))
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        super::check_reserved(batch)?;
        let mut maps = self.lock();
        for op in batch.ops() {
            match op {
                WriteOp::Put {
                    keyspace,
                    key,
                    value,
                } => {
                    maps[keyspace.index()].insert(key.clone(), value.clone());
                }
                WriteOp::Delete { keyspace, key } => {
                    maps[keyspace.index()].remove(key);
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_only_the_format_record() {
        let store = MemoryStore::new();
        for ks in Keyspace::ALL {
            let entries = store.scan_prefix(ks, b"", usize::MAX).unwrap();
            if ks == Keyspace::Meta {
                assert_eq!(
                    entries,
                    vec![(FORMAT_KEY.to_vec(), FORMAT_VERSION.to_be_bytes().to_vec())]
                );
            } else {
                assert!(entries.is_empty());
            }
        }
    }

    #[test]
    fn later_ops_in_a_batch_win() {
        let store = MemoryStore::new();
        let mut batch = WriteBatch::new();
        batch
            .put(Keyspace::Tasks, b"k".to_vec(), b"1".to_vec())
            .delete(Keyspace::Tasks, b"k".to_vec())
            .put(Keyspace::Timers, b"k".to_vec(), b"1".to_vec())
            .put(Keyspace::Timers, b"k".to_vec(), b"2".to_vec());
        store.apply(&batch).unwrap();
        assert_eq!(store.get(Keyspace::Tasks, b"k").unwrap(), None);
        assert_eq!(
            store.get(Keyspace::Timers, b"k").unwrap(),
            Some(b"2".to_vec())
        );
    }

    #[test]
    fn inverted_range_is_empty() {
        let store = MemoryStore::new();
        let mut batch = WriteBatch::new();
        batch.put(Keyspace::History, b"b".to_vec(), b"1".to_vec());
        store.apply(&batch).unwrap();
        assert!(
            store
                .scan_range(Keyspace::History, b"c", Some(b"a"), 10)
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .scan_range(Keyspace::History, b"b", Some(b"b"), 10)
                .unwrap()
                .is_empty()
        );
    }
}
