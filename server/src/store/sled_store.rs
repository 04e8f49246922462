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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use super::wal::{self, Wal};
use super::{
    Entry, FORMAT_KEY, FORMAT_VERSION, Keyspace, Store, StoreError, WriteBatch, WriteOp, frame,
};

/// Our own lock file inside the data dir, held for the lifetime of a [`SledStore`].
const LOCK_FILE: &str = "lockstep.lock";

/// Entries sled itself creates in its directory (plus `snap.*` snapshots).
const SLED_ENTRIES: [&str; 3] = ["db", "conf", "blobs"];

/// The first on-disk format (sled transactions, no write-ahead log); opened and upgraded.
const FORMAT_WITHOUT_LOG: u32 = 1;

/// A [`Store`] on an embedded sled database in one data dir, behind a write-ahead log.
///
/// A batch is appended to the log ([`Wal`]), synced when it must be durable, and only then
/// applied to sled's trees, one plain insert or remove at a time (no sled transaction: the log
/// is what makes the batch atomic across a crash). A read (a `get`, or each step of a scan)
/// and an apply exclude each other, so a read sees a batch whole or not at all.
pub struct SledStore {
    /// One tree per keyspace, indexed by [`Keyspace::index`].
    trees: Vec<sled::Tree>,
    /// Owns the trees; `flush` on it flushes all of them (at checkpoints).
    db: sled::Db,
    /// The write-ahead log; held for the whole of an apply, so sled sees batches in log order.
    wal: Mutex<Wal>,
    /// Taken shared by reads and exclusively while a batch is applied to the trees.
    applying: RwLock<()>,
    /// Set after sled panicked or a write failed: the in-memory state is no longer trusted.
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
        // sled writes its `db` file only at checkpoints, so after a crash the data may be in
        // the write-ahead log alone.
        let has_log =
            fs::metadata(dir.join("db")).is_ok_and(|meta| meta.len() > 0) || wal::holds_data(dir);
        if !has_log {
            check_only_sled_files(dir).map_err(open_error)?;
        }

        let (db, trees) = open_sled_waiting(dir).map_err(open_error)?;
        let (wal, replay) = Wal::open(dir)?;
        let store = SledStore {
            trees,
            db,
            wal: Mutex::new(wal),
            applying: RwLock::new(()),
            poisoned: AtomicBool::new(false),
            dir: dir.to_path_buf(),
            _lock: lock,
        };
        store.replay(&replay)?;

