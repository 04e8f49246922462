//! A test worker as a separate process (`lockstep-test-worker`), for crash-takeover tests.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use super::Target;

/// How long a worker process may take to print "worker ready".
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `lockstep-test-worker` process. SIGKILLed and reaped on drop.
pub struct WorkerProcess {
    child: Option<Child>,
}

impl WorkerProcess {
    /// Spawns `bin` (the `lockstep-test-worker` binary, e.g.
    /// `env!("CARGO_BIN_EXE_lockstep-test-worker")` or `tools::test_worker_bin()`) for `target`
    /// and `task_queue`, and waits until it prints "worker ready".
    pub fn spawn(bin: &Path, target: &Target, task_queue: &str) -> Self {
        let mut command = Command::new(bin);
        command
            .arg("--address")
            .arg(target.addr().to_string())
            .args(["--task-queue", task_queue]);
        if let Target::Lockstep {
            certs_dir,
            principal,
            ..
        } = target
        {
            command
                .arg("--certs-dir")
                .arg(certs_dir)
                .args(["--principal", principal]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == "worker ready" {
                    let _ = ready_tx.send(());
                }
            }
        });
        let mut process = Self { child: Some(child) };
        if ready_rx.recv_timeout(READY_TIMEOUT).is_err() {
            process.kill();
            panic!(
                "{} did not print \"worker ready\" in {READY_TIMEOUT:?}",
                bin.display()
            );
        }
        process
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the worker exited, if it did (None while it runs or after [`WorkerProcess::kill`]).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILLs the worker (no graceful shutdown, no ShutdownWorker call) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
