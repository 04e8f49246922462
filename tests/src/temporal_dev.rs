//! The real Temporal dev server (`temporal server start-dev`), plaintext, namespace `default`:
//! the differential baseline the SDK scenarios are validated against.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;
use temporalio_client::{Connection, ConnectionOptions, Url};
use temporalio_protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;

use crate::{server::free_port, tools::temporal_cli};

/// How long the dev server may take to answer `GetSystemInfo` and `DescribeNamespace`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `temporal server start-dev` on a free loopback port with a fresh SQLite file.
/// Killed (SIGKILL) and reaped on drop.
pub struct TemporalDevServer {
    child: Option<Child>,
    addr: SocketAddr,
    stderr_log: PathBuf,
    _dir: TempDir,
}

impl TemporalDevServer {
    /// Starts the dev server and waits (at most 60 s) until the official client connects and
    /// the `default` namespace is described. Panics with the server's stderr otherwise.
    pub fn start() -> Self {
        // The dev server binds more ports than the two we choose (internal services pick free
        // ports of their own), so on a busy machine a port can be taken between our pick and
        // its bind. One retry with fresh ports; a second failure is reported with stderr.
        match Self::try_start() {
            Ok(server) => server,
            Err(first) => {
                eprintln!("temporal dev server failed to start, retrying once:\n{first}");
                Self::try_start().unwrap_or_else(|second| panic!("{second}"))
            }
        }
    }

    fn try_start() -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let ui_port = free_port();
        let stderr_log = dir.path().join("temporal.stderr.log");
        let stderr = std::fs::File::create(&stderr_log).expect("stderr log");
        let child = start_dev_command(port, ui_port, &dir.path().join("t.db"))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn `temporal server start-dev`");
        let mut server = Self {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            stderr_log,
            _dir: dir,
        };
        if let Err(last_error) = server.wait_until_ready() {
            let stderr = server.stderr();
            server.kill();
            return Err(format!(
                "temporal dev server did not become ready in {START_TIMEOUT:?}: {last_error}\n\
                 stderr:\n{stderr}"
            ));
        }
        Ok(server)
    }

    /// Polls with the official client from a helper thread (so `start` works both inside and
    /// outside a tokio runtime).
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let addr = self.addr;
        let deadline = Instant::now() + START_TIMEOUT;
        let probe = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("probe runtime");
            runtime.block_on(async move {
                let mut last_error = String::from("never tried");
                while Instant::now() < deadline {
                    match probe_once(addr).await {
                        Ok(()) => return Ok(()),
                        Err(error) => last_error = error,
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(last_error)
            })
        });
        loop {
            if probe.is_finished() {
                return probe.join().expect("probe thread");
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                return Err(format!("the dev server exited early: {status}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The frontend gRPC address (plaintext).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the server logged on stderr so far.
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
}

impl Drop for TemporalDevServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The command [`TemporalDevServer::start`] runs: `temporal server start-dev` headless on
/// 127.0.0.1:`port` (UI port `ui_port`, unused when headless but claimed), durable SQLite in
/// `db_file`, logging errors only, ignoring the user's CLI environment and config file; stdin
/// is null. For callers that manage the process themselves (e.g. the benchmarks).
pub fn start_dev_command(port: u16, ui_port: u16, db_file: &Path) -> Command {
    let mut command = Command::new(temporal_cli());
    command
        .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
        .args([
            "--port",
            &port.to_string(),
            "--ui-port",
            &ui_port.to_string(),
        ])
        .arg("--db-filename")
        .arg(db_file)
        .args(["--log-level", "error"])
        .env_remove("TEMPORAL_ADDRESS")
        .env("TEMPORAL_CONFIG_FILE", "/nonexistent/temporal.toml")
        .stdin(Stdio::null());
    command
}

async fn probe_once(addr: SocketAddr) -> Result<(), String> {
    let url = Url::parse(&format!("http://{addr}")).expect("valid url");
    let options = ConnectionOptions::new(url)
        .identity("lockstep-e2e-probe".to_string())
        .build();
    let connect = tokio::time::timeout(Duration::from_secs(5), Connection::connect(options));
    let connection = connect
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let mut service = connection.workflow_service();
    let describe = service.describe_namespace(tonic::Request::new(DescribeNamespaceRequest {
        namespace: "default".into(),
        ..Default::default()
    }));
    tokio::time::timeout(Duration::from_secs(5), describe)
        .await
        .map_err(|_| "DescribeNamespace timed out".to_string())?
        .map_err(|e| format!("DescribeNamespace: {e}"))?;
    Ok(())
}
