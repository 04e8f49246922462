//! The production [`Store`]: an embedded sled 0.34 database, one tree per [`Keyspace`].
//!
//! # What sled 0.34.7 does with a bad data dir (probed; see the tests)
//! - **In use**: sled `flock`s `<dir>/db` and fails with `Io(Other, "could not acquire lock on
//!   ...: WouldBlock")`, also for a second open inside the same process. We take our own lock on
//!   `<dir>/lockstep.lock` first (typed, no message matching) and map sled's message as a
//!   fallback; both give "is in use by another lockstep process".
//! - **Garbage `conf`** (more than 8 bytes): `Unsupported("failed to open database that may have
//!   been created using a sled version earlier than 0.29")`. 8 bytes or fewer: ignored, rewritten.
//! - **Garbage `db`**: pure random bytes open *successfully as an empty database*; a damaged
//!   real log either panics inside recovery (about a third of single bit flips, half of
//!   overwritten 512-byte runs: "tried to serialize Uninitialized" in `serialization.rs`) or
//!   silently recovers only the prefix before the damage; truncation is always silent. Garbage
//!   `snap.*` files give `Corruption`.
//!
//! So `open` catches panics from sled, and refuses a dir whose `db` file is non-empty but which
//! has no format record: that is a damaged (or foreign) log, never a fresh store. Silent loss of
//! a log suffix after mid-log damage cannot be detected here; upper layers verify history
//! continuity at start.
//!
//! A panic inside sled after open (e.g. while paging in a damaged node) is caught too, turned
//! into [`StoreError::Engine`], and makes the store refuse every later operation: sled's
//! in-memory state may be inconsistent after it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::ops::Bound;
use std::os::unix::fs::DirBuilderExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
};

use super::{
    Entry, FORMAT_KEY, FORMAT_VERSION, Keyspace, Store, StoreError, WriteBatch, WriteOp, frame,
};

/// Our own lock file inside the data dir, held for the lifetime of a [`SledStore`].
const LOCK_FILE: &str = "lockstep.lock";

/// Entries sled itself creates in its directory (plus `snap.*` snapshots).
const SLED_ENTRIES: [&str; 3] = ["db", "conf", "blobs"];

/// A [`Store`] on an embedded sled database in one data dir.
pub struct SledStore {
    /// One tree per keyspace, indexed by [`Keyspace::index`].
    trees: Vec<sled::Tree>,
    /// Owns the trees; `flush` on it flushes all of them.
    db: sled::Db,
    /// Set after sled panicked: its in-memory state is no longer trusted.
    poisoned: AtomicBool,
    /// For messages.
    dir: PathBuf,
    /// Held (flock) so a second process cannot open the dir; dropped last, after sled.
    _lock: File,
}

