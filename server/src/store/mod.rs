//! Durable storage: the only part of Lockstep that touches the disk.
//!
//! # Layout
//! - [`Store`]: the synchronous storage-engine trait every backend implements.
//! - [`SledStore`] (`sled_store.rs`): the production backend, one sled tree per [`Keyspace`].
//! - [`MemoryStore`] (`memory.rs`): a `BTreeMap` backend, the model in tests and a fast store
//!   for unit tests of upper layers; `recording.rs` wraps it to record every applied batch.
//! - [`Committer`] (`commit.rs`): group commit — apply a batch, then wait for a flush that
//!   started after it, sharing one flush among every concurrent caller.
//! - [`keys`]: order-preserving key encoding (byte order == tuple order).
//! - `frame.rs`: the CRC32 frame around every stored value.
//!
//! # Keyspaces
//! Each [`Keyspace`] is an independent sorted map from byte keys to byte values. Its
//! [`Keyspace::name`] is the on-disk name (a sled tree); names are stable and never reused.
//! `Meta` holds store-level records; its key [`FORMAT_KEY`] is reserved for the on-disk format
//! version ([`FORMAT_VERSION`], `u32` big-endian) and no batch may write it.
//!
//! # Atomicity and durability contract
//! - [`Store::apply`] is atomic across keyspaces: after it returns, and after any crash, either
//!   every operation of the batch is visible or none is.
//! - Reads see every applied batch immediately, durable or not.
//! - A batch is durable only once a [`Store::flush`] that started after `apply` returned has
//!   completed. [`Committer::commit`] is the way to get that guarantee; nothing may be
//!   acknowledged to a client before it returns `Ok`.
//! - Every stored value carries a CRC32 checked on every read; a mismatch is
//!   [`StoreError::Corrupt`], never silently returned bytes.
//!
//! # What must never happen
//! - A partially applied batch, before or after a crash.
//! - An acknowledged (committed) batch lost after a process crash.
//! - Unchecked bytes returned from disk, or a panic on anything read from disk: on-disk damage
//!   is an error (and sled panics while recovering are caught and reported as errors).
//! - A data dir that is in use, corrupt, or of an unknown format being silently treated as a
//!   fresh empty store.

mod commit;
mod frame;
pub mod keys;
mod memory;
#[cfg(test)]
mod recording;
mod sled_store;
mod wal;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

pub use commit::Committer;
pub use memory::MemoryStore;
#[cfg(test)]
pub(crate) use recording::RecordingStore;
pub use sled_store::SledStore;

/// Reserved key in [`Keyspace::Meta`] holding the on-disk format version (`u32` big-endian).
pub const FORMAT_KEY: &[u8] = b"format";

/// The on-disk format version this build writes and accepts.
/// Version 2 added the write-ahead log (`wal-*.log`); version 1 dirs are upgraded at open.
pub const FORMAT_VERSION: u32 = 2;

/// An independent sorted key-value map inside the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Keyspace {
    /// Store-level records (format version, counters).
    Meta,
    /// Namespace registrations.
    Namespaces,
    /// Mutable state of each workflow execution.
    Executions,
    /// Append-only workflow history events.
    History,
    /// Pending workflow and activity tasks.
    Tasks,
    /// Durable timers, ordered by fire time.
    Timers,
    /// Visibility records for listing and counting executions.
    Visibility,
}

impl Keyspace {
    /// Every keyspace, in declaration order.
    pub const ALL: [Keyspace; 7] = [
        Keyspace::Meta,
        Keyspace::Namespaces,
        Keyspace::Executions,
        Keyspace::History,
        Keyspace::Tasks,
        Keyspace::Timers,
        Keyspace::Visibility,
    ];

    /// The stable on-disk name of this keyspace.
    ///
    /// These are sled tree names: changing one orphans existing data, and a removed keyspace's
    /// name must never be reused for something else.
    pub fn name(self) -> &'static str {
        match self {
            Keyspace::Meta => "meta",
            Keyspace::Namespaces => "namespaces",
            Keyspace::Executions => "executions",
            Keyspace::History => "history",
            Keyspace::Tasks => "tasks",
            Keyspace::Timers => "timers",
            Keyspace::Visibility => "visibility",
        }
    }

    /// Position in [`Keyspace::ALL`]; used to index per-keyspace arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Keyspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One write inside a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Insert or overwrite `key` with `value`.
    Put {
        /// Target keyspace.
        keyspace: Keyspace,
        /// Key to write.
        key: Vec<u8>,
        /// New value.
        value: Vec<u8>,
    },
    /// Remove `key` if present.
    Delete {
        /// Target keyspace.
        keyspace: Keyspace,
        /// Key to remove.
        key: Vec<u8>,
    },
}

