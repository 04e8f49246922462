//! A real codec server on 127.0.0.1 with a dev PKI, dev token key, policy and test codec, and
//! a small HTTPS client (HTTP/1.1 or HTTP/2) that can present a client certificate.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use lockstep_certs::DevPki;
use lockstep_codec_server::{
    Codec, CodecServer, CodecServerConfig, CorsConfig, DEV_PUBLIC_KEY_FILE, DEV_TOKEN_AUDIENCE,
    DEV_TOKEN_ISSUER, ENCRYPTION_KEY_ID, JwtConfig, LimitsConfig, Payload, TlsConfig,
    ensure_dev_signing_key, mint_dev_token,
};
use prost::Message;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_rustls::TlsConnector;

pub const POLICY: &str = r#"
[[grant]]
principals = ["spiffe://lockstep/viewer"]
namespaces = ["default"]
roles = ["reader"]

[[grant]]
principals = ["spiffe://lockstep/client"]
namespaces = ["default"]
roles = ["client", "reader"]

[[grant]]
principals = ["spiffe://lockstep/admin"]
namespaces = ["*"]
roles = ["admin"]
"#;

pub const UI_ORIGIN: &str = "https://ui.example.com";
pub const KEY_ID: &str = "test-key-1";

/// A reversible, namespace-bound stand-in for the SDK's AES-GCM codec: the serialized payload,
/// prefixed with the namespace, XOR-ed with a byte. It counts its calls, so tests can prove a
/// refused request never reached it.
#[derive(Default)]
pub struct TestCodec {
    pub calls: AtomicUsize,
}

const XOR: u8 = 0x5a;

impl Codec for TestCodec {
    fn encode(&self, namespace: &str, payloads: Vec<Payload>) -> Result<Vec<Payload>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(payloads
            .into_iter()
            .map(|p| {
                let mut plain = format!("{namespace}\0").into_bytes();
                plain.extend(p.encode_to_vec());
                Payload {
                    metadata: [
                        ("encoding".to_owned(), b"binary/encrypted".to_vec()),
                        (ENCRYPTION_KEY_ID.to_owned(), KEY_ID.as_bytes().to_vec()),
                    ]
                    .into(),
                    data: plain.iter().map(|b| b ^ XOR).collect(),
                    external_payloads: Vec::new(),
                }
            })
            .collect())
    }

    fn decode(&self, namespace: &str, payloads: Vec<Payload>) -> Result<Vec<Payload>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        payloads
            .into_iter()
            .map(|p| {
                if p.metadata.get("encoding").map(Vec::as_slice) != Some(b"binary/encrypted") {
                    return Ok(p);
                }
                if p.metadata.get(ENCRYPTION_KEY_ID).map(Vec::as_slice) != Some(KEY_ID.as_bytes()) {
                    return Err("unknown key id".to_owned());
                }
                let plain: Vec<u8> = p.data.iter().map(|b| b ^ XOR).collect();
                let prefix = format!("{namespace}\0");
                let inner = plain
                    .strip_prefix(prefix.as_bytes())
                    .ok_or("payload belongs to another namespace")?;
                Payload::decode(inner).map_err(|_| "corrupt payload".to_owned())
            })
            .collect()
    }
}