        match store.get(Keyspace::Meta, FORMAT_KEY)? {
            Some(value) => {
                let found = <[u8; 4]>::try_from(value.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        keyspace: Keyspace::Meta,
                        key: super::key_hex(FORMAT_KEY),
                    })?;
                if found == FORMAT_WITHOUT_LOG {
                    store.write_format_record()?;
                    tracing::info!(dir = %dir.display(), from = found, to = FORMAT_VERSION, "upgraded the store's format");
                } else if found != FORMAT_VERSION {
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
                store.write_format_record()?;
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
                detail: "the store failed earlier in this process (see the error log); restart \
                         to recover from disk"
                    .into(),
            });
        }
        // Unwind safety: after a panic nothing of sled's state is used again (poisoned).
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(payload) => {
                let detail = format!("sled panicked: {}", panic_message(payload.as_ref()));
                Err(self.fail_stop(StoreError::Engine { operation, detail }))
            }
        }
    }

    /// Poisons the store after a failure that leaves memory and disk out of step, and logs it.
    fn fail_stop(&self, error: StoreError) -> StoreError {
        self.poisoned.store(true, Ordering::Release);
        tracing::error!(dir = %self.dir.display(), %error, "storage failure; the store refuses every later operation");
        error
    }

    /// Held while reading, so a read never sees half an applied batch.
    fn reading(&self) -> RwLockReadGuard<'_, ()> {
        self.applying.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Up to `limit` entries of `iter`, each step under [`SledStore::reading`] (as sled's own
    /// iterators lock per step): every entry is seen before or after a whole batch, and a long
    /// scan never holds up the commits.
    fn collect(
        &self,
        mut iter: sled::Iter,
        limit: usize,
    ) -> Result<Vec<(sled::IVec, sled::IVec)>, StoreError> {
        let mut out = Vec::new();
        while out.len() < limit {
            let next = {
                let _reading = self.reading();
                iter.next()
            };
            match next {
                Some(entry) => out.push(entry.map_err(|e| map_sled("scan", e))?),
                None => break,
            }
        }
        Ok(out)
    }

    fn lock_wal(&self) -> MutexGuard<'_, Wal> {
        // Every failure while the log is held poisons the store, so a poisoned lock guards
        // nothing that is used again.
        self.wal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs `batch`, syncs the log if `durable`, then applies the batch to the trees, and
    /// checkpoints when the log is due. Any failure after the append poisons the store: the
    /// batch may be in the log (and so reappear at the next open) without being in the trees.
    fn write(&self, batch: &WriteBatch, durable: bool) -> Result<(), StoreError> {
        self.guarded("apply", || {
            let mut wal = self.lock_wal();
            wal.append(batch)
                .map_err(|e| self.fail_stop(StoreError::io("append to the log", e)))?;
            if durable {
                wal.sync()
                    .map_err(|e| self.fail_stop(StoreError::io("sync the log", e)))?;
            }
            self.apply_to_trees(batch).map_err(|e| self.fail_stop(e))?;
            if wal.wants_checkpoint() {
                self.checkpoint_locked(&mut wal)
                    .map_err(|e| self.fail_stop(e))?;
            }
            Ok(())
        })
    }

    /// Applies `batch` to the trees, excluding readers meanwhile.
    fn apply_to_trees(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let _applying = self
            .applying
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for op in batch.ops() {
            let tree = self.tree(op.keyspace());
            let result = match op {
                WriteOp::Put { key, value, .. } => tree.insert(key, frame::encode(key, value)),
                WriteOp::Delete { key, .. } => tree.remove(key),
            };
            result.map_err(|e| map_sled("apply", e))?;
        }
        Ok(())
    }

    /// Makes the trees durable on their own (sled flush, then fsync of sled's files), then
    /// starts a new log generation and deletes the older ones.
    fn checkpoint_locked(&self, wal: &mut Wal) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| map_sled("checkpoint", e))?;
        sync_sled_files(&self.dir).map_err(|e| StoreError::io("sync the trees", e))?;
        wal.rotate()
            .map_err(|e| StoreError::io("start a new log", e))
    }

    /// Applies the batches the log held at open, in order, and checkpoints them.
    fn replay(&self, batches: &[WriteBatch]) -> Result<(), StoreError> {
        if self.lock_wal().is_empty() {
            return Ok(());
        }
        self.guarded("replay the log", || {
            for batch in batches {
                self.apply_to_trees(batch)?;
            }
            self.checkpoint_locked(&mut self.lock_wal())
        })?;
        tracing::info!(dir = %self.dir.display(), batches = batches.len(), "replayed the write-ahead log");
        Ok(())
    }

    /// Writes the current format version durably (new store, or upgrade).
    fn write_format_record(&self) -> Result<(), StoreError> {
        let mut batch = WriteBatch::new();
        batch.put(Keyspace::Meta, FORMAT_KEY, FORMAT_VERSION.to_be_bytes());
        self.write(&batch, true)
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        if let Err(error) = Store::checkpoint(self) {
            tracing::warn!(dir = %self.dir.display(), %error, "no checkpoint at close; the next open replays the log");
        }
    }
}