impl WriteOp {
    /// The keyspace this operation writes.
    pub fn keyspace(&self) -> Keyspace {
        match self {
            WriteOp::Put { keyspace, .. } | WriteOp::Delete { keyspace, .. } => *keyspace,
        }
    }

    /// The key this operation writes.
    pub fn key(&self) -> &[u8] {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key, .. } => key,
        }
    }
}

/// An ordered list of writes applied atomically by [`Store::apply`].
///
/// Operations apply in order, so a later write to the same key wins.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an insert-or-overwrite of `key` in `keyspace`.
    pub fn put(
        &mut self,
        keyspace: Keyspace,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push(WriteOp::Put {
            keyspace,
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a removal of `key` from `keyspace`.
    pub fn delete(&mut self, keyspace: Keyspace, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp::Delete {
            keyspace,
            key: key.into(),
        });
        self
    }

    /// Appends every operation of `other`, after the ones already here.
    pub fn extend(&mut self, other: WriteBatch) -> &mut Self {
        self.ops.extend(other.ops);
        self
    }

    /// True if the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// The operations, in application order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }
}

/// One key-value pair returned by a scan.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Synchronous storage engine.
///
/// Reads see every applied batch. [`Store::apply`] is atomic across keyspaces (all or nothing,
/// also across a crash); a batch is durable only once a later [`Store::flush`] returns.
/// Every method may block on disk I/O: call them from blocking threads, or through
/// [`Committer`], never directly on an async executor thread for large work.
pub trait Store: Send + Sync + 'static {
    /// The value stored under `key`, if any.
    fn get(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Entries whose key starts with `prefix`, ascending, at most `limit`.
    fn scan_prefix(
        &self,
        keyspace: Keyspace,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// Entries with `start <= key < end` (`end` `None` = unbounded), ascending, at most `limit`.
    fn scan_range(
        &self,
        keyspace: Keyspace,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// Applies every operation of `batch` atomically. An empty batch is a no-op.
    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError>;

    /// Blocks until every batch applied before this call is on disk (fsync-equivalent).
    fn flush(&self) -> Result<(), StoreError>;

    /// Applies `batch` atomically and returns once it and every batch applied before it are
    /// durable: [`Store::apply`] then [`Store::flush`], unless a backend does better (the sled
    /// store logs the batch, syncs the log, and only then applies it). On `Err` the batch may
    /// or may not be applied and durable.
    fn apply_durable(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.apply(batch)?;
        self.flush()
    }

    /// Leaves the store so that the next open has no recovery work (at shutdown, after the
    /// last commit). Nothing to do for a backend without a log to replay.
    fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Errors from the storage layer.
///
/// Unless a variant says otherwise, errors are fatal for the request and mean the operator must
/// look at the data dir; retrying the same operation will fail the same way.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data dir could not be opened. Fatal at startup: `reason` says what to fix.
    #[error("data dir {} {reason}", path.display())]
    Open {
        /// The data dir.
        path: PathBuf,
        /// Why, phrased to follow the path, e.g. "is in use by another lockstep process".
        reason: String,
    },
    /// An I/O error from the operating system while reading or writing. Fatal for the store:
    /// after a failed write or flush, durability of earlier writes is unknown.
    #[error("storage I/O error during {operation}: {source}")]
    Io {
        /// What the store was doing.
        operation: &'static str,
        /// The underlying error (shared so the error can be cloned to every waiter of a flush).
        #[source]
        source: Arc<io::Error>,
    },
    /// A stored value failed its checksum: on-disk data is damaged. Restore from a backup.
    #[error(
        "corrupt value in keyspace {keyspace} at key {key}: checksum mismatch; restore the data dir from a backup"
    )]
    Corrupt {
        /// Keyspace of the damaged value.
        keyspace: Keyspace,
        /// The key, hex encoded and truncated.
        key: String,
    },
    /// A key read from disk does not parse as the layout its keyspace expects.
    #[error("malformed key in keyspace {keyspace} at key {key}: {reason}")]
    MalformedKey {
        /// Keyspace of the key.
        keyspace: Keyspace,
        /// The key, hex encoded and truncated.
        key: String,
        /// What is wrong with it.
        #[source]
        reason: keys::KeyError,
    },
    /// A value passed its checksum but does not decode as the record its keyspace holds (a bug,
    /// or data written by an incompatible version).
    #[error("undecodable value in keyspace {keyspace} at key {key}: {reason}")]
    Decode {
        /// Keyspace of the value.
        keyspace: Keyspace,
        /// The key, for humans (hex or lossy text, truncated).
        key: String,
        /// What the decoder said.
        reason: String,
    },
    /// The storage engine detected damage in its own files while running.
    #[error(
        "storage engine reported corruption during {operation}: {detail}; restore the data dir from a backup"
    )]
    EngineCorrupt {
        /// What the store was doing.
        operation: &'static str,
        /// The engine's description.
        detail: String,
    },
    /// The data dir was written in an on-disk format this build does not understand.
    #[error(
        "data dir has on-disk format version {found} but this lockstep build supports version {expected}; run a lockstep release that supports format {found}"
    )]
    UnsupportedFormat {
        /// Version found on disk.
        found: u32,
        /// Version this build supports ([`FORMAT_VERSION`]).
        expected: u32,
    },
    /// A batch tried to write a key reserved for the store itself. A bug in the caller.
    #[error("key {key} in keyspace {keyspace} is reserved for the store")]
    ReservedKey {
        /// Keyspace of the key.
        keyspace: Keyspace,
        /// The key, hex encoded and truncated.
        key: String,
    },
    /// The storage engine failed unexpectedly (internal bug or panic). The store refuses all
    /// further operations; restart the process.
    #[error("storage engine failure during {operation}: {detail}")]
    Engine {
        /// What the store was doing.
        operation: &'static str,
        /// The engine's description.
        detail: String,
    },
    /// The commit machinery is not running (shutting down, or stopped after a failed flush).
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// A [`StoreError::Io`] from the operating system's error during `operation`.
    pub(crate) fn io(operation: &'static str, source: io::Error) -> Self {
        StoreError::Io {
            operation,
            source: Arc::new(source),
        }
    }

    /// A [`StoreError::MalformedKey`] for `key` in `keyspace`, for layers that parse keys.
    pub fn malformed_key(keyspace: Keyspace, key: &[u8], reason: keys::KeyError) -> Self {
        StoreError::MalformedKey {
            keyspace,
            key: key_hex(key),
            reason,
        }
    }

    /// A [`StoreError::Decode`] for the value under `key` in `keyspace`.
    pub fn decode(keyspace: Keyspace, key: &[u8], reason: impl fmt::Display) -> Self {
        StoreError::Decode {
            keyspace,
            key: key_hex(key),
            reason: reason.to_string(),
        }
    }
}