impl SledStore {
    /// Opens the store in `dir`, creating the dir (mode 0700) and an empty store if needed.
    ///
    /// Fails with [`StoreError::Open`] if the dir is in use by another process, is not a
    /// directory, holds unrelated files, or holds a damaged or foreign database, and with
    /// [`StoreError::UnsupportedFormat`] if it was written by an incompatible lockstep version.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: dir.to_path_buf(),
            reason,
        };

        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| open_error(format!("cannot be created: {e}")))?;
        if !dir.is_dir() {
            return Err(open_error("is not a directory".into()));
        }

        let lock = lock_dir(dir).map_err(open_error)?;
        let has_log = fs::metadata(dir.join("db")).is_ok_and(|meta| meta.len() > 0);
        if !has_log {
            check_only_sled_files(dir).map_err(open_error)?;
        }

        let (db, trees) = open_sled_waiting(dir).map_err(open_error)?;
        let store = SledStore {
            trees,
            db,
            poisoned: AtomicBool::new(false),
            dir: dir.to_path_buf(),
            _lock: lock,
        };

        match store.get(Keyspace::Meta, FORMAT_KEY)? {
            Some(value) => {
                let found = <[u8; 4]>::try_from(value.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        keyspace: Keyspace::Meta,
                        key: super::key_hex(FORMAT_KEY),
                    })?;
                if found != FORMAT_VERSION {
                    return Err(StoreError::UnsupportedFormat {
                        found,
                        expected: FORMAT_VERSION,
                    });
                }
            }
            None if has_log => {
                return Err(open_error(format!(
                    "is not a sled database or is corrupt: {}/db holds data but no lockstep format \
                     record; restore it from a backup or start with an empty --data-dir (if the \
                     very first start with this dir was interrupted, delete the dir)",
                    dir.display()
                )));
            }
            None => {
                let mut batch = WriteBatch::new();
                batch.put(Keyspace::Meta, FORMAT_KEY, FORMAT_VERSION.to_be_bytes());
                store.apply_unchecked(&batch)?;
                store.flush()?;
                tracing::info!(dir = %dir.display(), format = FORMAT_VERSION, "created a new store");
            }
        }
        Ok(store)
    }

    /// The data dir this store was opened on.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn tree(&self, keyspace: Keyspace) -> &sled::Tree {
        // `trees` is built from `Keyspace::ALL` in `open_sled`, so every index is present.
        &self.trees[keyspace.index()]
    }

    /// Runs a sled call, turning a panic inside sled into an error and poisoning the store.
    fn guarded<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Engine {
                operation,
                detail: "sled panicked earlier in this process; restart to recover from disk"
                    .into(),
            });
        }
        // Unwind safety: after a panic nothing of sled's state is used again (poisoned).
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(payload) => {
                self.poisoned.store(true, Ordering::Release);
                let detail = format!("sled panicked: {}", panic_message(payload.as_ref()));
                tracing::error!(dir = %self.dir.display(), operation, %detail, "storage engine failure");
                Err(StoreError::Engine { operation, detail })
            }
        }
    }

    /// `apply` without the reserved-key check; the store's own records go through here.
    fn apply_unchecked(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            // sled's multi-tree transaction indexes its first tree: never run it empty.
            return Ok(());
        }
        let mut touched: Vec<Keyspace> = batch.ops().iter().map(WriteOp::keyspace).collect();
        touched.sort_unstable();
        touched.dedup();
        // Everything allocated outside the closure: sled may run it several times.
        let prepared: Vec<PreparedOp<'_>> = batch
            .ops()
            .iter()
            .map(|op| PreparedOp {
                slot: touched.partition_point(|ks| *ks < op.keyspace()),
                key: op.key(),
                framed: match op {
                    WriteOp::Put { key, value, .. } => Some(frame::encode(key, value)),
                    WriteOp::Delete { .. } => None,
                },
            })
            .collect();
        let trees: Vec<&sled::Tree> = touched.iter().map(|ks| self.tree(*ks)).collect();

        self.guarded("apply", || {
            let result = trees[..].transaction(|views: &Vec<TransactionalTree>| {
                for op in &prepared {
                    let Some(view) = views.get(op.slot) else {
                        return Err(ConflictableTransactionError::Abort(()));
                    };
                    match &op.framed {
                        Some(framed) => view.insert(op.key, framed.as_slice())?,
                        None => view.remove(op.key)?,
                    };
                }
                Ok(())
            });
            result.map_err(|e| match e {
                TransactionError::Storage(e) => map_sled("apply", e),
                TransactionError::Abort(()) => StoreError::Engine {
                    operation: "apply",
                    detail: "transaction view missing for a touched keyspace".into(),
                },
            })
        })
    }
}

/// One write of a batch, ready for the transaction closure.
struct PreparedOp<'a> {
    /// Index of the keyspace's view among the transaction's trees.
    slot: usize,
    key: &'a [u8],
    /// The framed value of a put; `None` for a delete.
    framed: Option<Vec<u8>>,
}

impl Store for SledStore {
    fn get(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let stored = self.guarded("get", || {
            self.tree(keyspace).get(key).map_err(|e| map_sled("get", e))
        })?;
        stored
            .map(|stored| frame::decode(keyspace, key, &stored))
            .transpose()
    }

