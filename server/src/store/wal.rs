//! The write-ahead log in front of sled: what makes a batch atomic and durable.
//!
//! Every batch is appended as one checksummed record to `wal-<generation>.log` in the data dir;
//! a batch is durable once a `sync` (fdatasync) after its append returned, and only then is it
//! applied to sled. Group commit therefore costs one `pwrite` and one `fdatasync` per group,
//! instead of the three log writes (each with its own `sync_file_range` and a wake-up of all
//! of sled's I/O threads) a sled transaction plus flush costs.
//!
//! sled itself is flushed only at a *checkpoint*: once the log holds [`CHECKPOINT_BYTES`], the
//! store flushes sled, fsyncs its files, starts the next generation and deletes the older ones.
//! At open, every record of every remaining generation is applied to sled again, in order.
//! Replaying is correct whatever prefix of those applies sled had kept: every operation is a
//! whole-value put or delete, so re-applying the records in their original order ends in the
//! state they ended in the first time.
//!
//! # Record layout
//! `len (u32 LE) ++ crc32 of payload (u32 LE) ++ payload`; the payload is the batch's
//! operations, each `kind (1 put, 2 delete) ++ keyspace index ++ key len (u32 LE) ++ key`, a put
//! followed by `value len (u32 LE) ++ value`.
//!
//! # Damage
//! A record cut short at the end of the newest file (a crash during its write: it was never
//! acknowledged) ends the log. A bad record anywhere else (followed by more data, or in an older
//! generation, which was synced whole before the next one began) is damage: open refuses the
//! data dir rather than drop acknowledged batches silently.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Keyspace, StoreError, WriteBatch, WriteOp};

/// Log bytes after which the store checkpoints (flushes sled and starts a new generation).
/// Bounds both the log's disk use and the replay work at the next open.
pub(super) const CHECKPOINT_BYTES: u64 = 16 * 1024 * 1024;

/// The log file grows by this many zero bytes at a time, so that most syncs find the file's
/// size unchanged and write only data, not the inode as well.
const GROW_BYTES: u64 = 4 * 1024 * 1024;

const FILE_PREFIX: &str = "wal-";
const FILE_SUFFIX: &str = ".log";
const HEADER_LEN: usize = 8;
const PUT: u8 = 1;
const DELETE: u8 = 2;

/// True for the names of log files (so a data dir check can tell them from foreign files).
pub(super) fn is_log_file(name: &str) -> bool {
    generation_of(name).is_some()
}

/// True if `dir` holds a log file that anything was ever appended to.
pub(super) fn holds_data(dir: &Path) -> bool {
    log_files(dir).is_ok_and(|files| {
        files
            .iter()
            .any(|(_, path)| fs::metadata(path).is_ok_and(|meta| meta.len() > 0))
    })
}

/// The open log: appends go to the newest generation.
pub(super) struct Wal {
    dir: PathBuf,
    file: File,
    generation: u64,
    /// Bytes of records in the current generation (where the next record goes).
    len: u64,
    /// The file's size: records, then zeros written ahead (see [`GROW_BYTES`]).
    allocated: u64,
    /// Older generations still on disk (replayed at open; deleted by the next checkpoint).
    older: Vec<PathBuf>,
}