/// Rejects batches that write keys owned by the store itself.
pub(crate) fn check_reserved(batch: &WriteBatch) -> Result<(), StoreError> {
    match batch
        .ops()
        .iter()
        .find(|op| op.keyspace() == Keyspace::Meta && op.key() == FORMAT_KEY)
    {
        Some(op) => Err(StoreError::ReservedKey {
            keyspace: op.keyspace(),
            key: key_hex(op.key()),
        }),
        None => Ok(()),
    }
}

/// Hex form of a key for error messages, truncated so a huge key cannot flood the logs.
pub(crate) fn key_hex(key: &[u8]) -> String {
    const MAX: usize = 32;
    let mut out = String::with_capacity(2 * MAX.min(key.len()) + 16);
    for byte in key.iter().take(MAX) {
        out.push_str(&format!("{byte:02x}"));
    }
    if key.len() > MAX {
        out.push_str(&format!("…(+{} bytes)", key.len() - MAX));
    }
    if key.is_empty() {
        out.push_str("<empty>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspace_names_are_unique_and_stable() {
        let names: Vec<&str> = Keyspace::ALL.iter().map(|ks| ks.name()).collect();
        assert_eq!(
            names,
            [
                "meta",
                "namespaces",
                "executions",
                "history",
                "tasks",
                "timers",
                "visibility"
            ]
        );
        for (i, ks) in Keyspace::ALL.iter().enumerate() {
            assert_eq!(ks.index(), i);
        }
    }

    #[test]
    fn batch_builders_record_ops_in_order() {
        let mut batch = WriteBatch::new();
        batch
            .put(Keyspace::History, b"a".to_vec(), b"1".to_vec())
            .delete(Keyspace::Tasks, b"b".to_vec());
        let mut other = WriteBatch::new();
        other.put(Keyspace::Meta, &b"c"[..], &b"3"[..]);
        batch.extend(other);
        assert_eq!(batch.len(), 3);
        assert!(!batch.is_empty());
        assert_eq!(batch.ops()[1].key(), b"b");
        assert_eq!(batch.ops()[2].keyspace(), Keyspace::Meta);
    }

    #[test]
    fn reserved_key_is_rejected() {
        let mut batch = WriteBatch::new();
        batch.delete(Keyspace::Meta, FORMAT_KEY);
        assert!(matches!(
            check_reserved(&batch),
            Err(StoreError::ReservedKey { .. })
        ));
        let mut batch = WriteBatch::new();
        batch.put(Keyspace::History, FORMAT_KEY, b"x".to_vec());
        assert!(check_reserved(&batch).is_ok());
    }

    #[test]
    fn key_hex_truncates() {
        assert_eq!(key_hex(b"\x00\xff"), "00ff");
        assert_eq!(key_hex(b""), "<empty>");
        let long = key_hex(&[0xab; 40]);
        assert!(long.starts_with(&"ab".repeat(32)));
        assert!(long.ends_with("…(+8 bytes)"));
    }
}
