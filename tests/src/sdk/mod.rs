//! The official Temporal Rust SDK (temporalio-sdk 1.1.1) as an end-to-end client: connecting to
//! Lockstep (mTLS) or to a plaintext server such as the real Temporal dev server, the test
//! workflows and activities, in-process workers, history helpers, and the scenarios.
//!
//! Workers: [`run_worker`] runs one on its own thread (the SDK's `Worker::run` future is not
//! `Send`, so it cannot be `tokio::spawn`ed); the `lockstep-test-worker` binary runs one as a
//! process that tests can SIGKILL (see [`WorkerProcess`]).

pub mod external;
pub mod reset;
pub mod scenarios;
pub mod search_attributes;
pub mod updates;
mod worker_process;
pub mod workflows;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::Duration,
};

use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url,
    errors::ClientConnectError,
};
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::EventType,
    history::v1::HistoryEvent,
    workflowservice::v1::{DescribeNamespaceRequest, GetWorkflowExecutionHistoryRequest},
};
use temporalio_sdk::{Runtime, Worker, WorkerOptions, runtime::RuntimeOptions};
use tokio::sync::oneshot;

pub use worker_process::WorkerProcess;
use workflows::{
    CancelActivityWorkflow, CancelTimerWorkflow, ChildWorkflow, CollectWorkflow,
    ContinueAsNewWorkflow, CountSignalsWorkflow, CrashWorkflow, DurableWorkflow, EchoWorkflow,
    FlakyWorkflow, HeartbeatWorkflow, NonRetryableWorkflow, OneActivityWorkflow, ParentWorkflow,
    SignalsWorkflow, SleepWorkflow, StartToCloseWorkflow, TestActivities, TimerWorkflow,
};

/// The namespace every scenario uses (the one both Lockstep's and Temporal's dev servers have).
pub const NAMESPACE: &str = "default";

/// A worker's sticky queue schedule-to-start timeout: how long a task waits on a dead worker's
/// sticky queue before the server hands it to any worker (SDK default: 10 s).
pub const STICKY_SCHEDULE_TO_START: Duration = Duration::from_secs(3);

/// Where the SDK connects.
#[derive(Clone, Debug)]
pub enum Target {
    /// A Lockstep server: mTLS with `<certs_dir>/ca.pem` as the root, the client identity
    /// `<certs_dir>/<principal>.pem` + `<principal>-key.pem`, server name `localhost`.
    Lockstep {
        /// The gRPC address.
        addr: SocketAddr,
        /// The dev certificates directory (`DevServer::certs_dir`).
        certs_dir: PathBuf,
        /// The client certificate to present: "worker", "client" or "admin".
        principal: &'static str,
    },
    /// A plaintext server, e.g. the real Temporal dev server.
    Plaintext {
        /// The gRPC address.
        addr: SocketAddr,
    },
}

impl Target {
    /// The gRPC address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Target::Lockstep { addr, .. } | Target::Plaintext { addr } => *addr,
        }
    }

    /// The same server as another principal (no change for a plaintext target).
    pub fn as_principal(&self, principal: &'static str) -> Target {
        match self {
            Target::Lockstep {
                addr, certs_dir, ..
            } => Target::Lockstep {
                addr: *addr,
                certs_dir: certs_dir.clone(),
                principal,
            },
            Target::Plaintext { addr } => Target::Plaintext { addr: *addr },
        }
    }
}

/// Connects the official client to `target` (GetSystemInfo included), or returns why not.
pub async fn try_connect(target: &Target) -> Result<Connection, ClientConnectError> {
    let (url, tls, who) = match target {
        Target::Lockstep {
            addr,
            certs_dir,
            principal,
        } => {
            let read = |name: String| {
                let path = certs_dir.join(&name);
                std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            };
            let client_tls = ClientTlsOptions::builder()
                .client_cert(read(format!("{principal}.pem")))
                .client_private_key(read(format!("{principal}-key.pem")))
                .build();
            let tls = TlsOptions::builder()
                .server_root_ca_cert(read("ca.pem".into()))
                .domain("localhost".to_string())
                .client_tls_options(client_tls)
                .build();
            (format!("https://{addr}"), Some(tls), *principal)
        }
        Target::Plaintext { addr } => (format!("http://{addr}"), None, "plaintext"),
    };
    let options = ConnectionOptions::new(Url::parse(&url).expect("valid url"))
        .identity(format!("lockstep-e2e-{who}@{}", std::process::id()))
        .maybe_tls_options(tls)
        .build();
    Connection::connect(options).await
}

