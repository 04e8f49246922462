//! The remote codec (`--codec-endpoint`), as the `temporal` CLI uses it: `POST {endpoint}/encode`
//! before payloads leave, `POST {endpoint}/decode` before they are shown. Bodies are the proto3
//! JSON of `Payloads` (`{"payloads":[{"metadata":{k:base64},"data":base64}]}`); `{namespace}`
//! in the endpoint is substituted; `X-Namespace` names the namespace; `--codec-auth` is sent
//! verbatim as `Authorization` and never printed.

use std::{collections::HashMap, path::PathBuf};

use anyhow::Context as _;
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use clap::Args;
use http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use serde_json::{Value, json};
use temporalio_protos::temporal::api::common::v1::Payload;

use super::{https::HttpsClient, output::clean};

/// Codec options (names and environment variables as in `temporal options`).
#[derive(Args)]
#[command(next_help_heading = "Codec options")]
pub(crate) struct CodecArgs {
    /// Remote codec endpoint (https://…; `{namespace}` is replaced by the namespace). Payloads
    /// are encoded through it before they are sent and decoded through it for display.
    #[arg(
        long,
        env = "TEMPORAL_CODEC_ENDPOINT",
        value_name = "URL",
        global = true
    )]
    codec_endpoint: Option<String>,
    /// Authorization header value for codec requests, sent verbatim (e.g. "Bearer …").
    #[arg(
        long,
        env = "TEMPORAL_CODEC_AUTH",
        value_name = "VALUE",
        hide_env_values = true,
        global = true
    )]
    codec_auth: Option<String>,
    /// More HTTP headers for codec requests (repeatable).
    #[arg(long = "codec-header", value_name = "KEY=VALUE", global = true)]
    codec_headers: Vec<String>,
    /// A CA certificate (PEM) to trust for the codec endpoint, besides the system roots.
    #[arg(
        long,
        env = "LOCKSTEP_CODEC_CA_PATH",
        value_name = "PATH",
        global = true
    )]
    codec_ca_path: Option<PathBuf>,
}

/// A configured codec endpoint.
pub(crate) struct Codec {
    client: HttpsClient,
    /// The endpoint with `{namespace}` substituted and no trailing slash.
    base: String,
    headers: HeaderMap,
}