/// fsyncs the files sled writes (its flush only schedules the log's pages for writeback).
fn sync_sled_files(dir: &Path) -> io::Result<()> {
    for name in ["db", "conf"] {
        match File::open(dir.join(name)) {
            Ok(file) => file.sync_all()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let blobs = dir.join("blobs");
    if blobs.is_dir() {
        for entry in fs::read_dir(&blobs)? {
            File::open(entry?.path())?.sync_all()?;
        }
        File::open(&blobs)?.sync_all()?;
    }
    File::open(dir)?.sync_all()
}

impl Store for SledStore {
    fn get(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let stored = self.guarded("get", || {
            let _reading = self.reading();
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
            self.collect(self.tree(keyspace).scan_prefix(prefix), limit)
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
            self.collect(self.tree(keyspace).range::<&[u8], _>(bounds), limit)
        })?;
        decode_entries(keyspace, raw)
    }

    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        super::check_reserved(batch)?;
        self.write(batch, false)
    }

    fn apply_durable(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        super::check_reserved(batch)?;
        self.write(batch, true)
    }

    /// Nothing to do if the log holds no record.
    fn checkpoint(&self) -> Result<(), StoreError> {
        self.guarded("checkpoint", || {
            let mut wal = self.lock_wal();
            if wal.is_empty() {
                return Ok(());
            }
            self.checkpoint_locked(&mut wal)
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.guarded("flush", || {
            self.lock_wal()
                .sync()
                .map_err(|e| self.fail_stop(StoreError::io("sync the log", e)))
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
        let ours = name == LOCK_FILE
            || SLED_ENTRIES.contains(&name.as_ref())
            || name.starts_with("snap.")
            || wal::is_log_file(&name);
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
        // No background flushes: the write-ahead log makes batches durable, and the store
        // flushes sled itself at each checkpoint.
        let db = sled::Config::new().path(dir).flush_every_ms(None).open()?;
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
        sled::Error::Io(source) => StoreError::io(operation, source),
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

    /// Appends `batch` to the log in `dir` and syncs it, without applying it to any tree;
    /// returns what the log held before.
    fn log_only(dir: &Path, batch: &WriteBatch) -> Vec<WriteBatch> {
        let (mut wal, pending) = Wal::open(dir).unwrap();
        wal.append(batch).unwrap();
        wal.sync().unwrap();
        pending
    }

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
            store.write(&batch, true).unwrap();
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
    fn a_batch_in_the_log_but_not_in_the_trees_is_there_after_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        drop(SledStore::open(tmp.path()).unwrap());
        // What a crash between the log's sync and the trees' apply leaves behind.
        let mut batch = WriteBatch::new();
        batch
            .put(Keyspace::History, b"h".to_vec(), b"event".to_vec())
            .put(Keyspace::Executions, b"e".to_vec(), b"state".to_vec());
        let pending = log_only(tmp.path(), &batch);
        assert!(pending.is_empty(), "a clean close leaves nothing to replay");
        let store = SledStore::open(tmp.path()).unwrap();
        assert_eq!(
            store.get(Keyspace::History, b"h").unwrap(),
            Some(b"event".to_vec())
        );
        assert_eq!(
            store.get(Keyspace::Executions, b"e").unwrap(),
            Some(b"state".to_vec())
        );
    }

    #[test]
    fn a_store_killed_before_its_first_checkpoint_reopens_beside_other_files() {
        // sled had not written its `db` yet: everything is in the log. The server's own files
        // (the task-token key) sit beside it.
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("task-token.key"), [1u8; 32]).unwrap();
        let mut batch = WriteBatch::new();
        batch
            .put(Keyspace::Meta, FORMAT_KEY, FORMAT_VERSION.to_be_bytes())
            .put(Keyspace::Namespaces, b"default".to_vec(), b"ns".to_vec());
        log_only(tmp.path(), &batch);
        let store = SledStore::open(tmp.path()).unwrap();
        assert_eq!(
            store.get(Keyspace::Namespaces, b"default").unwrap(),
            Some(b"ns".to_vec())
        );
    }

    #[test]
    fn a_checkpoint_leaves_nothing_to_replay() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SledStore::open(tmp.path()).unwrap();
        put(&store, Keyspace::History, b"k", b"v");
        store.flush().unwrap();
        store.checkpoint().unwrap();
        let (_, pending) = Wal::open(tmp.path()).unwrap();
        assert!(pending.is_empty());
        assert_eq!(
            store.get(Keyspace::History, b"k").unwrap(),
            Some(b"v".to_vec())
        );
    }

    #[test]
    fn checkpoints_keep_one_small_log_and_every_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let value = vec![5u8; 64 * 1024];
        let batches = (wal::CHECKPOINT_BYTES / value.len() as u64) * 2 + 3;
        {
            let store = SledStore::open(tmp.path()).unwrap();
            for i in 0..batches {
                let mut batch = WriteBatch::new();
                batch.put(Keyspace::History, i.to_be_bytes(), value.clone());
                store.apply_durable(&batch).unwrap();
            }
            let logs = fs::read_dir(tmp.path())
                .unwrap()
                .filter(|e| wal::is_log_file(&e.as_ref().unwrap().file_name().to_string_lossy()))
                .count();
            assert_eq!(logs, 1);
        }
        let store = SledStore::open(tmp.path()).unwrap();
        let stored = store
            .scan_prefix(Keyspace::History, b"", usize::MAX)
            .unwrap();
        assert_eq!(stored.len() as u64, batches);
        assert!(stored.iter().all(|(_, v)| *v == value));
    }

    #[test]
    fn a_store_of_the_first_format_is_upgraded() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(tmp.path()).unwrap();
            let mut batch = WriteBatch::new();
            batch.put(Keyspace::Meta, FORMAT_KEY, FORMAT_WITHOUT_LOG.to_be_bytes());
            store.write(&batch, true).unwrap();
        }
        drop(SledStore::open(tmp.path()).unwrap());
        let store = SledStore::open(tmp.path()).unwrap();
        assert_eq!(
            store.get(Keyspace::Meta, FORMAT_KEY).unwrap(),
            Some(FORMAT_VERSION.to_be_bytes().to_vec())
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
