//! `lockstep-sdk` end to end on the real `lockstep` binary with official Temporal Rust SDK
//! workers: payloads and failure messages leave the worker encrypted (a canary string is found
//! nowhere in the server's data dir or log), an `encrypted-only` namespace accepts them,
//! workflows started under one key finish after another becomes active, and the worker's
//! client certificate rotates from files without a restart.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use lockstep_certs::Ca;
use lockstep_sdk::{
    CodecOptions, ConnectOptions, FileKeyProvider, Key, KeyId, KeyRing, Keys, TlsFiles,
    codec::{METADATA_BINDING, METADATA_ENCODING, METADATA_KEY_ID},
};
use lockstep_tests::{
    DevServer,
    clients::dev_client,
    sdk::{self as harness, Target, workflows::EchoWorkflow},
};
use temporalio_client::{
    Client, WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions,
    errors::{WorkflowGetResultError, WorkflowStartError},
};
use temporalio_protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowExecution},
    enums::v1::EventType,
    failure::v1::Failure,
    history::v1::{HistoryEvent, history_event::Attributes},
    workflowservice::v1::{GetWorkflowExecutionHistoryRequest, RegisterNamespaceRequest},
};
use temporalio_sdk::{Runtime, Worker, WorkerOptions, runtime::RuntimeOptions};
use workflows::{CanaryActivities, CanaryFailWorkflow, CanaryWorkflow, RotationWorkflow};

/// How long any one wait may take.
const WAIT: Duration = Duration::from_secs(60);

mod workflows {
    //! The workflows of these tests. `#[activities]` and `#[workflow_methods]` turn methods into
    //! associated constants that do not carry their doc comments.
    #![allow(missing_docs, unreachable_pub)]

    use std::time::Duration;

    use temporalio_common::RetryPolicy;
    use temporalio_macros::{activities, workflow, workflow_methods};
    use temporalio_sdk::{
        ActivityOptions, ApplicationFailure, SyncWorkflowContext, WorkflowContext, WorkflowResult,
        activities::{ActivityContext, ActivityError},
    };

    pub struct CanaryActivities;

    #[activities]
    impl CanaryActivities {
        #[activity(name = "canary_echo")]
        pub async fn echo(_ctx: ActivityContext, input: String) -> Result<String, ActivityError> {
            Ok(format!("echo: {input}"))
        }

        #[activity(name = "canary_decline")]
        pub async fn decline(_ctx: ActivityContext, input: String) -> Result<(), ActivityError> {
            Err(ActivityError::application(
                ApplicationFailure::builder(format!("activity declined: {input}"))
                    .type_name("CanaryError".to_string())
                    .non_retryable(true)
                    .build(),
            ))
        }
    }

    fn options() -> ActivityOptions {
        ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .retry_policy(RetryPolicy::builder().maximum_attempts(1).build())
            .build()
    }

    /// Echoes its input through an activity.
    #[workflow]
    #[derive(Default)]
    pub struct CanaryWorkflow;

    #[workflow_methods]
    impl CanaryWorkflow {
        #[run(name = "CanaryWorkflow")]
        pub async fn run(ctx: &mut WorkflowContext<Self>, input: String) -> WorkflowResult<String> {
            Ok(ctx
                .execute_activity(CanaryActivities::echo, input, options())
                .await?)
        }
    }

    /// Runs an activity that fails with its input in the message, then fails itself with its
    /// input in the message.
    #[workflow]
    #[derive(Default)]
    pub struct CanaryFailWorkflow;

    #[workflow_methods]
    impl CanaryFailWorkflow {
        #[run(name = "CanaryFailWorkflow")]
        pub async fn run(ctx: &mut WorkflowContext<Self>, input: String) -> WorkflowResult<()> {
            let declined = ctx
                .execute_activity(CanaryActivities::decline, input.clone(), options())
                .await;
            let reason = if declined.is_err() {
                "declined"
            } else {
                "accepted?"
            };
            Err(ApplicationFailure::non_retryable(format!("workflow {reason}: {input}")).into())
        }
    }

    /// Waits for the `finish` signal and returns `"{input}|{signal}"`.
    #[workflow]
    #[derive(Default)]
    pub struct RotationWorkflow {
        finish: Option<String>,
    }

