//! `lockstep codec-server` end to end: a workflow runs on a real dev server through
//! lockstep-sdk's AES-256-GCM codec (sample format, a 0600 key file), the real codec-server
//! binary holds the same key file, and
//! - the real `temporal` CLI and `lockstep workflow show` print the decoded canary input and
//!   result with `--codec-endpoint` and a dev token minted by `lockstep certs token`, and do not
//!   without the endpoint;
//! - a request without credentials is refused with 401, and a token whose namespaces do not
//!   cover the namespace, or whose principal the policy does not know, with 403;
//! - every decode request leaves one audit line with its outcome, and the audit log never holds
//!   the canary or a token.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Output, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use lockstep_certs::Ca;
use lockstep_sdk::{
    CodecOptions, ConnectOptions, FileKeyProvider, Keys, TlsFiles, codec::METADATA_ENCODING,
};
use lockstep_tests::{
    DevServer,
    clients::{dev_client, rustls_config},
    sdk::{self as harness, workflows::OneActivityWorkflow},
    server::free_port,
    tools::{lockstep_bin, temporal_cli},
};
use rustls_pki_types::ServerName;
use serde_json::{Value, json};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_protos::temporal::api::{
    common::v1::{Payload, WorkflowExecution},
    history::v1::{HistoryEvent, history_event::Attributes},
    workflowservice::v1::GetWorkflowExecutionHistoryRequest,
};
use temporalio_sdk::{Runtime, Worker, runtime::RuntimeOptions};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// How long any one wait may take.
const WAIT: Duration = Duration::from_secs(60);
/// The namespace of the workflow.
const NS: &str = "default";
/// The id of the one key in the key file.
const KEY_ID: &str = "codec-e2e-key";
/// The dev viewer's principal.
const VIEWER: &str = "spiffe://lockstep/viewer";

/// Whether a stop was requested, and the worker's shutdown function once it exists.
type StopState = Arc<Mutex<(bool, Option<Box<dyn Fn() + Send + Sync>>)>>;

/// A worker of the shared test workflows, connected with `lockstep_sdk::connect` (so it encrypts
/// and decrypts), on its own thread and runtime.
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
                let mut worker =
                    Worker::new(&sdk_runtime, client, harness::worker_options(&task_queue)?)?;
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

    fn request_stop(&self) {
        let mut stop = self.stop.lock().expect("stop");
        stop.0 = true;
        if let Some(shutdown) = &stop.1 {
            shutdown();
        }
    }

    /// Stops the worker and waits for it; panics if it had failed.
    fn shutdown(self) {
        self.request_stop();
        match self.done.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("the worker failed: {error}"),
            Err(_) => panic!("the worker did not stop within 30 s"),
        }
    }
}

impl Drop for EncryptedWorker {
    fn drop(&mut self) {
        // Never block here (a failed assertion unwinds through it); the thread ends on its own.
        self.request_stop();
    }
}

/// A `lockstep codec-server --config FILE` child process. Killed (SIGKILL) and reaped on drop.
struct CodecServerProcess {
    child: Child,
    addr: SocketAddr,
    ca_pem: Vec<u8>,
    stderr_log: PathBuf,
    audit_log: PathBuf,
}