impl Wal {
    /// Reads every log file in `dir` and returns the batches to replay, oldest first, with
    /// the log opened for appending after them (a torn tail is cut off).
    pub(super) fn open(dir: &Path) -> Result<(Wal, Vec<WriteBatch>), StoreError> {
        let mut files = log_files(dir).map_err(|e| StoreError::io("read the log directory", e))?;
        let mut batches = Vec::new();
        let newest = files.pop();
        for (_, path) in &files {
            let (bytes, end) = read_file(path, &mut batches)?;
            if !all_zeros(&bytes[end..]) {
                return Err(damaged(path, "an older log file ends in a partial record"));
            }
        }
        let wal = match newest {
            None => Wal::create(dir, 1)?,
            Some((generation, path)) => {
                let (bytes, end) = read_file(&path, &mut batches)?;
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| StoreError::io("open the log", e))?;
                let mut allocated = bytes.len() as u64;
                if !all_zeros(&bytes[end..]) {
                    tracing::warn!(
                        file = %path.display(),
                        dropped_bytes = bytes.len() - end,
                        "the log ends in a partial record (a write cut short by a crash, never \
                         acknowledged); dropping it"
                    );
                    file.set_len(end as u64)
                        .and_then(|()| file.sync_all())
                        .map_err(|e| StoreError::io("cut the log's torn tail", e))?;
                    allocated = end as u64;
                }
                Wal {
                    dir: dir.to_path_buf(),
                    file,
                    generation,
                    len: end as u64,
                    allocated,
                    older: files.into_iter().map(|(_, path)| path).collect(),
                }
            }
        };
        Ok((wal, batches))
    }

    /// Appends `batch` as one record (not yet durable: see [`Wal::sync`]). An empty batch
    /// writes nothing.
    pub(super) fn append(&mut self, batch: &WriteBatch) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let record = encode(batch)?;
        let end = self.len + record.len() as u64;
        if end > self.allocated {
            self.grow_to(end.next_multiple_of(GROW_BYTES))?;
        }
        self.file.write_all_at(&record, self.len)?;
        self.len = end;
        Ok(())
    }

    /// Writes zeros from the end of the file up to `size` (made durable by the next sync).
    fn grow_to(&mut self, size: u64) -> io::Result<()> {
        const CHUNK: usize = 256 * 1024;
        let zeros = vec![0; CHUNK];
        while self.allocated < size {
            let n = (size - self.allocated).min(CHUNK as u64) as usize;
            self.file.write_all_at(&zeros[..n], self.allocated)?;
            self.allocated += n as u64;
        }
        Ok(())
    }

    /// Makes every appended record durable.
    pub(super) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// True if the log holds no record (nothing to replay, nothing to checkpoint).
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0 && self.older.is_empty()
    }

    /// True once the log is big enough that the store should checkpoint.
    pub(super) fn wants_checkpoint(&self) -> bool {
        self.len >= CHECKPOINT_BYTES || !self.older.is_empty()
    }

    /// Starts a new, empty generation and deletes every older one. Call only once everything
    /// the log holds is durable elsewhere (sled flushed and synced).
    pub(super) fn rotate(&mut self) -> io::Result<()> {
        // Whole before the next generation starts: an older generation left behind by a crash
        // during the rotation must read back whole.
        self.file.sync_data()?;
        let next = Wal::create_file(&self.dir, self.generation + 1)?;
        let mut stale = std::mem::take(&mut self.older);
        stale.push(file_path(&self.dir, self.generation));
        self.file = next;
        self.generation += 1;
        self.len = 0;
        self.allocated = 0;
        for path in stale {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        sync_dir(&self.dir)
    }

    fn create(dir: &Path, generation: u64) -> Result<Wal, StoreError> {
        let file =
            Wal::create_file(dir, generation).map_err(|e| StoreError::io("create the log", e))?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            file,
            generation,
            len: 0,
            allocated: 0,
            older: Vec::new(),
        })
    }

    /// Creates (or truncates) the file of `generation` and makes its existence durable.
    fn create_file(dir: &Path, generation: u64) -> io::Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(file_path(dir, generation))?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(file)
    }
}

fn file_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{FILE_PREFIX}{generation:020}{FILE_SUFFIX}"))
}

fn generation_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(FILE_PREFIX)?.strip_suffix(FILE_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The log files in `dir`, oldest generation first.
fn log_files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(generation) = entry.file_name().to_str().and_then(generation_of) {
            files.push((generation, entry.path()));
        }
    }
    files.sort_unstable();
    Ok(files)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn damaged(path: &Path, detail: &str) -> StoreError {
    StoreError::EngineCorrupt {
        operation: "read the write-ahead log",
        detail: format!("{}: {detail}", path.display()),
    }
}

