//! Payloads in and out: `--input` JSON becomes `json/plain` payloads (like the `temporal` CLI),
//! and payloads are shown decoded when they are JSON, as `encrypted (key id …)` when their
//! metadata says so, and as `<binary, N bytes>` otherwise — never as raw bytes.

use anyhow::Context as _;
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use serde_json::{Map, Value, json};
use temporalio_protos::temporal::api::common::v1::{Payload, Payloads};

use super::{Context, output::clean};

/// The metadata key naming a payload's encoding.
const ENCODING: &str = "encoding";
/// The encoding of JSON payloads.
const JSON_PLAIN: &str = "json/plain";
/// JSON-encoded protobuf messages: still JSON to read.
const JSON_PROTOBUF: &str = "json/protobuf";
/// A nil value.
const BINARY_NULL: &str = "binary/null";
/// The encryption codec's outer encoding (samples and the Lockstep SDK).
const ENCRYPTED: &str = "binary/encrypted";
/// The metadata key naming the encryption key.
const KEY_ID: &str = "encryption-key-id";

/// `--input` values as payloads: each must be JSON, and becomes one `json/plain` payload,
/// then goes through the codec when one is configured.
pub(crate) async fn inputs(ctx: &Context, inputs: &[String]) -> anyhow::Result<Option<Payloads>> {
    if inputs.is_empty() {
        return Ok(None);
    }
    let mut payloads = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            json_payload(input).with_context(|| format!("--input #{}", index + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(codec) = &ctx.codec {
        payloads = codec.encode(payloads).await?;
    }
    Ok(Some(Payloads { payloads }))
}

/// One `json/plain` payload holding `input` as given (after checking it is JSON).
fn json_payload(input: &str) -> anyhow::Result<Payload> {
    serde_json::from_str::<Value>(input)
        .with_context(|| format!("{input:?} is not JSON (a string needs quotes: '\"text\"')"))?;
    Ok(Payload {
        metadata: [(ENCODING.to_string(), JSON_PLAIN.as_bytes().to_vec())].into(),
        data: input.trim().as_bytes().to_vec(),
        ..Default::default()
    })
}

/// What a payload holds, as far as the CLI can tell without keys.
enum Shown<'a> {
    Json(Value),
    Encrypted {
        key_id: String,
    },
    Null,
    Binary {
        bytes: usize,
        encoding: Option<&'a str>,
    },
}

fn classify(payload: &Payload) -> Shown<'_> {
    let encoding = payload
        .metadata
        .get(ENCODING)
        .and_then(|e| std::str::from_utf8(e).ok());
    match encoding {
        Some(JSON_PLAIN | JSON_PROTOBUF) => match serde_json::from_slice(&payload.data) {
            Ok(value) => Shown::Json(value),
            Err(_) => Shown::Binary {
                bytes: payload.data.len(),
                encoding,
            },
        },
        Some(BINARY_NULL) => Shown::Null,
        Some(e) if e.starts_with(ENCRYPTED) || payload.metadata.contains_key(KEY_ID) => {
            Shown::Encrypted {
                key_id: payload
                    .metadata
                    .get(KEY_ID)
                    .map(|id| clean(&String::from_utf8_lossy(id)))
                    .unwrap_or_else(|| "unknown".into()),
            }
        }
        _ => Shown::Binary {
            bytes: payload.data.len(),
            encoding,
        },
    }
}

/// One payload for people: compact JSON, `encrypted (key id K)`, or `<binary, N bytes>`.
pub(crate) fn text(payload: &Payload) -> String {
    match classify(payload) {
        // Compact JSON escapes control characters, so it is safe on a terminal.
        Shown::Json(value) => value.to_string(),
        Shown::Encrypted { key_id } => format!("encrypted (key id {key_id})"),
        Shown::Null => "null".into(),
        Shown::Binary { bytes, .. } => format!("<binary, {bytes} bytes>"),
    }
}

/// Several payloads for people: one value as itself, several as `[a, b]`, none as `-`.
pub(crate) fn list_text(payloads: Option<&Payloads>) -> String {
    let list = payloads.map_or(&[][..], |p| &p.payloads[..]);
    match list {
        [] => "-".into(),
        [one] => text(one),
        many => format!("[{}]", many.iter().map(text).collect::<Vec<_>>().join(", ")),
    }
}

/// One payload for JSON output: its value when it is JSON (the `temporal` CLI's "shorthand
/// payloads"), else its proto3 JSON form (metadata and data in base64) with a readable `_shown`.
pub(crate) fn json(payload: &Payload) -> Value {
    match classify(payload) {
        Shown::Json(value) => value,
        Shown::Null => Value::Null,
        shown => {
            let metadata: Map<String, Value> = payload
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(BASE64.encode(v))))
                .collect();
            let summary = match shown {
                Shown::Encrypted { key_id } => format!("encrypted (key id {key_id})"),
                Shown::Binary { bytes, encoding } => match encoding {
                    Some(encoding) => format!("<binary, {bytes} bytes, {}>", clean(encoding)),
                    None => format!("<binary, {bytes} bytes>"),
                },
                Shown::Json(_) | Shown::Null => String::new(),
            };
            json!({
                "metadata": metadata,
                "data": BASE64.encode(&payload.data),
                "_shown": summary,
            })
        }
    }
}

/// Several payloads for JSON output: always an array (null when absent).
pub(crate) fn list_json(payloads: Option<&Payloads>) -> Value {
    match payloads {
        Some(p) => Value::Array(p.payloads.iter().map(json).collect()),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(encoding: &str, data: &[u8]) -> Payload {
        Payload {
            metadata: [(ENCODING.to_string(), encoding.as_bytes().to_vec())].into(),
            data: data.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn inputs_must_be_json() {
        let p = json_payload(" {\"a\": 1} ").unwrap();
        assert_eq!(p.data, b"{\"a\": 1}");
        assert_eq!(p.metadata[ENCODING], b"json/plain");
        assert!(json_payload("world").is_err());
    }

    #[test]
    fn payloads_are_never_shown_raw() {
        assert_eq!(text(&payload("json/plain", b" \"hi\" ")), "\"hi\"");
        let mut sealed = payload("binary/encrypted", b"\x00\xff\x1b[2J");
        sealed.metadata.insert(KEY_ID.into(), b"key-2024".to_vec());
        assert_eq!(text(&sealed), "encrypted (key id key-2024)");
        assert_eq!(
            text(&payload("binary/encrypted", b"x")),
            "encrypted (key id unknown)"
        );
        assert_eq!(
            text(&payload("binary/plain", b"\x1b[2J")),
            "<binary, 4 bytes>"
        );
        assert_eq!(text(&payload("json/plain", b"\xff")), "<binary, 1 bytes>");
        assert_eq!(text(&payload("binary/null", b"")), "null");
        assert_eq!(text(&Payload::default()), "<binary, 0 bytes>");
        assert_eq!(json(&sealed)["_shown"], "encrypted (key id key-2024)");
        assert_eq!(json(&payload("json/plain", b"[1,2]")), json!([1, 2]));
    }

    #[test]
    fn lists() {
        let two = Payloads {
            payloads: vec![payload("json/plain", b"1"), payload("json/plain", b"\"a\"")],
        };
        assert_eq!(list_text(Some(&two)), "[1, \"a\"]");
        assert_eq!(list_text(None), "-");
        assert_eq!(list_json(Some(&two)), json!([1, "a"]));
    }
}
