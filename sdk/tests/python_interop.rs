//! Interoperability with an independent implementation of the encryption-sample format:
//! `tests/interop/sample_codec.py` (Python's `cryptography` package and a hand-written protobuf
//! codec, sharing nothing with ours) encrypts what the Rust codec must decrypt, and decrypts
//! what the Rust codec encrypted — in the sample format and in the hardened format as
//! `docs/codec-format.md` specifies it.
//!
//! Python comes from `$LOCKSTEP_PYTHON`, else the venv `scripts/test` installs
//! (`${LOCKSTEP_CACHE:-~/.cache/lockstep}/venv/bin/python`). Without it, or without
//! `cryptography` in it, these tests FAIL (they do not skip) and say how to install it.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use lockstep_sdk::{
    CodecError, EncryptionCodec, Key, KeyId, KeyRing, Keys, Payload,
    codec::{METADATA_BINDING, METADATA_ENCODING, METADATA_KEY_ID},
};
use serde_json::{Value, json};

/// The key and key id of Temporal's Python and Go encryption samples.
const SAMPLE_KEY: &[u8; 32] = b"test-key-test-key-test-key-test!";
const SAMPLE_KEY_ID: &str = "test-key-id";

fn python() -> PathBuf {
    let python = std::env::var_os("LOCKSTEP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("LOCKSTEP_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                        .join(".cache/lockstep")
                });
            cache.join("venv/bin/python")
        });
    let check = Command::new(&python)
        .args(["-c", "import cryptography"])
        .output();
    match check {
        Ok(output) if output.status.success() => python,
        outcome => panic!(
            "the Python interop test needs Python with the `cryptography` package at {} \
             (from $LOCKSTEP_PYTHON, else $LOCKSTEP_CACHE/venv or ~/.cache/lockstep/venv): run \
             scripts/test, which installs it, or `{0} -m pip install cryptography`, or point \
             LOCKSTEP_PYTHON at a Python that has it. Got: {outcome:?}",
            python.display(),
        ),
    }
}

fn payload_json(payload: &Payload) -> Value {
    let metadata: serde_json::Map<String, Value> = payload
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(BASE64.encode(v))))
        .collect();
    json!({"metadata": metadata, "data": BASE64.encode(&payload.data)})
}

fn payload_from_json(value: &Value) -> Payload {
    let metadata: HashMap<String, Vec<u8>> = value["metadata"]
        .as_object()
        .expect("metadata object")
        .iter()
        .map(|(k, v)| (k.clone(), BASE64.decode(v.as_str().unwrap()).unwrap()))
        .collect();
    Payload {
        metadata,
        data: BASE64.decode(value["data"].as_str().unwrap()).unwrap(),
        ..Default::default()
    }
}

/// Runs the Python codec: `command` is "encrypt" or "decrypt".
fn run_python(
    command: &str,
    key: &[u8; 32],
    key_id: &str,
    namespace: Option<&str>,
    payloads: &[Payload],
) -> Result<Vec<Payload>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/sample_codec.py");
    let request = json!({
        "key": BASE64.encode(key),
        "key_id": key_id,
        "namespace": namespace,
        "payloads": payloads.iter().map(payload_json).collect::<Vec<_>>(),
    });
    let mut child = Command::new(python())
        .arg(&script)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    Ok(response["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(payload_from_json)
        .collect())
}

fn payloads() -> Vec<Payload> {
    vec![
        Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: br#"{"spec":true,"canary":"py-rs-interop"}"#.to_vec(),
            ..Default::default()
        },
        Payload {
            metadata: HashMap::from([
                ("encoding".to_string(), b"binary/plain".to_vec()),
                ("messageType".to_string(), vec![0, 1, 2, 255]),
            ]),
            data: (0..=255).collect(),
            ..Default::default()
        },
        Payload {
            metadata: HashMap::from([("encoding".to_string(), b"binary/null".to_vec())]),
            data: Vec::new(),
            ..Default::default()
        },
    ]
}

fn keys(key: &[u8; 32], id: &str) -> Keys {
    Keys::new(KeyRing::new(
        KeyId::new(id).unwrap(),
        Key::from_bytes(key).unwrap(),
    ))
}

#[tokio::test]
async fn python_sample_format_decrypts_in_rust() {
    let encrypted = run_python("encrypt", SAMPLE_KEY, SAMPLE_KEY_ID, None, &payloads()).unwrap();
    let codec = EncryptionCodec::new(keys(SAMPLE_KEY, SAMPLE_KEY_ID));
    for (encrypted, original) in encrypted.into_iter().zip(payloads()) {
        assert_eq!(encrypted.metadata[METADATA_ENCODING], b"binary/encrypted");
        assert_eq!(
            encrypted.metadata[METADATA_KEY_ID],
            SAMPLE_KEY_ID.as_bytes()
        );
        assert_eq!(codec.decode_payload(encrypted).await.unwrap(), original);
    }
}

#[tokio::test]
async fn rust_sample_format_decrypts_in_python() {
    let key = Key::generate().unwrap();
    let raw: [u8; 32] = BASE64
        .decode(&*key.to_base64())
        .unwrap()
        .try_into()
        .unwrap();
    let codec = EncryptionCodec::new(keys(&raw, "rotating-2026"));
    let encrypted: Vec<Payload> = payloads()
        .iter()
        .map(|p| codec.encode_payload(p).unwrap())
        .collect();
    let decrypted = run_python("decrypt", &raw, "rotating-2026", None, &encrypted).unwrap();
    assert_eq!(decrypted, payloads());
}

#[tokio::test]
async fn hardened_format_interoperates_as_documented() {
    let codec = EncryptionCodec::hardened(keys(SAMPLE_KEY, SAMPLE_KEY_ID), "payments");

    let from_python = run_python(
        "encrypt",
        SAMPLE_KEY,
        SAMPLE_KEY_ID,
        Some("payments"),
        &payloads(),
    )
    .unwrap();
    for (encrypted, original) in from_python.iter().zip(payloads()) {
        assert_eq!(encrypted.metadata[METADATA_BINDING], b"namespace-v1");
        assert_eq!(
            codec.decode_payload(encrypted.clone()).await.unwrap(),
            original
        );
    }

    let from_rust: Vec<Payload> = payloads()
        .iter()
        .map(|p| codec.encode_payload(p).unwrap())
        .collect();
    let decrypted = run_python(
        "decrypt",
        SAMPLE_KEY,
        SAMPLE_KEY_ID,
        Some("payments"),
        &from_rust,
    )
    .unwrap();
    assert_eq!(decrypted, payloads());

    // Python decrypting in another namespace fails; so does Rust with Python's ciphertext
    // bound to another namespace.
    let error = run_python(
        "decrypt",
        SAMPLE_KEY,
        SAMPLE_KEY_ID,
        Some("other"),
        &from_rust,
    )
    .unwrap_err();
    assert!(error.contains("InvalidTag"), "{error}");
    let other = EncryptionCodec::hardened(keys(SAMPLE_KEY, SAMPLE_KEY_ID), "other");
    let error = other
        .decode_payload(from_python[0].clone())
        .await
        .unwrap_err();
    assert!(
        matches!(error, CodecError::WrongNamespace { .. }),
        "{error:?}"
    );
}