    fn scan_prefix(
        &self,
        keyspace: Keyspace,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let raw = self.guarded("scan", || {
            self.tree(keyspace)
                .scan_prefix(prefix)
                .take(limit)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| map_sled("scan", e))
        })?;
        decode_entries(keyspace, raw)
    }

    fn scan_range(
        &self,
        keyspace: Keyspace,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        if end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        let bounds = (
            Bound::Included(start),
            end.map_or(Bound::Unbounded, Bound::Excluded),
        );
        let raw = self.guarded("scan", || {
            self.tree(keyspace)
                .range::<&[u8], _>(bounds)
                .take(limit)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| map_sled("scan", e))
        })?;
        decode_entries(keyspace, raw)
    }

    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        super::check_reserved(batch)?;
        self.apply_unchecked(batch)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.guarded("flush", || {
            self.db.flush().map(drop).map_err(|e| map_sled("flush", e))
        })
    }
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("dir", &self.dir)
            .field("poisoned", &self.poisoned.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Takes the exclusive lock that marks `dir` as in use by this process.
fn lock_dir(dir: &Path) -> Result<File, String> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))
        .map_err(|e| format!("cannot be locked: creating {LOCK_FILE}: {e}"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(in_use()),
        Err(TryLockError::Error(e)) => Err(format!("cannot be locked: {e}")),
    }
}

fn in_use() -> String {
    "is in use by another lockstep process; stop it or pick another --data-dir".into()
}

/// Refuses to create a store in a dir that holds anything but an earlier (empty) sled attempt.
fn check_only_sled_files(dir: &Path) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot be read: {e}"))?;
    for entry in entries {
        let name = entry
            .map_err(|e| format!("cannot be read: {e}"))?
            .file_name();
        let name = name.to_string_lossy();
        let ours =
            name == LOCK_FILE || SLED_ENTRIES.contains(&name.as_ref()) || name.starts_with("snap.");
        if !ours {
            return Err(format!(
                "is not empty and holds no lockstep store (found {name:?}); point --data-dir at \
                 an empty or new directory"
            ));
        }
    }
    Ok(())
}

/// Opens sled and one tree per keyspace, turning every failure (and panic) into a reason.
/// How long to wait for sled's own file lock once ours is held.
const SLED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens sled, waiting briefly for its file lock: we already hold `lockstep.lock`, so a busy
/// sled lock can only be a handle of this process that is still being released (sled's
/// background flusher drops its reference to a closed database a moment later), not another
/// lockstep process.
fn open_sled_waiting(dir: &Path) -> Result<(sled::Db, Vec<sled::Tree>), String> {
    let deadline = std::time::Instant::now() + SLED_LOCK_WAIT;
    loop {
        match open_sled(dir) {
            Err(err) if err == in_use() && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            outcome => return outcome,
        }
    }
}

fn open_sled(dir: &Path) -> Result<(sled::Db, Vec<sled::Tree>), String> {
    let corrupt = |detail: String| {
        format!(
            "is not a sled database or is corrupt: {detail}; restore it from a backup or start \
             with an empty --data-dir"
        )
    };
    let open = || -> sled::Result<(sled::Db, Vec<sled::Tree>)> {
        let db = sled::Config::new().path(dir).open()?;
        let trees = Keyspace::ALL
            .iter()
            .map(|ks| db.open_tree(ks.name()))
            .collect::<sled::Result<Vec<_>>>()?;
        Ok((db, trees))
    };
    // Unwind safety: on a panic the half-built database is dropped and never used.
    match catch_unwind(AssertUnwindSafe(open)) {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock") => {
            Err(in_use())
        }
        Ok(Err(sled::Error::Io(e))) => match e.kind() {
            io::ErrorKind::IsADirectory | io::ErrorKind::NotADirectory => {
                Err(corrupt(e.to_string()))
            }
            _ => Err(format!("cannot be opened: {e}")),
        },
        Ok(Err(e)) => Err(corrupt(format!("sled: {e}"))),
        Err(payload) => Err(corrupt(format!(
            "sled panicked while recovering: {}",
            panic_message(payload.as_ref())
        ))),
    }
}