/// Knobs a test may turn before the server starts.
pub struct Options {
    pub limits: LimitsConfig,
    pub client_ca: bool,
    pub jwt: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            limits: LimitsConfig::default(),
            client_ca: true,
            jwt: true,
        }
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub pki: DevPki,
    pub codec: Arc<TestCodec>,
    pub audit_log: PathBuf,
    pub signing_key: Vec<u8>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = DevPki::ensure(
            &dir.path().join("pki"),
            &["viewer", "client", "admin", "stranger"],
        )
        .unwrap();
        let token_dir = dir.path().join("tokens");
        std::fs::create_dir_all(&token_dir).unwrap();
        let signing_key = std::fs::read(ensure_dev_signing_key(&token_dir).unwrap()).unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, POLICY).unwrap();
        let audit_log = dir.path().join("audit.jsonl");
        let config = CodecServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: TlsConfig {
                cert: pki.server_cert(),
                key: pki.server_key(),
                client_ca: options.client_ca.then(|| pki.ca_cert()),
            },
            policy,
            audit_log: audit_log.clone(),
            jwt: options.jwt.then(|| JwtConfig {
                issuer: DEV_TOKEN_ISSUER.into(),
                audience: DEV_TOKEN_AUDIENCE.into(),
                public_keys: vec![token_dir.join(DEV_PUBLIC_KEY_FILE)],
                jwks: None,
                leeway_secs: 5,
            }),
            limits: options.limits,
            cors: CorsConfig {
                allowed_origins: vec![UI_ORIGIN.into()],
            },
            keys: None,
        };
        let codec = Arc::new(TestCodec::default());
        let server = CodecServer::bind(config, codec.clone()).await.unwrap();
        let addr = server.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            addr,
            dir,
            pki,
            codec,
            audit_log,
            signing_key,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A dev token for `principal`, valid for a minute.
    pub fn token(&self, principal: &str) -> String {
        mint_dev_token(&self.signing_key, principal, &[], Duration::from_secs(60)).unwrap()
    }

    /// A token with arbitrary claims, signed with the dev key.
    pub fn signed(&self, claims: serde_json::Value) -> String {
        sign_eddsa(&self.signing_key, &claims)
    }

    pub fn codec_calls(&self) -> usize {
        self.codec.calls.load(Ordering::SeqCst)
    }

    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(&self.audit_log).unwrap_or_default()
    }

    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        self.audit_text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    pub fn last_audit(&self) -> serde_json::Value {
        self.audit_lines().pop().expect("an audit line")
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr, &self.pki.ca_cert(), None)
    }

    /// A client presenting the certificate of `name` from the server's dev CA.
    pub fn mtls_client(&self, name: &str) -> Client {
        let identity = (self.pki.client_cert(name), self.pki.client_key(name));
        Client::new(self.addr, &self.pki.ca_cert(), Some(identity))
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn sign_eddsa(key_pem: &[u8], claims: &serde_json::Value) -> String {
    let der = pem::parse(key_pem).unwrap().into_contents();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).unwrap();
    let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = pair.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// A JSON payload as the SDKs write it.
pub fn json_payload(value: &str) -> Payload {
    Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(value).unwrap(),
        external_payloads: Vec::new(),
    }
}

/// The remote-codec body for `payloads`.
pub fn body(payloads: &[Payload]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = payloads
        .iter()
        .map(|p| {
            let metadata: serde_json::Map<String, serde_json::Value> = p
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), STANDARD.encode(v).into()))
                .collect();
            serde_json::json!({"metadata": metadata, "data": STANDARD.encode(&p.data)})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "payloads": list })).unwrap()
}

/// Parses a remote-codec response body.
pub fn parse(body: &[u8]) -> Vec<Payload> {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    value["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Payload {
            metadata: p["metadata"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), STANDARD.decode(v.as_str().unwrap()).unwrap()))
                .collect(),
            data: STANDARD.decode(p["data"].as_str().unwrap()).unwrap(),
            external_payloads: Vec::new(),
        })
        .collect()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request per connection, HTTP/1.1 unless `http2`.
pub struct Client {
    addr: SocketAddr,
    connector: TlsConnector,
    http2: bool,
}

impl Client {
    pub fn new(addr: SocketAddr, ca: &Path, identity: Option<(PathBuf, PathBuf)>) -> Self {
        Self::build(addr, ca, identity, false)
    }

    pub fn http2(self, ca: &Path) -> Self {
        Self::build(self.addr, ca, None, true)
    }

    fn build(
        addr: SocketAddr,
        ca: &Path,
        identity: Option<(PathBuf, PathBuf)>,
        http2: bool,
    ) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_file_iter(cert)
                        .unwrap()
                        .map(Result::unwrap)
                        .collect(),
                    PrivateKeyDer::from_pem_file(key).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Self {
            addr,
            connector: TlsConnector::from(Arc::new(config)),
            http2,
        }
    }

    /// Sends a request; transport errors (such as a refused handshake) are returned.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        tokio::time::timeout(
            Duration::from_secs(20),
            self.send_now(method, path, headers, body),
        )
        .await
        .map_err(|_| "timed out".to_owned())?
    }

    async fn send_now(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").unwrap();
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let mut request = Request::builder()
            .method(method)
            .uri(format!("https://localhost:{}{path}", self.addr.port()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body))).unwrap();
        let response = if self.http2 {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                    .await
                    .map_err(|e| format!("h2 handshake: {e}"))?;
            tokio::spawn(connection);
            sender.send_request(request).await
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| format!("http handshake: {e}"))?;
            tokio::spawn(connection);
            sender.send_request(request).await
        }
        .map_err(|e| format!("request: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `POST path` with `X-Namespace: namespace`, the bearer `token` if given, and `body`.
    pub async fn post(
        &self,
        path: &str,
        namespace: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("content-type", "application/json"),
            ("x-namespace", namespace),
        ];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth));
        }
        self.send(Method::POST, path, &headers, body).await.unwrap()
    }
}
