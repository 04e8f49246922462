//! A `lockstep server start-dev` child process on a free loopback port.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::Duration,
};

use tempfile::TempDir;

use crate::tools::lockstep_bin;

/// How long a server may take to print its banner.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running dev server. Killed (SIGKILL) and reaped on drop; the data dir is removed with it
/// unless it was passed in.
pub struct DevServer {
    child: Option<Child>,
    addr: SocketAddr,
    data_dir: PathBuf,
    extra_args: Vec<String>,
    _owned_dir: Option<TempDir>,
    stderr_log: PathBuf,
}

impl DevServer {
    /// Starts a dev server with a fresh temporary data dir.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        let mut server = Self::start_in(&data_dir, &[]);
        server._owned_dir = Some(dir);
        server
    }

    /// Starts a dev server on `data_dir` (reused if it exists) with extra `start-dev` flags, on
    /// a free port.
    pub fn start_in(data_dir: &Path, extra_args: &[&str]) -> Self {
        Self::start_on(data_dir, free_port(), extra_args)
    }

    /// Starts a dev server on `data_dir` (reused if it exists) listening on `port`, with extra
    /// `start-dev` flags. Servers started one after another on the same data dir and port (a
    /// restart) append to the same stderr log, each after a `=== lockstep start-dev … ===` line.
    pub fn start_on(data_dir: &Path, port: u16, extra_args: &[&str]) -> Self {
        let stderr_log = data_dir.with_extension(format!("stderr-{port}.log"));
        std::fs::create_dir_all(data_dir.parent().expect("data dir has a parent")).expect("mkdir");
        let mut server = Self {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            data_dir: data_dir.to_path_buf(),
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            _owned_dir: None,
            stderr_log,
        };
        server.spawn();
        server
    }

    /// SIGKILLs the server (if it runs) and starts it again on the same data dir, port and
    /// flags; returns once the new process is ready.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Spawns `lockstep server start-dev` and waits for its banner (the listener is bound).
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let port = self.addr.port();
        let mut stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .expect("stderr log");
        let _ = writeln!(
            stderr,
            "=== lockstep start-dev --port {port} --data-dir {} ===",
            self.data_dir.display()
        );
        let mut child = Command::new(lockstep_bin())
            .args([
                "server",
                "start-dev",
                "--port",
                &port.to_string(),
                "--data-dir",
            ])
            .arg(&self.data_dir)
            .args(&self.extra_args)
            .env("LOCKSTEP_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn lockstep");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("Lockstep dev server on") {
                    let _ = ready_tx.send(true);
                }
            }
            // Stdout closed: the process exited (or closed it); a no-op once ready was sent.
            let _ = ready_tx.send(false);
        });
        if ready_rx.recv_timeout(START_TIMEOUT) != Ok(true) {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "lockstep start-dev on port {port} did not become ready in {START_TIMEOUT:?} \
                 (exit: {status:?}); stderr:\n{}",
                self.stderr()
            );
        }
        self.child = Some(child);
    }

    /// The gRPC address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The dev certificates directory.
    pub fn certs_dir(&self) -> PathBuf {
        self.data_dir.join("certs")
    }

    /// What the server logged so far (every start of it on this data dir and port).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// SIGKILLs the server and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().expect("wait for lockstep");
        status.success()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `lockstep` with `args` to completion (for commands that are expected to fail fast).
pub fn run_lockstep(args: &[&str]) -> Output {
    Command::new(lockstep_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lockstep")
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