/// The bytes of one log file, after decoding its records into `batches`, and where they end.
fn read_file(path: &Path, batches: &mut Vec<WriteBatch>) -> Result<(Vec<u8>, usize), StoreError> {
    let bytes = fs::read(path).map_err(|e| StoreError::io("read a log file", e))?;
    let end = read_records(&bytes, batches).map_err(|e| damaged(path, &e))?;
    Ok((bytes, end))
}

fn all_zeros(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == 0)
}

/// One record holding `batch`.
fn encode(batch: &WriteBatch) -> io::Result<Vec<u8>> {
    let too_big = || io::Error::other("a batch of 4 GiB or more cannot be logged");
    let mut out = vec![0; HEADER_LEN];
    for op in batch.ops() {
        let (kind, value) = match op {
            WriteOp::Put { value, .. } => (PUT, Some(value)),
            WriteOp::Delete { .. } => (DELETE, None),
        };
        out.push(kind);
        out.push(op.keyspace().index() as u8);
        for bytes in std::iter::once(op.key()).chain(value.map(Vec::as_slice)) {
            let len = u32::try_from(bytes.len()).map_err(|_| too_big())?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
    let payload_len = u32::try_from(out.len() - HEADER_LEN).map_err(|_| too_big())?;
    let crc = crc32fast::hash(&out[HEADER_LEN..]);
    out[..4].copy_from_slice(&payload_len.to_le_bytes());
    out[4..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Decodes the records of one file into `batches` and returns where the valid records end.
/// Stops early only at a torn tail: a partial last record, or a zero header (the zeros the
/// file grew by).
fn read_records(bytes: &[u8], batches: &mut Vec<WriteBatch>) -> Result<usize, String> {
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some((header, body)) = rest.split_first_chunk::<HEADER_LEN>() else {
            return Ok(at);
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 {
            // Never written by `append`: the zeros the file grew by, or (after a power loss)
            // a record whose header never reached the disk, so it was never acknowledged.
            return Ok(at);
        }
        let Some(payload) = body.get(..len) else {
            // Longer than what is left: the write of the last record was cut short.
            return Ok(at);
        };
        if crc32fast::hash(payload) != crc {
            if body.len() == len {
                // The last record of the file, half written.
                return Ok(at);
            }
            return Err(format!("record at byte {at} fails its checksum"));
        }
        batches.push(decode(payload).map_err(|e| format!("record at byte {at}: {e}"))?);
        at += HEADER_LEN + len;
    }
    Ok(at)
}

fn decode(mut payload: &[u8]) -> Result<WriteBatch, String> {
    let mut batch = WriteBatch::new();
    while let Some((&[kind, keyspace], rest)) = payload.split_first_chunk::<2>() {
        payload = rest;
        let keyspace = *Keyspace::ALL
            .get(usize::from(keyspace))
            .ok_or_else(|| format!("unknown keyspace {keyspace}"))?;
        let key = take_bytes(&mut payload)?;
        match kind {
            PUT => {
                let value = take_bytes(&mut payload)?;
                batch.put(keyspace, key, value);
            }
            DELETE => {
                batch.delete(keyspace, key);
            }
            other => return Err(format!("unknown operation kind {other}")),
        }
    }
    if !payload.is_empty() {
        return Err("trailing bytes after the last operation".into());
    }
    Ok(batch)
}

fn take_bytes<'a>(payload: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let (len, rest) = payload
        .split_first_chunk::<4>()
        .ok_or("an operation is cut short")?;
    let len = u32::from_le_bytes(*len) as usize;
    let bytes = rest.get(..len).ok_or("an operation is cut short")?;
    *payload = &rest[len..];
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: u8) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch
            .put(Keyspace::History, vec![n, 1], vec![n; 300])
            .delete(Keyspace::Tasks, vec![n, 2])
            .put(Keyspace::Executions, vec![n, 3], Vec::new());
        batch
    }

    fn replayed(dir: &Path) -> Vec<Vec<WriteOp>> {
        let (_, batches) = Wal::open(dir).unwrap();
        batches.iter().map(|b| b.ops().to_vec()).collect()
    }

    fn only_file(dir: &Path) -> PathBuf {
        let files = log_files(dir).unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].1.clone()
    }

    #[test]
    fn records_replay_in_order_across_reopens() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (mut wal, batches) = Wal::open(tmp.path()).unwrap();
            assert!(batches.is_empty());
            wal.append(&sample(1)).unwrap();
            wal.append(&WriteBatch::new()).unwrap();
            wal.append(&sample(2)).unwrap();
            wal.sync().unwrap();
        }
        let expected = vec![sample(1).ops().to_vec(), sample(2).ops().to_vec()];
        assert_eq!(replayed(tmp.path()), expected);
        // Reopening appends after what is there.
        {
            let (mut wal, _) = Wal::open(tmp.path()).unwrap();
            wal.append(&sample(3)).unwrap();
            wal.sync().unwrap();
        }
        assert_eq!(replayed(tmp.path()).len(), 3);
    }

    #[test]
    fn every_cut_of_the_last_record_is_a_torn_tail() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (mut wal, _) = Wal::open(tmp.path()).unwrap();
            wal.append(&sample(1)).unwrap();
            wal.append(&sample(2)).unwrap();
            wal.sync().unwrap();
        }
        let path = only_file(tmp.path());
        let first_len = encode(&sample(1)).unwrap().len();
        let records_len = first_len + encode(&sample(2)).unwrap().len();
        let whole = fs::read(&path).unwrap();
        assert_eq!(
            whole.len() as u64,
            GROW_BYTES,
            "the file grows ahead in zeros"
        );
        // Every cut inside the header, then a sample of cuts through the payload.
        let cuts = (first_len..first_len + HEADER_LEN).chain((first_len..records_len).step_by(29));
        for cut in cuts {
            fs::write(&path, &whole[..cut]).unwrap();
            let (mut wal, batches) = Wal::open(tmp.path()).unwrap();
            assert_eq!(batches.len(), 1, "cut {cut}");
            // What follows the torn tail is readable.
            wal.append(&sample(3)).unwrap();
            wal.sync().unwrap();
            drop(wal);
            let ops = replayed(tmp.path());
            assert_eq!(
                ops,
                vec![sample(1).ops().to_vec(), sample(3).ops().to_vec()],
                "cut {cut}"
            );
        }
    }

    #[test]
    fn the_file_grows_in_steps_and_replays_across_them() {
        let tmp = tempfile::tempdir().unwrap();
        let mut big = WriteBatch::new();
        big.put(Keyspace::History, b"k".to_vec(), vec![7; 1024 * 1024]);
        {
            let (mut wal, _) = Wal::open(tmp.path()).unwrap();
            for _ in 0..5 {
                wal.append(&big).unwrap();
            }
            wal.sync().unwrap();
        }
        let len = fs::metadata(only_file(tmp.path())).unwrap().len();
        assert_eq!(len, 2 * GROW_BYTES);
        assert_eq!(replayed(tmp.path()).len(), 5);
    }

    #[test]
    fn a_half_written_last_record_or_a_zero_header_ends_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let path = file_path(tmp.path(), 1);
        let first = encode(&sample(1)).unwrap();
        let mut second = encode(&sample(2)).unwrap();
        let last = second.len() - 1;
        second[last] ^= 0xff;
        let tails: [&[u8]; 3] = [&second, &[0; 4096], &[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xee]];
        for tail in tails {
            fs::write(&path, [first.as_slice(), tail].concat()).unwrap();
            assert_eq!(replayed(tmp.path()), vec![sample(1).ops().to_vec()]);
            let kept = fs::metadata(&path).unwrap().len();
            let zeros = tail.iter().all(|b| *b == 0);
            // Zeros are kept (room to append into); anything else is cut off.
            assert_eq!(
                kept,
                (first.len() + if zeros { tail.len() } else { 0 }) as u64
            );
        }
    }

    #[test]
    fn damage_before_more_records_refuses_to_open() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (mut wal, _) = Wal::open(tmp.path()).unwrap();
            for n in 1..=3 {
                wal.append(&sample(n)).unwrap();
            }
            wal.sync().unwrap();
        }
        let path = only_file(tmp.path());
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_LEN + 20] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        let err = Wal::open(tmp.path()).err().unwrap();
        assert!(
            matches!(&err, StoreError::EngineCorrupt { detail, .. } if detail.contains("checksum")),
            "{err}"
        );
    }

    #[test]
    fn rotation_keeps_only_the_new_generation() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path()).unwrap();
        wal.append(&sample(1)).unwrap();
        wal.sync().unwrap();
        wal.rotate().unwrap();
        wal.append(&sample(2)).unwrap();
        wal.sync().unwrap();
        drop(wal);
        assert!(only_file(tmp.path()).ends_with("wal-00000000000000000002.log"));
        assert_eq!(replayed(tmp.path()), vec![sample(2).ops().to_vec()]);
    }

    #[test]
    fn older_generations_replay_first_and_must_be_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let first = encode(&sample(1)).unwrap();
        fs::write(file_path(tmp.path(), 7), &first).unwrap();
        fs::write(file_path(tmp.path(), 8), encode(&sample(2)).unwrap()).unwrap();
        assert_eq!(
            replayed(tmp.path()),
            vec![sample(1).ops().to_vec(), sample(2).ops().to_vec()]
        );
        let (wal, _) = Wal::open(tmp.path()).unwrap();
        assert!(
            wal.wants_checkpoint(),
            "an older generation is left to delete"
        );
        drop(wal);

        fs::write(file_path(tmp.path(), 7), &first[..first.len() - 1]).unwrap();
        assert!(matches!(
            Wal::open(tmp.path()),
            Err(StoreError::EngineCorrupt { .. })
        ));
    }

    #[test]
    fn an_older_generation_left_by_a_crash_during_rotation_replays() {
        // Rotation creates the next file before it deletes the older one; a crash in between
        // leaves the older file whole, with its zero-filled room to grow.
        let tmp = tempfile::tempdir().unwrap();
        {
            let (mut wal, _) = Wal::open(tmp.path()).unwrap();
            wal.append(&sample(1)).unwrap();
            wal.sync().unwrap();
        }
        let older = only_file(tmp.path());
        let kept = fs::read(&older).unwrap();
        let (mut wal, _) = Wal::open(tmp.path()).unwrap();
        wal.rotate().unwrap();
        wal.append(&sample(2)).unwrap();
        wal.sync().unwrap();
        drop(wal);
        fs::write(&older, kept).unwrap();
        assert_eq!(
            replayed(tmp.path()),
            vec![sample(1).ops().to_vec(), sample(2).ops().to_vec()]
        );
    }

    #[test]
    fn undecodable_payload_with_a_good_checksum_is_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let payload = [PUT, 99, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut record = (payload.len() as u32).to_le_bytes().to_vec();
        record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        fs::write(file_path(tmp.path(), 1), &record).unwrap();
        let err = Wal::open(tmp.path()).err().unwrap();
        assert!(err.to_string().contains("unknown keyspace 99"), "{err}");
    }

    #[test]
    fn only_well_formed_names_are_log_files() {
        assert!(is_log_file("wal-00000000000000000001.log"));
        assert!(!is_log_file("wal-1.log"));
        assert!(!is_log_file("wal-0000000000000000000x.log"));
        assert!(!is_log_file("db"));
    }
}
