//! The in-test codec endpoint: HTTPS with a certificate from the dev CA; `/encode` wraps a
//! payload (its protobuf bytes XOR 0x5A) as `binary/encrypted` with key id `test-key`, `/decode`
//! unwraps it. It checks the bearer token and records each request's path and `X-Namespace`.

use std::{
    collections::HashMap,
    convert::Infallible,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use prost::Message as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use serde_json::{Value, json};
use temporalio_protos::temporal::api::common::v1::Payload;

/// The codec's key id and bearer token.
pub(super) const KEY_ID: &str = "test-key";
pub(super) const TOKEN: &str = "Bearer codec-test-token";

fn xor(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|b| b ^ 0x5A).collect()
}

pub(super) fn seal(payload: &Payload) -> Payload {
    Payload {
        metadata: HashMap::from([
            ("encoding".to_string(), b"binary/encrypted".to_vec()),
            ("encryption-key-id".to_string(), KEY_ID.as_bytes().to_vec()),
        ]),
        data: xor(&payload.encode_to_vec()),
        ..Default::default()
    }
}

fn unseal(payload: &Payload) -> Payload {
    match payload.metadata.get("encryption-key-id") {
        Some(id) if id == KEY_ID.as_bytes() => {
            Payload::decode(xor(&payload.data).as_slice()).expect("a sealed payload")
        }
        _ => payload.clone(),
    }
}

fn payloads_from_json(value: &Value) -> Vec<Payload> {
    let bytes = |v: &Value| {
        BASE64
            .decode(v.as_str().expect("base64 string"))
            .expect("base64")
    };
    value["payloads"]
        .as_array()
        .expect("payloads")
        .iter()
        .map(|item| Payload {
            metadata: item["metadata"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), bytes(v))).collect())
                .unwrap_or_default(),
            data: item.get("data").map(bytes).unwrap_or_default(),
            ..Default::default()
        })
        .collect()
}

fn payloads_to_json(payloads: &[Payload]) -> Value {
    let list: Vec<Value> = payloads
        .iter()
        .map(|p| {
            let metadata: serde_json::Map<String, Value> = p
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(BASE64.encode(v))))
                .collect();
            json!({ "metadata": metadata, "data": BASE64.encode(&p.data) })
        })
        .collect();
    json!({ "payloads": list })
}

/// A request the codec endpoint received: path and X-Namespace.
pub(super) type Seen = Arc<Mutex<Vec<(String, String)>>>;

pub(super) struct CodecEndpoint {
    pub(super) url: String,
    pub(super) ca: PathBuf,
    pub(super) seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CodecEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(super) async fn codec_endpoint(certs: &Path) -> CodecEndpoint {
    let ca = lockstep_certs::Ca::load(&certs.join("ca.pem"), &certs.join("ca-key.pem"))
        .expect("the dev CA");
    let issued = ca
        .issue_server(
            &["localhost".to_string()],
            &["127.0.0.1".parse().unwrap()],
            1,
        )
        .expect("codec certificate");
    let chain = CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("cert PEM");
    let key = PrivateKeyDer::from_pem_slice(issued.key_pem().as_bytes()).expect("key PEM");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let seen_by_server = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen_by_server.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |request| codec_handler(request, seen.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    CodecEndpoint {
        url: format!("https://127.0.0.1:{port}/{{namespace}}"),
        ca: certs.join("ca.pem"),
        seen,
        task,
    }
}

async fn codec_handler(
    request: Request<Incoming>,
    seen: Seen,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        Ok(response)
    };
    let path = request.uri().path().to_string();
    let namespace = request
        .headers()
        .get("x-namespace")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let authorized = request
        .headers()
        .get("authorization")
        .is_some_and(|v| v == TOKEN);
    seen.lock().unwrap().push((path.clone(), namespace));
    if !authorized {
        return reply(StatusCode::UNAUTHORIZED, b"bad token".to_vec());
    }
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return reply(StatusCode::BAD_REQUEST, b"not json".to_vec());
    };
    let payloads = payloads_from_json(&value);
    let out: Vec<Payload> = if path.ends_with("/encode") {
        payloads.iter().map(seal).collect()
    } else if path.ends_with("/decode") {
        payloads.iter().map(unseal).collect()
    } else {
        return reply(StatusCode::NOT_FOUND, Vec::new());
    };
    reply(
        StatusCode::OK,
        serde_json::to_vec(&payloads_to_json(&out)).unwrap(),
    )
}
