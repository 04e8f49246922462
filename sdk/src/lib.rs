//! `lockstep-sdk`: secure defaults for the official Temporal Rust SDK (`temporalio-sdk`,
//! `temporalio-client`) — an AES-256-GCM payload codec with your own keys and rotation,
//! encrypted failures, and a connection that is mutual TLS or nothing. Workflows, activities
//! and workers are the official SDK's; this crate only plugs into its hooks (`PayloadCodec`,
//! the failure converter, the client's TLS options).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use lockstep_sdk::{CodecOptions, ConnectOptions, FileKeyProvider, Keys, TlsFiles};
//!
//! let keys = Keys::load(FileKeyProvider::new("/etc/payments/keys.toml")).await?;
//! let client = lockstep_sdk::connect(ConnectOptions::new(
//!     "lockstep.internal:7233",
//!     "payments",
//!     TlsFiles::new("ca.pem", "payments-worker.pem", "payments-worker-key.pem"),
//!     CodecOptions::new(keys),
//! ))
//! .await?;
//! // `client` is a `temporalio_client::Client`: start workflows with it, or hand it to
//! // `temporalio_sdk::Worker::new` — every payload it sends is encrypted.
//! # let _ = client; Ok(()) }
//! ```
//!
//! # Layout
//! - [`keys`]: [`Key`], [`KeyId`], [`KeyRing`], the shared [`Keys`] handle, and the
//!   [`KeyProvider`]s (key file, environment, async hook for a KMS/Vault).
//! - [`codec`]: [`EncryptionCodec`] (the sample format of Temporal's encryption samples, or the
//!   hardened namespace-bound format), [`ZlibCodec`], and [`CodecChain`] (sdk-go's order).
//! - `converter`: [`CodecOptions`] → the SDK's `DataConverter`, failures encrypted by default.
//! - `connect`: [`connect`] → an official `Client` over mTLS with the codec installed.
//! - `tls`: [`ReloadingClientCert`], client certificates re-read from files at each handshake.
//! - `error`: [`KeyError`], [`CodecError`], [`ConnectError`].
//!
//! The wire formats are specified in `docs/codec-format.md` of the repository.
//!
//! # Never
//! - Never depend on `lockstep-server`: the server never holds keys, and the SDK never needs it.
//! - Never log or `Debug`-print key material; never put payload data in an error message.
//! - Never panic or return garbage on bad ciphertext: every decode failure is a [`CodecError`].
//! - Never offer a plaintext connection.

pub mod codec;
mod connect;
mod converter;
mod error;
pub mod keys;
mod tls;

pub use codec::{CodecChain, EncryptionCodec, ZlibCodec};
pub use connect::{ConnectOptions, TlsFiles, connect};
pub use converter::CodecOptions;
pub use error::{CodecError, ConnectError, KeyError};
pub use keys::{
    EnvKeyProvider, FileKeyProvider, HookKeyProvider, Key, KeyId, KeyProvider, KeyRing, Keys,
};
pub use tls::ReloadingClientCert;

/// The official SDK's payload type, as the codecs take and return it.
pub use temporalio_common::protos::temporal::api::common::v1::Payload;
