//! `lockstep-codec-server`: Temporal's remote-codec HTTP protocol (`POST …/encode`,
//! `POST …/decode`) over HTTPS, decoding payloads only for principals authorized on the
//! namespace, and recording who looked.
//!
//! A request is authenticated by its client certificate (verified against the configured CA;
//! the principal is its SPIFFE URI SAN, else its CN) or by `Authorization: Bearer <JWT>`
//! (EdDSA/ES256, issuer, audience and expiry checked; `sub` is the principal). It is authorized
//! per namespace (`X-Namespace`) by the server's policy format: `/decode` needs `reader`,
//! `/encode` needs `client`, `admin` implies both. Everything else is denied: 401 without valid
//! credentials, 403 without the role. Every request to the endpoints leaves one JSON line in the
//! audit log.
//!
//! # Layout
//! - `server`: [`CodecServer`], the TLS accept loop and graceful shutdown; [`serve`].
//! - `handler`: one request from routing to the audit line; the order of the checks.
//! - `tls`: rustls, TLS 1.3, optional but verified client certificates.
//! - `jwt`: the bearer-token verifier (EdDSA, ES256; PEM keys or JWKS).
//! - [`Policy`]: the server's TOML grant format, from the shared `lockstep-policy` crate.
//! - `cors`: the origin allowlist and preflight answers for the web UI.
//! - `rate_limit`: per-principal token buckets.
//! - `audit`: the JSON-lines audit log.
//! - `wire`: proto3 JSON of `Payloads`, the request and response bodies.
//! - `codec`: [`Codec`], the trait the keys sit behind.
//! - `keys`: [`SdkCodec`], lockstep-sdk's AES-256-GCM codec over the key source `[keys]` names.
//! - `dev_token`: [`mint_dev_token`] and [`ensure_dev_signing_key`] for development.
//! - `config`, `error`: [`CodecServerConfig`], [`CodecServerError`].
//!
//! # Never
//! - Never log or audit plaintext, payload data, keys or tokens; error messages are our own
//!   words and never quote a request.
//! - Never read a request body before its sender is authenticated and authorized.
//! - Never answer with a different number of payloads than asked for.
//! - Never depend on `lockstep-server`; never sign tokens with the CA key.

#![forbid(unsafe_code)]

mod audit;
mod codec;
mod config;
mod cors;
mod dev_token;
mod error;
mod handler;
mod jwt;
mod keys;
mod rate_limit;
mod server;
mod tls;
mod wire;

use std::future::Future;

pub use codec::{Codec, ENCRYPTION_KEY_ID};
pub use config::{
    CodecServerConfig, ConfigError, CorsConfig, JwtConfig, KeysConfig, LimitsConfig, PayloadFormat,
    TlsConfig,
};
pub use dev_token::{
    DEV_PUBLIC_KEY_FILE, DEV_SIGNING_KEY_FILE, DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER,
    DEV_TOKEN_MAX_TTL, DevTokenError, ensure_dev_signing_key, mint_dev_token,
};
pub use error::CodecServerError;
pub use jwt::{NAMESPACES_CLAIM, TokenError};
pub use keys::SdkCodec;
pub use lockstep_policy::{Policy, PolicyError, Role};
pub use server::CodecServer;
/// The payload type the [`Codec`] trait works on.
pub use temporalio_protos::temporal::api::common::v1::Payload;

/// Starts the codec server described by `config`, with lockstep-sdk's codec over the keys its
/// `[keys]` section names (re-read every `reload_secs`), and serves until `shutdown` completes.
pub async fn serve(
    config: CodecServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CodecServerError> {
    let (codec, reload) = keys::codec_from_config(&config).await?;
    let result = match CodecServer::bind(config, codec).await {
        Ok(server) => server.run(shutdown).await,
        Err(err) => Err(err),
    };
    if let Some(reload) = reload {
        reload.abort();
    }
    result
}