/// Connects the official client to `target`; panics (with the reason) if it cannot.
pub async fn connect(target: &Target) -> Connection {
    try_connect(target)
        .await
        .unwrap_or_else(|e| panic!("the official client connects to {target:?}: {e}"))
}

/// A high-level client bound to [`NAMESPACE`] on `connection`.
pub fn client(connection: &Connection) -> Client {
    Client::new(connection.clone(), ClientOptions::new(NAMESPACE).build()).expect("client")
}

/// The options of every test worker: all the test workflows and activities on `task_queue`.
pub fn worker_options(task_queue: &str) -> anyhow::Result<WorkerOptions> {
    let mut options = WorkerOptions::new(task_queue)
        .sticky_queue_schedule_to_start_timeout(STICKY_SCHEDULE_TO_START)
        .graceful_shutdown_period(Duration::from_secs(1))
        .register_activities(TestActivities)
        .register_activities(reset::ResetActivities)
        .register_workflow::<reset::ResetWorkflow>()?
        .register_workflow::<OneActivityWorkflow>()?
        .register_workflow::<FlakyWorkflow>()?
        .register_workflow::<NonRetryableWorkflow>()?
        .register_workflow::<HeartbeatWorkflow>()?
        .register_workflow::<StartToCloseWorkflow>()?
        .register_workflow::<TimerWorkflow>()?
        .register_workflow::<SignalsWorkflow>()?
        .register_workflow::<CrashWorkflow>()?
        .register_workflow::<DurableWorkflow>()?
        .register_workflow::<EchoWorkflow>()?
        .register_workflow::<SleepWorkflow>()?
        .register_workflow::<CountSignalsWorkflow>()?
        .register_workflow::<ContinueAsNewWorkflow>()?
        .register_workflow::<ParentWorkflow>()?
        .register_workflow::<ChildWorkflow>()?
        .register_workflow::<CancelTimerWorkflow>()?
        .register_workflow::<CancelActivityWorkflow>()?
        .register_workflow::<CollectWorkflow>()?
        .build();
    external::register(&mut options)?;
    Ok(options)
}

/// Stops a running worker (the SDK's `Worker::shutdown_handle`).
pub type ShutdownFn = Box<dyn Fn() + Send + Sync>;

/// Runs a test worker on the current tokio runtime until it is shut down: checks the namespace
/// (DescribeNamespace), builds the worker, hands its shutdown function to `on_ready`, then
/// polls. Used by [`run_worker`] and the `lockstep-test-worker` binary.
pub async fn serve_worker(
    connection: Connection,
    task_queue: &str,
    on_ready: impl FnOnce(ShutdownFn),
) -> anyhow::Result<()> {
    serve_worker_with(connection, worker_options(task_queue)?, on_ready).await
}

/// [`serve_worker`] with the given options (e.g. [`worker_options`] with another tuner); the
/// task queue is `options.task_queue`.
pub async fn serve_worker_with(
    connection: Connection,
    options: WorkerOptions,
    on_ready: impl FnOnce(ShutdownFn),
) -> anyhow::Result<()> {
    connection
        .workflow_service()
        .describe_namespace(tonic::Request::new(DescribeNamespaceRequest {
            namespace: NAMESPACE.into(),
            ..Default::default()
        }))
        .await?;
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())?;
    let client = Client::new(connection, ClientOptions::new(NAMESPACE).build())?;
    let mut worker = Worker::new(&runtime, client, options)?;
    on_ready(Box::new(worker.shutdown_handle()));
    worker.run().await?;
    Ok(())
}

#[derive(Default)]
struct ShutdownState {
    requested: bool,
    shutdown: Option<ShutdownFn>,
}