impl Codec {
    /// The codec of `args` for `namespace`, or None without `--codec-endpoint`.
    pub(crate) fn from_args(args: &CodecArgs, namespace: &str) -> anyhow::Result<Option<Self>> {
        let Some(endpoint) = args.codec_endpoint.as_deref().filter(|e| !e.is_empty()) else {
            return Ok(None);
        };
        let base = endpoint
            .replace("{namespace}", namespace)
            .trim_end_matches('/')
            .to_string();
        let uri: Uri = base
            .parse()
            .with_context(|| format!("--codec-endpoint {endpoint:?} is not a URL"))?;
        if uri.scheme_str() != Some("https") || uri.host().is_none() {
            anyhow::bail!(
                "--codec-endpoint must be an https:// URL (decoded payloads travel on it), \
                 not {endpoint:?}"
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            HeaderName::from_static("x-namespace"),
            HeaderValue::from_str(namespace).context("the namespace is not a valid header")?,
        );
        if let Some(auth) = &args.codec_auth {
            let mut value = HeaderValue::from_str(auth)
                .map_err(|_| anyhow::anyhow!("--codec-auth holds characters a header cannot"))?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        for pair in &args.codec_headers {
            let (name, value) = pair
                .split_once('=')
                .with_context(|| format!("--codec-header {pair:?} is not KEY=VALUE"))?;
            headers.append(
                HeaderName::from_bytes(name.trim().as_bytes())
                    .with_context(|| format!("--codec-header: {name:?} is not a header name"))?,
                HeaderValue::from_str(value)
                    .with_context(|| format!("--codec-header {name}: invalid value"))?,
            );
        }
        Ok(Some(Self {
            client: HttpsClient::new(args.codec_ca_path.as_deref())?,
            base,
            headers,
        }))
    }

    /// Encodes payloads before they are sent.
    pub(crate) async fn encode(&self, payloads: Vec<Payload>) -> anyhow::Result<Vec<Payload>> {
        self.call("encode", payloads).await
    }

    /// Decodes payloads for display.
    pub(crate) async fn decode(&self, payloads: Vec<Payload>) -> anyhow::Result<Vec<Payload>> {
        self.call("decode", payloads).await
    }

    async fn call(&self, operation: &str, payloads: Vec<Payload>) -> anyhow::Result<Vec<Payload>> {
        if payloads.is_empty() {
            return Ok(payloads);
        }
        let url = format!("{}/{operation}", self.base);
        let uri: Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
        let body = serde_json::to_vec(&to_json(&payloads)).context("encoding the request")?;
        let response = self
            .client
            .post(&uri, self.headers.clone(), body)
            .await
            .with_context(|| format!("codec {operation} at {url} failed"))?;
        if !response.status.is_success() {
            let text = String::from_utf8_lossy(&response.body);
            let text: String = clean(text.trim()).chars().take(300).collect();
            anyhow::bail!(
                "codec {operation} at {url} answered {}: {text}",
                response.status
            );
        }
        let value: Value = serde_json::from_slice(&response.body)
            .with_context(|| format!("codec {operation} at {url} answered something not JSON"))?;
        let decoded = from_json(&value)
            .with_context(|| format!("codec {operation} at {url} answered malformed payloads"))?;
        if decoded.len() != payloads.len() {
            anyhow::bail!(
                "codec {operation} at {url} answered {} payloads for {}",
                decoded.len(),
                payloads.len()
            );
        }
        Ok(decoded)
    }
}

/// `{"payloads":[{"metadata":{k:base64},"data":base64}]}`.
fn to_json(payloads: &[Payload]) -> Value {
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

/// The inverse of [`to_json`]; absent fields are empty, as in proto3 JSON.
fn from_json(value: &Value) -> anyhow::Result<Vec<Payload>> {
    let Some(list) = value.get("payloads") else {
        return Ok(Vec::new());
    };
    let list = list.as_array().context("\"payloads\" is not an array")?;
    list.iter()
        .map(|item| {
            let bytes = |value: &Value| -> anyhow::Result<Vec<u8>> {
                let text = value.as_str().context("a value is not a base64 string")?;
                BASE64.decode(text).context("a value is not base64")
            };
            let mut metadata = HashMap::new();
            if let Some(map) = item.get("metadata") {
                for (key, value) in map.as_object().context("\"metadata\" is not an object")? {
                    metadata.insert(key.clone(), bytes(value)?);
                }
            }
            let data = match item.get("data") {
                Some(data) => bytes(data)?,
                None => Vec::new(),
            };
            Ok(Payload {
                metadata,
                data,
                ..Default::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_through_the_wire_json() {
        let payloads = vec![
            Payload {
                metadata: HashMap::from([("encoding".into(), b"json/plain".to_vec())]),
                data: b"\"hi\"".to_vec(),
                ..Default::default()
            },
            Payload::default(),
        ];
        let value = to_json(&payloads);
        assert_eq!(
            value["payloads"][0]["metadata"]["encoding"],
            BASE64.encode("json/plain")
        );
        assert_eq!(from_json(&value).unwrap(), payloads);
        assert!(from_json(&json!({"payloads":[{"data":"%%"}]})).is_err());
    }

    #[test]
    fn endpoints_must_be_https_and_get_the_namespace() {
        let args = |endpoint: &str| CodecArgs {
            codec_endpoint: Some(endpoint.into()),
            codec_auth: Some("Bearer t".into()),
            codec_headers: vec!["X-Extra=1".into()],
            codec_ca_path: None,
        };
        let codec = Codec::from_args(&args("https://codec.local/{namespace}/"), "orders")
            .unwrap()
            .unwrap();
        assert_eq!(codec.base, "https://codec.local/orders");
        assert_eq!(codec.headers["x-namespace"], "orders");
        assert_eq!(codec.headers["x-extra"], "1");
        assert!(codec.headers["authorization"].is_sensitive());
        assert!(Codec::from_args(&args("http://codec.local"), "ns").is_err());
    }
}
