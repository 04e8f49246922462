//! The remote-codec body: proto3 JSON of `temporal.api.common.v1.Payloads`.
//!
//! `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`. Parsing follows the
//! proto3 JSON mapping: bytes are base64 (standard or URL-safe, padded or not), `null` means the
//! default, both the JSON name (`externalPayloads`) and the proto name (`external_payloads`) are
//! accepted, unknown fields are refused (as Go's `protojson` does). Output uses standard padded
//! base64 and always writes `metadata` and `data`, which every client reads.

use std::collections::HashMap;

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD},
};
use serde::{Deserialize, Serialize};
use temporalio_protos::temporal::api::common::v1::{Payload, payload::ExternalPayloadDetails};

/// Why a body is not a valid `Payloads` message. The message names the field, never its value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct WireError(String);

/// Parses a request body into payloads.
pub(crate) fn parse_payloads(body: &[u8]) -> Result<Vec<Payload>, WireError> {
    let parsed: PayloadsJson = serde_json::from_slice(body).map_err(|err| {
        // serde_json's own messages may quote the input (`invalid type: string "…"`), which can
        // be plaintext: say only what kind of error and where.
        let what = match err.classify() {
            serde_json::error::Category::Io | serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Data => "JSON, but not a Payloads message",
        };
        WireError(format!(
            "the body is {what} (line {}, column {})",
            err.line(),
            err.column()
        ))
    })?;
    parsed
        .payloads
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, payload)| payload.into_payload(index))
        .collect()
}

/// Writes payloads as a response body.
pub(crate) fn write_payloads(payloads: &[Payload]) -> Vec<u8> {
    let out = PayloadsOut {
        payloads: payloads.iter().map(PayloadOut::from).collect(),
    };
    // Serialising strings and maps into a Vec cannot fail.
    serde_json::to_vec(&out).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadsJson {
    #[serde(default)]
    payloads: Option<Vec<PayloadJson>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadJson {
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default, rename = "externalPayloads", alias = "external_payloads")]
    external_payloads: Option<Vec<ExternalJson>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalJson {
    #[serde(default, rename = "sizeBytes", alias = "size_bytes")]
    size_bytes: Option<Int64Json>,
}

/// proto3 JSON writes int64 as a string and accepts a number too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Int64Json {
    Number(i64),
    Text(String),
}

impl PayloadJson {
    fn into_payload(self, index: usize) -> Result<Payload, WireError> {
        let mut metadata = HashMap::new();
        for (key, value) in self.metadata.unwrap_or_default() {
            let bytes = decode_base64(&value).ok_or_else(|| {
                WireError(format!("payload #{index}: a metadata value is not base64"))
            })?;
            metadata.insert(key, bytes);
        }
        let data = match self.data {
            Some(text) => decode_base64(&text)
                .ok_or_else(|| WireError(format!("payload #{index}: data is not base64")))?,
            None => Vec::new(),
        };
        let external_payloads = self
            .external_payloads
            .unwrap_or_default()
            .into_iter()
            .map(|ext| {
                let size_bytes = match ext.size_bytes {
                    None => 0,
                    Some(Int64Json::Number(n)) => n,
                    Some(Int64Json::Text(text)) => text.parse().map_err(|_| {
                        WireError(format!(
                            "payload #{index}: externalPayloads.sizeBytes is not an integer"
                        ))
                    })?,
                };
                Ok(ExternalPayloadDetails { size_bytes })
            })
            .collect::<Result<_, WireError>>()?;
        Ok(Payload {
            metadata,
            data,
            external_payloads,
        })
    }
}

#[derive(Serialize)]
struct PayloadsOut {
    payloads: Vec<PayloadOut>,
}

#[derive(Serialize)]
struct PayloadOut {
    metadata: std::collections::BTreeMap<String, String>,
    data: String,
    #[serde(rename = "externalPayloads", skip_serializing_if = "Vec::is_empty")]
    external_payloads: Vec<ExternalOut>,
}

#[derive(Serialize)]
struct ExternalOut {
    #[serde(rename = "sizeBytes")]
    size_bytes: String,
}

impl From<&Payload> for PayloadOut {
    fn from(payload: &Payload) -> Self {
        Self {
            metadata: payload
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), STANDARD.encode(v)))
                .collect(),
            data: STANDARD.encode(&payload.data),
            external_payloads: payload
                .external_payloads
                .iter()
                .map(|ext| ExternalOut {
                    size_bytes: ext.size_bytes.to_string(),
                })
                .collect(),
        }
    }
}

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Standard or URL-safe base64, padded or not (the proto3 JSON mapping accepts all four).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_remote_codec_body() {
        let body = br#"{"payloads":[
            {"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"IjEi"},
            {"metadata":{},"data":""},
            {},
            {"data":null,"metadata":null,"external_payloads":[{"size_bytes":7}]}
        ]}"#;
        let payloads = parse_payloads(body).unwrap();
        assert_eq!(payloads.len(), 4);
        assert_eq!(payloads[0].metadata["encoding"], b"json/plain");
        assert_eq!(payloads[0].data, b"\"1\"");
        assert!(payloads[2].data.is_empty());
        assert_eq!(payloads[3].external_payloads[0].size_bytes, 7);
        let again = parse_payloads(&write_payloads(&payloads)).unwrap();
        assert_eq!(again, payloads);
    }

    #[test]
    fn accepts_every_base64_form_proto3_allows() {
        // 0xfb 0xff: standard "+/8=", URL-safe "-_8", unpadded "+/8".
        for text in ["+/8=", "+/8", "-_8=", "-_8"] {
            let body = format!(r#"{{"payloads":[{{"data":"{text}"}}]}}"#);
            assert_eq!(
                parse_payloads(body.as_bytes()).unwrap()[0].data,
                [0xfb, 0xff]
            );
        }
    }

    #[test]
    fn refuses_malformed_bodies_without_echoing_them() {
        for body in [
            &b""[..],
            b"not json",
            br#"{"payloads":{}}"#,
            br#"{"payloads":[{"data":"SECRET-VALUE!!"}]}"#,
            br#"{"payloads":[{"metadata":{"k":5}}]}"#,
            br#"{"payloads":[],"extra":1}"#,
            br#"{"payloads":"SECRET"}"#,
            br#"{"SECRET":[]}"#,
            br#"{"payloads":[{"metadata":{"k":"SECRET"}}]}"#,
            br#"{"payloads":[{"externalPayloads":[{"sizeBytes":"x"}]}]}"#,
        ] {
            let err = parse_payloads(body).unwrap_err().to_string();
            assert!(!err.contains("SECRET"), "{err}");
        }
        assert!(parse_payloads(b"{}").unwrap().is_empty());
    }
}
