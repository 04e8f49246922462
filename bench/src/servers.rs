//! The servers under test, started the same way for both: spawn the process on a free
//! loopback port with a fresh, durable data directory, then poll with the official client until
//! the first RPC succeeds (that is the start-up time) and the `default` namespace is described.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use lockstep_tests::{
    sdk::{NAMESPACE, Target, try_connect},
    server::free_port,
    temporal_dev::start_dev_command,
};
use tempfile::TempDir;
use temporalio_protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;

use crate::procfs;

/// How long a server may take from spawn to a described namespace.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often start-up polls for the first successful RPC.
const PROBE_INTERVAL: Duration = Duration::from_millis(5);

/// Which server to run.
#[derive(Clone, Debug)]
pub(crate) enum ServerKind {
    /// `lockstep server start-dev` from this binary: mTLS, sled under the data dir.
    Lockstep { bin: PathBuf },
    /// `temporal server start-dev --headless --db-filename F`: plaintext, SQLite file F.
    Temporal,
}

impl ServerKind {
    /// "lockstep" or "temporal".
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ServerKind::Lockstep { .. } => "lockstep",
            ServerKind::Temporal => "temporal",
        }
    }
}

/// A running server. Its process tree is SIGKILLed and reaped on drop, and its temporary
/// directory removed.
pub(crate) struct Server {
    child: Option<Child>,
    kind: ServerKind,
    target: Target,
    data_dir: PathBuf,
    stderr_log: PathBuf,
    startup: Duration,
    _dir: TempDir,
}

impl Server {
    /// Starts the server and waits until it serves the `default` namespace: on `data_dir` when
    /// given (kept afterwards, e.g. one seeded with stored executions), else on a fresh
    /// temporary one.
    pub(crate) async fn start(
        kind: &ServerKind,
        data_dir: Option<&Path>,
    ) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let data_dir = data_dir.map_or_else(|| dir.path().join("data"), Path::to_path_buf);
        std::fs::create_dir_all(&data_dir)?;
        let stderr_log = dir.path().join("server.stderr.log");
        let stderr = std::fs::File::create(&stderr_log)?;
        let port = free_port();
        let addr = ([127, 0, 0, 1], port).into();
        let (mut command, target) = match kind {
            ServerKind::Lockstep { bin } => {
                let mut command = Command::new(bin);
                command
                    .args(["server", "start-dev", "--port", &port.to_string()])
                    .arg("--data-dir")
                    .arg(&data_dir)
                    .env("LOCKSTEP_LOG", "warn")
                    .stdin(Stdio::null());
                let target = Target::Lockstep {
                    addr,
                    certs_dir: data_dir.join("certs"),
                    principal: "client",
                };
                (command, target)
            }
            ServerKind::Temporal => (
                start_dev_command(port, free_port(), &data_dir.join("temporal.db")),
                Target::Plaintext { addr },
            ),
        };
        let spawned = Instant::now();
        let child = command
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("spawn {:?}", command.get_program()))?;
        let mut server = Server {
            child: Some(child),
            kind: kind.clone(),
            target,
            data_dir,
            stderr_log,
            startup: Duration::ZERO,
            _dir: dir,
        };
        server.startup = server.wait_for_first_rpc(spawned).await?;
        server.wait_for_namespace(spawned).await?;
        Ok(server)
    }

    /// Polls with the official client (connect = GetSystemInfo) until it succeeds.
    async fn wait_for_first_rpc(&mut self, spawned: Instant) -> anyhow::Result<Duration> {
        let mut last_error = String::from("never tried");
        while spawned.elapsed() < START_TIMEOUT {
            self.check_alive()?;
            if self.client_files_exist() {
                match try_connect(&self.target).await {
                    Ok(_) => return Ok(spawned.elapsed()),
                    Err(error) => last_error = error.to_string(),
                }
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
        bail!(
            "{} answered no RPC within {START_TIMEOUT:?} (last error: {last_error}); stderr:\n{}",
            self.kind.name(),
            self.stderr()
        )
    }

    /// Lockstep's client certificate is written by the server on its first start; the harness'
    /// connect reads it (and panics if it is missing).
    fn client_files_exist(&self) -> bool {
        match &self.target {
            Target::Lockstep {
                certs_dir,
                principal,
                ..
            } => ["ca.pem".to_string(), format!("{principal}.pem")]
                .into_iter()
                .chain([format!("{principal}-key.pem")])
                .all(|name| certs_dir.join(name).is_file()),
            Target::Plaintext { .. } => true,
        }
    }

    async fn wait_for_namespace(&mut self, spawned: Instant) -> anyhow::Result<()> {
        let connection = try_connect(&self.target).await?;
        let mut last_error = String::new();
        while spawned.elapsed() < START_TIMEOUT {
            self.check_alive()?;
            let described = connection
                .workflow_service()
                .describe_namespace(tonic_request(DescribeNamespaceRequest {
                    namespace: NAMESPACE.into(),
                    ..Default::default()
                }))
                .await;
            match described {
                Ok(_) => return Ok(()),
                Err(status) => last_error = status.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!(
            "{} did not describe namespace {NAMESPACE} within {START_TIMEOUT:?}: {last_error}",
            self.kind.name()
        )
    }

    /// An error (with the server's stderr) if the server process has exited.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self
            .child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
        {
            bail!(
                "{} exited: {status}; stderr:\n{}",
                self.kind.name(),
                self.stderr()
            );
        }
        Ok(())
    }

    /// Where clients connect, as `principal` on Lockstep.
    pub(crate) fn target(&self, principal: &'static str) -> Target {
        self.target.as_principal(principal)
    }

    /// The server's process id (the root of its process tree).
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Spawn → first successful RPC.
    pub(crate) fn startup(&self) -> Duration {
        self.startup
    }

    /// The directory holding all the server's durable data.
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What the server wrote to stderr.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// SIGKILLs the server's whole process tree and reaps the root.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let tree = procfs::process_tree(child.id());
            procfs::kill_all(&tree[1..]);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tonic_request<T>(message: T) -> tonic::Request<T> {
    tonic::Request::new(message)
}
