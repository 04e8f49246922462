//! Crash tests: a child process (this test binary, re-executed) writes through `Committer` and
//! prints an ack after each commit; the parent SIGKILLs it at a random moment, reopens the
//! store and checks that every acknowledged batch is fully present and no batch is partial.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use lockstep_server::store::keys::{KeyBuilder, KeyReader};
use lockstep_server::store::{Committer, Keyspace, SledStore, Store, WriteBatch};

/// Set in the child: the data dir to use.
const DIR_ENV: &str = "LOCKSTEP_STORE_CRASH_DIR";
/// Set in the child: `writer` or `holder`.
const MODE_ENV: &str = "LOCKSTEP_STORE_CRASH_MODE";
/// Set in the child: the first sequence number to write.
const BASE_ENV: &str = "LOCKSTEP_STORE_CRASH_BASE";
/// Concurrent writers in the child, so group commit is exercised too.
const WRITERS: u64 = 4;
const ROUNDS: u64 = 5;

/// Key `i` (0..3) of batch `seq`: keys 0 and 1 in Executions, key 2 in History.
fn batch_key(seq: u64, i: u8) -> (Keyspace, Vec<u8>) {
    let ks = if i < 2 {
        Keyspace::Executions
    } else {
        Keyspace::History
    };
    (ks, KeyBuilder::new().str("crash").u64(seq).u8(i).finish())
}

fn batch_value(seq: u64, i: u8) -> Vec<u8> {
    format!("batch {seq} part {i}").into_bytes()
}

/// Child entry point; a no-op in the parent's own test run.
#[test]
fn child_process() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    match std::env::var(MODE_ENV).as_deref() {
        Ok("writer") => {
            let base = std::env::var(BASE_ENV).unwrap().parse().unwrap();
            run_writer(Path::new(&dir), base);
        }
        Ok("holder") => run_holder(Path::new(&dir)),
        other => panic!("unknown child mode {other:?}"),
    }
}

/// Commits batches forever (until killed), printing `ACK <seq>` after each commit returns.
fn run_writer(dir: &Path, base: u64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Arc::new(SledStore::open(dir).unwrap());
        let committer = Committer::start(store);
        let next = Arc::new(AtomicU64::new(base));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let committer = committer.clone();
            let next = Arc::clone(&next);
            tasks.push(tokio::spawn(async move {
                // The deadline only guards against an orphaned child; the parent kills us first.
                while Instant::now() < deadline {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    let mut batch = WriteBatch::new();
                    for i in 0..3 {
                        let (ks, key) = batch_key(seq, i);
                        batch.put(ks, key, batch_value(seq, i));
                    }
                    committer.commit(batch).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "ACK {seq}")
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        std::process::exit(0); // parent gone
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// Opens the store, says READY, and holds it until stdin closes.
fn run_holder(dir: &Path) {
    let _store = SledStore::open(dir).unwrap();
    println!("READY");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

fn spawn_child(dir: &Path, mode: &str, base: u64) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir)
        .env(MODE_ENV, mode)
        .env(BASE_ENV, base.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Collects lines until one satisfies `done`; fails the test after 10 s.
fn wait_for(lines: &mpsc::Receiver<String>, done: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("child did not get ready ({e}); output: {seen:?}"));
        let finished = done(&line);
        seen.push(line);
        if finished {
            return seen;
        }
    }
}

/// An ack line; libtest's "test child_process ... " may precede the first one on its line.
fn parse_ack(line: &str) -> Option<u64> {
    let (_, seq) = line.split_once("ACK ")?;
    seq.parse().ok()
}

/// Every batch in the store, as seq -> the parts present.
fn batches_in_store(store: &SledStore) -> BTreeMap<u64, BTreeSet<u8>> {
    let prefix = KeyBuilder::new().str("crash").finish();
    let mut found: BTreeMap<u64, BTreeSet<u8>> = BTreeMap::new();
    for ks in [Keyspace::Executions, Keyspace::History] {
        for (key, value) in store.scan_prefix(ks, &prefix, usize::MAX).unwrap() {
            let mut reader = KeyReader::new(&key);
            assert_eq!(reader.str().unwrap(), "crash");
            let seq = reader.u64().unwrap();
            let part = reader.u8().unwrap();
            reader.finish().unwrap();
            assert_eq!(
                batch_key(seq, part).0,
                ks,
                "part {part} of {seq} in the wrong keyspace"
            );
            assert_eq!(
                value,
                batch_value(seq, part),
                "value of batch {seq} part {part}"
            );
            found.entry(seq).or_default().insert(part);
        }
    }
    found
}

/// Pseudo-random numbers; the seed is printed so a failing run can be reasoned about.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let mut acked: BTreeSet<u64> = BTreeSet::new();

    for round in 0..ROUNDS {
        let base = round << 32;
        let (mut child, lines) = spawn_child(dir.path(), "writer", base);
        let mut round_acks = 0;
        // Wait for the first ack, then let it run a random while before killing it.
        let mut pending = wait_for(&lines, |line| parse_ack(line).is_some());
        let kill_at = Instant::now() + Duration::from_millis(5 + rng.below(400));
        while Instant::now() < kill_at {
            pending.extend(lines.try_iter());
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The reader thread ends at EOF; acks still in the pipe were printed after a commit.
        pending.extend(lines.iter());
        for line in pending {
            if let Some(seq) = parse_ack(&line) {
                acked.insert(seq);
                round_acks += 1;
            }
        }
        assert!(round_acks > 0, "round {round}: no acks");

        let store = SledStore::open(dir.path()).unwrap();
        let found = batches_in_store(&store);
        for (seq, parts) in &found {
            assert_eq!(
                parts.len(),
                3,
                "batch {seq} is partially present: parts {parts:?}"
            );
        }
        let lost: Vec<&u64> = acked
            .iter()
            .filter(|seq| !found.contains_key(seq))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged batches lost: {lost:?}"
        );
        eprintln!(
            "round {round}: {round_acks} acks, {} batches on disk, {} acked in total",
            found.len(),
            acked.len()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn second_process_gets_in_use_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines) = spawn_child(dir.path(), "holder", 0);
    wait_for(&lines, |line| line.ends_with("READY"));

    let err = SledStore::open(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("is in use by another lockstep process"),
        "{err}"
    );

    drop(child.stdin.take()); // holder exits when stdin closes
    child.wait().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.get(Keyspace::History, b"none").unwrap(), None);
}