    #[workflow_methods]
    impl RotationWorkflow {
        #[run(name = "RotationWorkflow")]
        pub async fn run(ctx: &mut WorkflowContext<Self>, input: String) -> WorkflowResult<String> {
            ctx.wait_condition(|s| s.finish.is_some()).await?;
            let finish = ctx.state(|s| s.finish.clone()).unwrap_or_default();
            Ok(format!("{input}|{finish}"))
        }

        #[signal(name = "finish")]
        pub fn finish(&mut self, _ctx: &mut SyncWorkflowContext<Self>, value: String) {
            self.finish = Some(value);
        }
    }
}

/// Whether a stop was requested, and the worker's shutdown function once it exists.
type StopState = Arc<Mutex<(bool, Option<Box<dyn Fn() + Send + Sync>>)>>;

/// A worker of the test workflows, on its own thread and runtime, connected with
/// `lockstep_sdk::connect`.
struct EncryptedWorker {
    stop: StopState,
    done: mpsc::Receiver<Result<(), String>>,
}

impl EncryptedWorker {
    fn start(options: ConnectOptions, task_queue: &str) -> Self {
        let stop = StopState::default();
        let (done_tx, done) = mpsc::channel();
        let (stop_in, task_queue) = (stop.clone(), task_queue.to_string());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("worker runtime");
            let result = runtime.block_on(async move {
                let client = lockstep_sdk::connect(options).await?;
                let sdk_runtime = Runtime::from_current_tokio(RuntimeOptions::default())?;
                let worker_options = WorkerOptions::new(task_queue)
                    .graceful_shutdown_period(Duration::from_secs(1))
                    .register_activities(CanaryActivities)
                    .register_workflow::<CanaryWorkflow>()?
                    .register_workflow::<CanaryFailWorkflow>()?
                    .register_workflow::<RotationWorkflow>()?
                    .build();
                let mut worker = Worker::new(&sdk_runtime, client, worker_options)?;
                {
                    let shutdown = worker.shutdown_handle();
                    let mut stop = stop_in.lock().expect("stop");
                    if stop.0 {
                        shutdown();
                    }
                    stop.1 = Some(Box::new(shutdown));
                }
                worker.run().await?;
                anyhow::Ok(())
            });
            let _ = done_tx.send(result.map_err(|e| format!("{e:#}")));
        });
        Self { stop, done }
    }

    /// Stops the worker and waits for it; panics if it had failed.
    fn shutdown(self) {
        {
            let mut stop = self.stop.lock().expect("stop");
            stop.0 = true;
            if let Some(shutdown) = &stop.1 {
                shutdown();
            }
        }
        match self.done.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("the worker failed: {error}"),
            Err(_) => panic!("the worker did not stop within 30 s"),
        }
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

fn one_key_ring(id: &str) -> (KeyRing, Key) {
    let key = Key::generate().unwrap();
    (KeyRing::new(KeyId::new(id).unwrap(), key.clone()), key)
}

fn options(
    server: &DevServer,
    principal: &str,
    namespace: &str,
    codec: CodecOptions,
) -> ConnectOptions {
    ConnectOptions::new(
        server.addr().to_string(),
        namespace,
        TlsFiles::dev(&server.certs_dir(), principal),
        codec,
    )
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

/// The raw history, read with the plain gRPC client (no codec): what the server holds.
async fn raw_history(server: &DevServer, namespace: &str, workflow_id: &str) -> Vec<HistoryEvent> {
    let mut reader = dev_client(server, "client").await;
    reader
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: namespace.into(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.into(),
                run_id: String::new(),
            }),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .history
        .map(|h| h.events)
        .unwrap_or_default()
}

/// Every payload of a history event that a codec is responsible for.
fn event_payloads(event: &HistoryEvent) -> Vec<&Payload> {
    fn payloads(p: &Option<Payloads>) -> Vec<&Payload> {
        p.iter().flat_map(|p| p.payloads.iter()).collect()
    }
    match &event.attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => payloads(&a.input),
        Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => payloads(&a.input),
        Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => payloads(&a.result),
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => payloads(&a.result),
        Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => payloads(&a.input),
        _ => Vec::new(),
    }
}