impl CodecServerProcess {
    /// Starts the binary on `config` and waits until `GET /health` answers 200 over TLS.
    async fn start(
        config: &Path,
        addr: SocketAddr,
        ca_pem: Vec<u8>,
        stderr_log: PathBuf,
        audit_log: PathBuf,
    ) -> Self {
        let stderr = std::fs::File::create(&stderr_log).expect("codec server log");
        let child = std::process::Command::new(lockstep_bin())
            .arg("codec-server")
            .arg("--config")
            .arg(config)
            .env("LOCKSTEP_LOG", "info")
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().expect("log handle"))
            .stderr(stderr)
            .spawn()
            .expect("spawn lockstep codec-server");
        let mut server = Self {
            child,
            addr,
            ca_pem,
            stderr_log,
            audit_log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.try_wait().expect("codec server status") {
                panic!(
                    "lockstep codec-server exited before it was ready ({status}); output:\n{}",
                    server.stderr()
                );
            }
            let request = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
            match https_request(server.addr, &server.ca_pem, request.as_bytes()).await {
                Ok((200, _)) => break,
                Ok((status, body)) => panic!("GET /health answered {status}: {body}"),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => panic!(
                    "lockstep codec-server did not answer /health within 30 s ({err}); \
                     output:\n{}",
                    server.stderr()
                ),
            }
        }
        server
    }

    fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// What the process printed so far.
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// The raw audit log.
    fn audit_text(&self) -> String {
        std::fs::read_to_string(&self.audit_log).unwrap_or_default()
    }

    /// Every audit line, parsed.
    fn audit(&self) -> Vec<Value> {
        self.audit_text()
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("an audit line is not JSON ({e}): {line}"))
            })
            .collect()
    }

    /// `POST /decode` with `payloads` in `X-Namespace: default`, with `authorization` if any.
    async fn decode(&self, payloads: &[Payload], authorization: Option<&str>) -> (u16, String) {
        let body = serde_json::to_vec(&payloads_json(payloads)).expect("request JSON");
        let mut request = format!(
            "POST /decode HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/json\r\nX-Namespace: {NS}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(value) = authorization {
            request.push_str(&format!("Authorization: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(&body);
        https_request(self.addr, &self.ca_pem, &bytes)
            .await
            .unwrap_or_else(|e| {
                panic!("POST /decode: {e}; codec server output:\n{}", self.stderr())
            })
    }
}

impl Drop for CodecServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over TLS 1.3 (the server verified against `ca_pem` as `localhost`);
/// the server closes the connection after the answer. Returns the status and the body.
async fn https_request(
    addr: SocketAddr,
    ca_pem: &[u8],
    request: &[u8],
) -> Result<(u16, String), String> {
    let mut config =
        rustls::ClientConfig::clone(&rustls_config(ca_pem, None, &[&rustls::version::TLS13]));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let exchange = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from("localhost").expect("server name");
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tls.write_all(request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut answer = Vec::new();
        if let Err(e) = tls.read_to_end(&mut answer).await {
            // A peer that closes without close_notify: keep what arrived.
            if answer.is_empty() {
                return Err(format!("read: {e}"));
            }
        }
        Ok(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "no answer within 10 s".to_string())??;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {answer:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// The remote-codec JSON of `payloads`: `{"payloads":[{"metadata":{k:b64},"data":b64}]}`.
fn payloads_json(payloads: &[Payload]) -> Value {
    let payloads: Vec<Value> = payloads
        .iter()
        .map(|payload| {
            let metadata: serde_json::Map<String, Value> = payload
                .metadata
                .iter()
                .map(|(key, value)| (key.clone(), Value::String(BASE64.encode(value))))
                .collect();
            json!({ "metadata": metadata, "data": BASE64.encode(&payload.data) })
        })
        .collect();
    json!({ "payloads": payloads })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

fn output_text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs a prepared command to completion, within [`WAIT`].
async fn run(mut command: tokio::process::Command, what: &str) -> Output {
    command.stdin(Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(WAIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{what}: no exit within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"))
}

/// `lockstep certs token --principal PRINCIPAL --signing-key KEY [--namespace NS…]`: the JWT.
async fn mint_token(signing_key: &Path, principal: &str, namespaces: &[&str]) -> String {
    let mut command = tokio::process::Command::new(lockstep_bin());
    command
        .args(["certs", "token", "--principal", principal, "--signing-key"])
        .arg(signing_key);
    for namespace in namespaces {
        command.args(["--namespace", namespace]);
    }
    let output = run(command, "lockstep certs token").await;
    assert!(output.status.success(), "{}", output_text(&output));
    let token = String::from_utf8(output.stdout).expect("utf-8 token");
    let token = token.trim().to_string();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token:?}");
    token
}

/// The connection flags both CLIs share: the dev server as the dev `admin` principal.
fn connection_args(server: &DevServer) -> Vec<String> {
    let certs = server.certs_dir();
    let path = |name: &str| certs.join(name).display().to_string();
    vec![
        "--address".into(),
        server.addr().to_string(),
        "--tls-ca-path".into(),
        path("ca.pem"),
        "--tls-cert-path".into(),
        path("admin.pem"),
        "--tls-key-path".into(),
        path("admin-key.pem"),
    ]
}

/// A command with none of the environment variables either CLI reads for its connection or
/// codec, and an empty HOME.
fn clean_command(program: PathBuf, home: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    for var in [
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        "TEMPORAL_TLS_SERVER_NAME",
        "TEMPORAL_CODEC_ENDPOINT",
        "TEMPORAL_CODEC_AUTH",
        "TEMPORAL_PROFILE",
        "LOCKSTEP_DEV_DIR",
        "LOCKSTEP_CODEC_CA_PATH",
        "SSL_CERT_DIR",
    ] {
        command.env_remove(var);
    }
    command
        .env("HOME", home)
        .env("XDG_DATA_HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("TEMPORAL_CONFIG_FILE", home.join("no-temporal.toml"));
    command
}

/// `temporal workflow show --detailed` of `workflow_id` as `admin`, with `codec` flags and a
/// `--command-timeout` of `timeout`; the codec server is trusted through `SSL_CERT_FILE` (the
/// dev CA).
async fn temporal_show(
    server: &DevServer,
    home: &Path,
    workflow_id: &str,
    codec: &[String],
    timeout: &str,
) -> Output {
    let mut command = clean_command(temporal_cli(), home);
    command
        .args([
            "workflow",
            "show",
            "--workflow-id",
            workflow_id,
            "--detailed",
        ])
        .args(connection_args(server))
        .args(["--command-timeout", timeout])
        .args(codec)
        .env("SSL_CERT_FILE", server.certs_dir().join("ca.pem"));
    run(command, "temporal workflow show").await
}

/// `lockstep workflow show -w ID` as `admin`, with `codec` flags.
async fn lockstep_show(
    server: &DevServer,
    home: &Path,
    workflow_id: &str,
    codec: &[String],
) -> Output {
    let mut command = clean_command(lockstep_bin(), home);
    command
        .args(["workflow", "show", "-w", workflow_id])
        .args(connection_args(server))
        .args(codec);
    run(command, "lockstep workflow show").await
}

/// The history as the server holds it (plain gRPC, no codec).
async fn raw_history(server: &DevServer, workflow_id: &str) -> Vec<HistoryEvent> {
    let mut reader = dev_client(server, "client").await;
    reader
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: NS.into(),
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

/// The workflow's input and result payloads, as stored.
fn input_and_result(history: &[HistoryEvent]) -> Vec<Payload> {
    let mut found = Vec::new();
    for event in history {
        let payloads = match &event.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a.input.as_ref(),
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => a.result.as_ref(),
            _ => None,
        };
        found.extend(payloads.into_iter().flat_map(|p| p.payloads.clone()));
    }
    found
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The audit lines written since `before` lines existed.
fn new_lines(codec: &CodecServerProcess, before: usize) -> Vec<Value> {
    codec.audit().split_off(before)
}

/// Asserts that `lines` is not empty and every line records a decode request of the workflow's
/// namespace refused with `status` and `outcome`.
fn assert_refused(lines: &[Value], status: u16, outcome: &str, what: &str) {
    assert!(!lines.is_empty(), "{what}: no audit line");
    for line in lines {
        assert_eq!(line["status"], status, "{what}: {line}");
        assert_eq!(line["outcome"], outcome, "{what}: {line}");
        assert_eq!(line["endpoint"], "decode", "{what}: {line}");
        assert_eq!(line["namespace"], NS, "{what}: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_codec_server_decodes_for_authorized_viewers_only() {
    let server = DevServer::start();
    let certs = server.certs_dir();
    let ca_path = certs.join("ca.pem");
    let ca_pem = std::fs::read(&ca_path).expect("dev CA");
    let work = tempfile::tempdir().expect("temp dir");
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    // The key file the worker, the starter and the codec server share (0600).
    let key_file = work.path().join("keys.toml");
    let key = lockstep_sdk::Key::generate().unwrap();
    std::fs::write(
        &key_file,
        format!(
            "active = \"{KEY_ID}\"\n[keys]\n\"{KEY_ID}\" = \"{}\"\n",
            *key.to_base64()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let keys = Keys::load(FileKeyProvider::new(&key_file))
        .await
        .expect("the key file loads");
    let codec = CodecOptions::new(keys);
    let connect = |principal: &str| {
        ConnectOptions::new(
            server.addr().to_string(),
            NS,
            TlsFiles::dev(&certs, principal),
            codec.clone(),
        )
    };

    // 1. An encrypted run: input CANARY-…, result "Hello, CANARY-…!".
    let canary = unique("CANARY");
    let expected_result = format!("Hello, {canary}!");
    let task_queue = unique("codec-server");
    let worker = EncryptedWorker::start(connect("worker"), &task_queue);
    let client = lockstep_sdk::connect(connect("client"))
        .await
        .expect("the encrypted client connects");
    let workflow_id = unique("codec-canary");
    let handle = tokio::time::timeout(
        WAIT,
        client.start_workflow(
            OneActivityWorkflow::run,
            canary.clone(),
            WorkflowStartOptions::new(task_queue.clone(), workflow_id.clone()).build(),
        ),
    )
    .await
    .expect("start within the wait")
    .expect("start");
    let result = tokio::time::timeout(WAIT, handle.get_result(WorkflowGetResultOptions::default()))
        .await
        .expect("result within the wait")
        .expect("the workflow completes");
    assert_eq!(result, expected_result);
    worker.shutdown();

    // The server holds ciphertext only.
    let history = raw_history(&server, &workflow_id).await;
    for event in &history {
        let bytes = prost::Message::encode_to_vec(event);
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "the canary is readable in {event:?}"
        );
    }
    let stored = input_and_result(&history);
    assert_eq!(stored.len(), 2, "{history:?}");
    for payload in &stored {
        assert_eq!(
            payload.metadata.get(METADATA_ENCODING).map(Vec::as_slice),
            Some(&b"binary/encrypted"[..]),
            "{payload:?}"
        );
    }

    // 2. The codec server: the real binary, a certificate from the dev CA, the dev policy, dev
    // tokens, the same key file.
    let ca = Ca::load(&ca_path, &certs.join("ca-key.pem")).expect("the dev CA");
    let (tls_cert, tls_key) = (
        work.path().join("codec-server.pem"),
        work.path().join("codec-server-key.pem"),
    );
    ca.issue_server(
        &["localhost".to_string()],
        &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        1,
    )
    .expect("issue the codec server's certificate")
    .write(&tls_cert, &tls_key)
    .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let audit_log = work.path().join("codec-audit.jsonl");
    let config = work.path().join("codec-server.toml");
    let toml_path = |path: &Path| toml_string(&path.display().to_string());
    std::fs::write(
        &config,
        format!(
            "listen = \"{addr}\"\n\
             policy = {policy}\n\
             audit_log = {audit}\n\
             [tls]\n\
             cert = {cert}\n\
             key = {key}\n\
             [jwt]\n\
             issuer = \"lockstep-dev\"\n\
             audience = \"lockstep-codec\"\n\
             public_keys = [{public_key}]\n\
             [keys]\n\
             file = {keys}\n",
            policy = toml_path(&server.data_dir().join("dev-policy.toml")),
            audit = toml_path(&audit_log),
            cert = toml_path(&tls_cert),
            key = toml_path(&tls_key),
            public_key = toml_path(&certs.join("token-signing.pub.pem")),
            keys = toml_path(&key_file),
        ),
    )
    .unwrap();
    let codec_server = CodecServerProcess::start(
        &config,
        addr,
        ca_pem,
        work.path().join("codec-server.log"),
        audit_log,
    )
    .await;
    let endpoint = codec_server.endpoint();

    // 3. A dev token for the viewer, minted by the real binary.
    let signing_key = certs.join("token-signing-key.pem");
    let viewer_token = mint_token(&signing_key, "viewer", &[]).await;
    let bearer = format!("Bearer {viewer_token}");

    // 4. The real `temporal` CLI: decoded with the codec endpoint, not without.
    let decoded = temporal_show(
        &server,
        &home,
        &workflow_id,
        &[
            "--codec-endpoint".into(),
            endpoint.clone(),
            "--codec-auth".into(),
            bearer.clone(),
        ],
        "30s",
    )
    .await;
    let stdout = String::from_utf8_lossy(&decoded.stdout);
    assert!(decoded.status.success(), "{}", output_text(&decoded));
    assert!(stdout.contains(&canary), "{}", output_text(&decoded));
    assert!(
        stdout.contains(&expected_result),
        "{}",
        output_text(&decoded)
    );
    let after_temporal = codec_server.audit();
    assert!(!after_temporal.is_empty(), "the decode left no audit line");
    for line in &after_temporal {
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["outcome"], "ok", "{line}");
        assert_eq!(line["principal"], VIEWER, "{line}");
        assert_eq!(line["auth"], "bearer", "{line}");
        assert_eq!(line["namespace"], NS, "{line}");
        assert_eq!(line["endpoint"], "decode", "{line}");
    }
    assert!(
        after_temporal
            .iter()
            .any(|l| l["key_ids"] == json!([KEY_ID])),
        "no audit line names the key: {after_temporal:?}"
    );

    let plain = temporal_show(&server, &home, &workflow_id, &[], "30s").await;
    assert!(plain.status.success(), "{}", output_text(&plain));
    let plain_stdout = String::from_utf8_lossy(&plain.stdout);
    assert!(
        !plain_stdout.contains(&canary),
        "the canary without a codec: {}",
        output_text(&plain)
    );
    assert!(
        plain_stdout.contains("binary/encrypted"),
        "the result is shown as still encrypted: {}",
        output_text(&plain)
    );
    assert_eq!(
        codec_server.audit().len(),
        after_temporal.len(),
        "no codec, no request"
    );

    // 5. `lockstep workflow show`: the same.
    let codec_flags = |auth: Option<&str>| {
        let mut flags = vec![
            "--codec-endpoint".to_string(),
            endpoint.clone(),
            "--codec-ca-path".into(),
            ca_path.display().to_string(),
        ];
        if let Some(auth) = auth {
            flags.extend(["--codec-auth".to_string(), auth.to_string()]);
        }
        flags
    };
    let before = codec_server.audit().len();
    let decoded = lockstep_show(&server, &home, &workflow_id, &codec_flags(Some(&bearer))).await;
    let stdout = String::from_utf8_lossy(&decoded.stdout);
    assert!(decoded.status.success(), "{}", output_text(&decoded));
    assert!(stdout.contains(&canary), "{}", output_text(&decoded));
    assert!(
        stdout.contains(&expected_result),
        "{}",
        output_text(&decoded)
    );
    let lines = new_lines(&codec_server, before);
    assert!(!lines.is_empty());
    for line in &lines {
        assert_eq!(line["outcome"], "ok", "{line}");
        assert_eq!(line["principal"], VIEWER, "{line}");
    }
    let plain = lockstep_show(&server, &home, &workflow_id, &[]).await;
    assert!(plain.status.success(), "{}", output_text(&plain));
    let plain_stdout = String::from_utf8_lossy(&plain.stdout);
    assert!(!plain_stdout.contains(&canary), "{}", output_text(&plain));
    assert!(
        plain_stdout.contains(KEY_ID),
        "undecoded payloads are shown as encrypted under their key id: {}",
        output_text(&plain)
    );

    // 6. Refusals. Tokens that authenticate but do not authorize `default`: the viewer limited
    // to another namespace, and a principal the policy does not know.
    let limited_token = mint_token(&signing_key, "viewer", &["other-ns"]).await;
    let stranger_token = mint_token(&signing_key, "stranger", &[]).await;
    let refusals: [(&str, Option<String>, u16, &str); 3] = [
        ("no credentials", None, 401, "unauthenticated"),
        (
            "a token limited to other-ns",
            Some(format!("Bearer {limited_token}")),
            403,
            "forbidden",
        ),
        (
            "a principal outside the policy",
            Some(format!("Bearer {stranger_token}")),
            403,
            "forbidden",
        ),
    ];
    for (what, auth, status, outcome) in &refusals {
        // The wire: the exact status, and nothing decoded in the answer.
        let before = codec_server.audit().len();
        let (answered, body) = codec_server.decode(&stored, auth.as_deref()).await;
        assert_eq!(answered, *status, "{what}: {body}");
        assert!(!body.contains(&canary), "{what}: {body}");
        let lines = new_lines(&codec_server, before);
        assert_eq!(lines.len(), 1, "{what}: one request, one line: {lines:?}");
        assert_refused(&lines, *status, outcome, what);

        // The real `temporal` CLI.
        let before = codec_server.audit().len();
        let mut flags = vec!["--codec-endpoint".to_string(), endpoint.clone()];
        if let Some(auth) = auth {
            flags.extend(["--codec-auth".to_string(), auth.clone()]);
        }
        // A refused decode is an error the Go client retries with backoff until the command's
        // deadline, then reports as "context deadline exceeded" (the status is not shown): a
        // short deadline, and the statuses come from the audit lines.
        let refused = temporal_show(&server, &home, &workflow_id, &flags, "4s").await;
        assert!(
            !refused.status.success(),
            "temporal, {what}: {}",
            output_text(&refused)
        );
        assert!(
            !String::from_utf8_lossy(&refused.stdout).contains(&canary),
            "temporal, {what}: {}",
            output_text(&refused)
        );
        assert!(
            !String::from_utf8_lossy(&refused.stderr).contains(&canary),
            "temporal, {what}: {}",
            output_text(&refused)
        );
        assert_refused(
            &new_lines(&codec_server, before),
            *status,
            outcome,
            &format!("temporal, {what}"),
        );

        // `lockstep workflow show`: fails, naming the status.
        let before = codec_server.audit().len();
        let refused =
            lockstep_show(&server, &home, &workflow_id, &codec_flags(auth.as_deref())).await;
        assert!(
            !refused.status.success(),
            "lockstep, {what}: {}",
            output_text(&refused)
        );
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(&status.to_string()),
            "lockstep, {what}: {}",
            output_text(&refused)
        );
        assert!(
            !String::from_utf8_lossy(&refused.stdout).contains(&canary)
                && !stderr.contains(&canary),
            "lockstep, {what}: {}",
            output_text(&refused)
        );
        assert_refused(
            &new_lines(&codec_server, before),
            *status,
            outcome,
            &format!("lockstep, {what}"),
        );
    }

    // The audit log: refusals recorded, never a payload, the canary or a token.
    let audit = codec_server.audit_text();
    let lines = codec_server.audit();
    assert!(lines.iter().any(|l| l["outcome"] == "unauthenticated"));
    assert!(
        lines
            .iter()
            .any(|l| l["outcome"] == "forbidden" && l["principal"] == VIEWER)
    );
    assert!(
        lines
            .iter()
            .any(|l| l["outcome"] == "forbidden" && l["principal"] == "spiffe://lockstep/stranger")
    );
    assert_eq!(count(&audit, &canary), 0, "the canary is in the audit log");
    for token in [&viewer_token, &limited_token, &stranger_token] {
        let signature = token.rsplit('.').next().unwrap();
        assert_eq!(count(&audit, signature), 0, "a token is in the audit log");
    }
    assert!(
        !codec_server.stderr().contains(&canary),
        "the canary is in the codec server's log"
    );
}

/// `value` as a TOML basic string.
fn toml_string(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}