fn decode_entries(
    keyspace: Keyspace,
    raw: Vec<(sled::IVec, sled::IVec)>,
) -> Result<Vec<Entry>, StoreError> {
    raw.into_iter()
        .map(|(key, stored)| {
            let value = frame::decode(keyspace, &key, &stored)?;
            Ok((key.to_vec(), value))
        })
        .collect()
}

fn map_sled(operation: &'static str, error: sled::Error) -> StoreError {
    match error {
        sled::Error::Io(source) => StoreError::Io {
            operation,
            source: Arc::new(source),
        },
        sled::Error::Corruption { at, .. } => StoreError::EngineCorrupt {
            operation,
            detail: format!("sled found a damaged log entry at {at:?}"),
        },
        other => StoreError::Engine {
            operation,
            detail: other.to_string(),
        },
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(store: &SledStore, ks: Keyspace, key: &[u8], value: &[u8]) {
        let mut batch = WriteBatch::new();
        batch.put(ks, key, value);
        store.apply(&batch).unwrap();
    }

    #[test]
    fn creates_dir_with_mode_0700() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let store = SledStore::open(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(store.dir(), dir);
    }

    #[test]
    fn flipped_byte_in_stored_value_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SledStore::open(tmp.path()).unwrap();
        put(&store, Keyspace::History, b"k1", b"hello");
        put(&store, Keyspace::History, b"k2", b"world");
        let tree = store.tree(Keyspace::History);
        let mut raw = tree.get(b"k1").unwrap().unwrap().to_vec();
        let last = raw.len() - 1;
        raw[last] ^= 0x01;
        tree.insert(b"k1", raw).unwrap();

        let err = store.get(Keyspace::History, b"k1").unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { keyspace: Keyspace::History, key } if key == "6b31"),
            "{err}"
        );
        assert!(matches!(
            store.scan_prefix(Keyspace::History, b"k", 10),
            Err(StoreError::Corrupt { .. })
        ));
        // Other keys are still readable.
        assert_eq!(
            store.get(Keyspace::History, b"k2").unwrap(),
            Some(b"world".to_vec())
        );
    }

    #[test]
    fn unframed_value_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SledStore::open(tmp.path()).unwrap();
        store
            .tree(Keyspace::Tasks)
            .insert(b"k", &b"ab"[..])
            .unwrap();
        assert!(matches!(
            store.get(Keyspace::Tasks, b"k"),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn values_are_framed_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SledStore::open(tmp.path()).unwrap();
        put(&store, Keyspace::Executions, b"k", b"v");
        let raw = store.tree(Keyspace::Executions).get(b"k").unwrap().unwrap();
        assert_eq!(raw.len(), 5);
        assert_eq!(&raw[4..], b"v");
    }

    #[test]
    fn unknown_format_version_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(tmp.path()).unwrap();
            let mut batch = WriteBatch::new();
            batch.put(Keyspace::Meta, FORMAT_KEY, 7u32.to_be_bytes());
            store.apply_unchecked(&batch).unwrap();
            store.flush().unwrap();
        }
        let err = SledStore::open(tmp.path()).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::UnsupportedFormat {
                    found: 7,
                    expected: FORMAT_VERSION
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_format_record_with_data_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let db = sled::open(tmp.path()).unwrap();
            db.open_tree("history").unwrap().insert(b"k", b"v").unwrap();
            db.flush().unwrap();
        }
        let err = SledStore::open(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("is not a sled database or is corrupt"),
            "{err}"
        );
    }

    #[test]
    fn poisoned_store_refuses_operations() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SledStore::open(tmp.path()).unwrap();
        let result: Result<(), StoreError> = store.guarded("test", || panic!("boom"));
        assert!(
            matches!(result, Err(StoreError::Engine { ref detail, .. }) if detail.contains("boom"))
        );
        assert!(matches!(
            store.get(Keyspace::Meta, FORMAT_KEY),
            Err(StoreError::Engine { .. })
        ));
        assert!(store.flush().is_err());
    }
}