fn event_failure(event: &HistoryEvent) -> Option<&Failure> {
    match &event.attributes {
        Some(Attributes::ActivityTaskFailedEventAttributes(a)) => a.failure.as_ref(),
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => a.failure.as_ref(),
        _ => None,
    }
}

fn text(payload: &Payload, key: &str) -> String {
    payload
        .metadata
        .get(key)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The files under `dir` that contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path).expect("read file");
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_never_reaches_the_server_in_clear() {
    let mut server = DevServer::start();
    let namespace = "sealed";
    let mut admin = dev_client(&server, "admin").await;
    admin
        .register_namespace(RegisterNamespaceRequest {
            namespace: namespace.into(),
            workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                seconds: 86400,
                nanos: 0,
            }),
            data: HashMap::from([(
                "lockstep.payload-policy".to_string(),
                "encrypted-only".to_string(),
            )]),
            ..Default::default()
        })
        .await
        .expect("register the encrypted-only namespace");

    let canary = unique("CANARY");
    let (ring, _) = one_key_ring("canary-key");
    let codec = CodecOptions::new(Keys::new(ring)).hardened(true);
    let task_queue = unique("canary");
    let worker = EncryptedWorker::start(
        options(&server, "worker", namespace, codec.clone()),
        &task_queue,
    );
    let client = lockstep_sdk::connect(options(&server, "client", namespace, codec))
        .await
        .expect("the encrypted client connects");

    // A successful run: input, activity input and result, workflow result.
    let ok_id = unique("canary-ok");
    let handle = within(
        "start",
        client.start_workflow(
            CanaryWorkflow::run,
            canary.clone(),
            WorkflowStartOptions::new(task_queue.clone(), ok_id.clone()).build(),
        ),
    )
    .await
    .expect("the encrypted-only namespace accepts encrypted payloads");
    let result = within(
        "result",
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("the workflow completes");
    assert_eq!(result, format!("echo: {canary}"));

    // A failing run: the activity's and the workflow's failure messages hold the canary.
    let fail_id = unique("canary-fail");
    let handle = within(
        "start",
        client.start_workflow(
            CanaryFailWorkflow::run,
            canary.clone(),
            WorkflowStartOptions::new(task_queue.clone(), fail_id.clone()).build(),
        ),
    )
    .await
    .expect("start the failing workflow");
    match within(
        "result",
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    {
        Err(WorkflowGetResultError::Failed(error)) => {
            // The client decodes the failure back to its message.
            assert_eq!(
                error.failure().message,
                format!("workflow declined: {canary}")
            );
        }
        other => panic!("the workflow must fail: {other:?}"),
    }

    // A client without the codec is refused by the namespace's policy.
    let plain_connection = harness::connect(&Target::Lockstep {
        addr: server.addr(),
        certs_dir: server.certs_dir(),
        principal: "client",
    })
    .await;
    let plain = Client::new(
        plain_connection,
        temporalio_client::ClientOptions::new(namespace).build(),
    )
    .unwrap();
    let refused = plain
        .start_workflow(
            CanaryWorkflow::run,
            canary.clone(),
            WorkflowStartOptions::new(task_queue.clone(), unique("plain")).build(),
        )
        .await;
    match refused {
        Err(WorkflowStartError::Rpc(status)) => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        }
        Err(other) => panic!("a clear-text start must be refused as invalid: {other:?}"),
        Ok(_) => panic!("a clear-text start must be refused"),
    }

    // What the server holds: ciphertext bound to the namespace, "Encoded failure" messages.
    let ok_history = raw_history(&server, namespace, &ok_id).await;
    let fail_history = raw_history(&server, namespace, &fail_id).await;
    let mut payload_count = 0;
    for event in ok_history.iter().chain(&fail_history) {
        for payload in event_payloads(event) {
            payload_count += 1;
            assert_eq!(
                text(payload, METADATA_ENCODING),
                "binary/encrypted",
                "{event:?}"
            );
            assert_eq!(text(payload, METADATA_KEY_ID), "canary-key");
            assert_eq!(text(payload, METADATA_BINDING), "namespace-v1");
        }
    }
    assert!(payload_count >= 5, "only {payload_count} payloads checked");
    let mut failures = 0;
    for event in &fail_history {
        let Some(failure) = event_failure(event) else {
            continue;
        };
        let mut chain = vec![failure];
        while let Some(cause) = chain.last().and_then(|f| f.cause.as_deref()) {
            chain.push(cause);
        }
        for failure in chain {
            failures += 1;
            assert_eq!(failure.message, "Encoded failure", "{event:?}");
            assert!(failure.stack_trace.is_empty());
            let attributes = failure
                .encoded_attributes
                .as_ref()
                .expect("encoded attributes");
            assert_eq!(text(attributes, METADATA_ENCODING), "binary/encrypted");
        }
    }
    assert!(
        fail_history
            .iter()
            .any(|e| e.event_type() == EventType::ActivityTaskFailed),
        "{fail_history:?}"
    );
    assert!(failures >= 2, "only {failures} failures checked");
    for event in ok_history.iter().chain(&fail_history) {
        let bytes = prost::Message::encode_to_vec(event);
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "the canary is readable in {event:?}"
        );
    }

    // A control: a payload sent in clear to another namespace is found by the same scan.
    let control = unique("CONTROL");
    let plain_default = harness::client(
        &harness::connect(&Target::Lockstep {
            addr: server.addr(),
            certs_dir: server.certs_dir(),
            principal: "client",
        })
        .await,
    );
    plain_default
        .start_workflow(
            EchoWorkflow::run,
            control.clone(),
            WorkflowStartOptions::new(unique("no-worker"), unique("control")).build(),
        )
        .await
        .expect("a clear-text start in `default`");

    worker.shutdown();
    assert!(server.terminate(), "the server exits cleanly on SIGTERM");
    let data_dir = server.data_dir().to_path_buf();
    assert!(files_under(&data_dir).len() > 1);
    assert_eq!(
        files_containing(&data_dir, canary.as_bytes()),
        Vec::<PathBuf>::new(),
        "the canary is stored in clear"
    );
    assert!(
        !server.stderr().contains(&canary),
        "the canary is in the server log"
    );
    assert!(
        !files_containing(&data_dir, control.as_bytes()).is_empty(),
        "the scan must find a clear-text control payload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_started_under_key_a_finish_after_b_becomes_active() {
    let server = DevServer::start();
    let namespace = "default";
    let (ring_a, key_a) = one_key_ring("key-a");
    let key_b = Key::generate().unwrap();
    let (id_a, id_b) = (KeyId::new("key-a").unwrap(), KeyId::new("key-b").unwrap());

    // The worker reads a key file; the starter holds its keys in memory.
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("keys.toml");
    let write_key_file = |active: &str, keys: &[(&KeyId, &Key)]| {
        let mut text = format!("active = \"{active}\"\n[keys]\n");
        for (id, key) in keys {
            text.push_str(&format!("\"{id}\" = \"{}\"\n", *key.to_base64()));
        }
        std::fs::write(&key_file, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    };
    write_key_file("key-a", &[(&id_a, &key_a)]);
    let worker_keys = Keys::load(FileKeyProvider::new(&key_file)).await.unwrap();
    let starter_keys = Keys::new(ring_a);

    let task_queue = unique("rotation");
    let worker = EncryptedWorker::start(
        options(
            &server,
            "worker",
            namespace,
            CodecOptions::new(worker_keys.clone()),
        ),
        &task_queue,
    );
    let client = lockstep_sdk::connect(options(
        &server,
        "client",
        namespace,
        CodecOptions::new(starter_keys.clone()),
    ))
    .await
    .unwrap();

    let ids: Vec<String> = (0..3).map(|i| unique(&format!("rotation-{i}"))).collect();
    let mut handles = Vec::new();
    for id in &ids {
        let handle = client
            .start_workflow(
                RotationWorkflow::run,
                format!("started {id}"),
                WorkflowStartOptions::new(task_queue.clone(), id.clone()).build(),
            )
            .await
            .unwrap();
        handles.push(handle);
    }
    // Every run has decoded its input (under A) and is waiting for the signal.
    for id in &ids {
        within("first workflow task", async {
            loop {
                let history = raw_history(&server, namespace, id).await;
                if history
                    .iter()
                    .any(|e| e.event_type() == EventType::WorkflowTaskCompleted)
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }

    // Rotate without restarting anything: the key file gains B as active (the worker reloads
    // it), the starter's ring is replaced in memory.
    write_key_file("key-b", &[(&id_a, &key_a), (&id_b, &key_b)]);
    worker_keys.reload().await.unwrap();
    assert_eq!(worker_keys.ring().active_id(), &id_b);
    let mut ring = KeyRing::clone(&starter_keys.ring());
    ring.insert(id_b.clone(), key_b.clone()).unwrap();
    ring.set_active(&id_b).unwrap();
    starter_keys.replace(ring);

    for (id, handle) in ids.iter().zip(&handles) {
        within(
            "signal",
            handle.signal(
                RotationWorkflow::finish,
                "finished under b".to_string(),
                WorkflowSignalOptions::default(),
            ),
        )
        .await
        .unwrap();
        let result = within(
            "result",
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .expect("a workflow started under key A completes after B is active");
        assert_eq!(result, format!("started {id}|finished under b"));

        let history = raw_history(&server, namespace, id).await;
        let key_of = |event_type: EventType| {
            let event = history
                .iter()
                .find(|e| e.event_type() == event_type)
                .unwrap_or_else(|| panic!("no {event_type:?}"));
            text(event_payloads(event)[0], METADATA_KEY_ID)
        };
        assert_eq!(key_of(EventType::WorkflowExecutionStarted), "key-a");
        assert_eq!(key_of(EventType::WorkflowExecutionSignaled), "key-b");
        assert_eq!(key_of(EventType::WorkflowExecutionCompleted), "key-b");
    }
    worker.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_certificate_rotates_from_files_without_a_restart() {
    let mut server = DevServer::start();
    let certs = server.certs_dir();
    let ca = Ca::load(&certs.join("ca.pem"), &certs.join("ca-key.pem")).expect("the dev CA");
    let now = time::OffsetDateTime::now_utc();
    let short_lived = ca
        .issue_client_with_validity(
            "worker",
            now - time::Duration::hours(1),
            now + time::Duration::seconds(8),
        )
        .unwrap();
    let renewed = ca.issue_client("worker", 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (
        dir.path().join("worker.pem"),
        dir.path().join("worker-key.pem"),
    );
    short_lived.write(&cert, &key).unwrap();

    let (ring, _) = one_key_ring("k");
    let codec = CodecOptions::new(Keys::new(ring));
    let task_queue = unique("cert-rotation");
    let worker = EncryptedWorker::start(
        ConnectOptions::new(
            server.addr().to_string(),
            "default",
            TlsFiles::new(certs.join("ca.pem"), &cert, &key).server_name("localhost"),
            codec.clone(),
        ),
        &task_queue,
    );
    let run = |client: Client, input: &'static str| {
        let task_queue = task_queue.clone();
        async move {
            let handle = client
                .start_workflow(
                    CanaryWorkflow::run,
                    input.to_string(),
                    WorkflowStartOptions::new(task_queue, unique("cert")).build(),
                )
                .await
                .expect("start");
            within(
                "result",
                handle.get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .expect("the worker runs the workflow")
        }
    };
    let client = lockstep_sdk::connect(options(&server, "client", "default", codec.clone()))
        .await
        .unwrap();
    assert_eq!(run(client, "before").await, "echo: before");

    // Renew the files, let the first certificate expire, and force every connection to
    // reconnect: the worker can only get work again by presenting the renewed certificate.
    renewed.write(&cert, &key).unwrap();
    let expiry = std::time::SystemTime::from(now + time::Duration::seconds(9));
    if let Ok(left) = expiry.duration_since(std::time::SystemTime::now()) {
        tokio::time::sleep(left).await;
    }
    server.restart();
    let client = lockstep_sdk::connect(options(&server, "client", "default", codec))
        .await
        .unwrap();
    assert_eq!(run(client, "after").await, "echo: after");
    worker.shutdown();
}