/// An in-process worker on its own thread and tokio runtime. Dropping it asks the worker to
/// shut down without waiting; [`WorkerHandle::shutdown`] waits.
pub struct WorkerHandle {
    task_queue: String,
    state: Arc<Mutex<ShutdownState>>,
    exit: Arc<Mutex<Option<Result<(), String>>>>,
    done: Option<oneshot::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a test worker polling `task_queue` through `connection` (see [`serve_worker`]).
///
/// The connection's gRPC channel is driven by the runtime that created it, so keep that runtime
/// running (e.g. `#[tokio::test(flavor = "multi_thread")]`) while the worker works.
pub fn run_worker(connection: Connection, task_queue: &str) -> WorkerHandle {
    run_worker_inner(connection, task_queue.to_string(), None)
}

/// [`run_worker`] with the given options (e.g. [`worker_options`] with another tuner); the
/// task queue is `options.task_queue`.
pub fn run_worker_with(connection: Connection, options: WorkerOptions) -> WorkerHandle {
    run_worker_inner(connection, options.task_queue.clone(), Some(options))
}

fn run_worker_inner(
    connection: Connection,
    task_queue: String,
    options: Option<WorkerOptions>,
) -> WorkerHandle {
    let state = Arc::new(Mutex::new(ShutdownState::default()));
    let exit = Arc::new(Mutex::new(None));
    let (done_tx, done_rx) = oneshot::channel();
    let thread = {
        let (state, exit, task_queue) = (state.clone(), exit.clone(), task_queue.clone());
        std::thread::Builder::new()
            .name(format!("worker-{task_queue}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("sdk-worker")
                    .enable_all()
                    .build()
                    .expect("worker runtime");
                let on_ready = |stop: ShutdownFn| {
                    let mut state = state.lock().expect("worker state");
                    if state.requested {
                        stop();
                    }
                    state.shutdown = Some(stop);
                };
                let result = runtime.block_on(async {
                    let options = match options {
                        Some(options) => options,
                        None => worker_options(&task_queue)?,
                    };
                    serve_worker_with(connection, options, on_ready).await
                });
                *exit.lock().expect("worker exit") = Some(result.map_err(|e| format!("{e:#}")));
                let _ = done_tx.send(());
            })
            .expect("spawn worker thread")
    };
    WorkerHandle {
        task_queue,
        state,
        exit,
        done: Some(done_rx),
        thread: Some(thread),
    }
}

impl WorkerHandle {
    /// The task queue it polls.
    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// How the worker ended, if it did: `Err` carries its error (e.g. a refused connection).
    pub fn exit_status(&self) -> Option<Result<(), String>> {
        self.exit.lock().expect("worker exit").clone()
    }

    fn request_shutdown(&self) {
        let mut state = self.state.lock().expect("worker state");
        state.requested = true;
        if let Some(stop) = &state.shutdown {
            stop();
        }
    }

    /// Shuts the worker down and waits (at most 30 s) for it to stop; returns how it ended.
    pub async fn shutdown(mut self) -> Result<(), String> {
        self.request_shutdown();
        let done = self.done.take().expect("not yet shut down");
        if tokio::time::timeout(Duration::from_secs(30), done)
            .await
            .is_err()
        {
            return Err("the worker did not stop within 30 s of shutdown".into());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.exit_status().unwrap_or(Ok(()))
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // Never block here: the worker may need the (possibly blocked) caller's runtime to
        // finish its last RPCs. The thread ends on its own once the worker stops.
        self.request_shutdown();
    }
}

/// The whole history of a run (all pages), from `GetWorkflowExecutionHistory`.
pub async fn fetch_history(
    connection: &Connection,
    workflow_id: &str,
    run_id: &str,
) -> Vec<HistoryEvent> {
    let mut service = connection.workflow_service();
    let mut events = Vec::new();
    let mut next_page_token = Vec::new();
    loop {
        let response = service
            .get_workflow_execution_history(tonic::Request::new(
                GetWorkflowExecutionHistoryRequest {
                    namespace: NAMESPACE.into(),
                    execution: Some(WorkflowExecution {
                        workflow_id: workflow_id.into(),
                        run_id: run_id.into(),
                    }),
                    next_page_token,
                    ..Default::default()
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("GetWorkflowExecutionHistory {workflow_id}/{run_id}: {e}"))
            .into_inner();
        events.extend(response.history.map(|h| h.events).unwrap_or_default());
        if response.next_page_token.is_empty() {
            return events;
        }
        next_page_token = response.next_page_token;
    }
}

/// The event types of a history, in order (for comparing two servers' histories).
pub fn event_types(history: &[HistoryEvent]) -> Vec<EventType> {
    history.iter().map(HistoryEvent::event_type).collect()
}
