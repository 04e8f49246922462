//! The errors of this crate, one enum per layer: [`KeyError`] (keys and key providers),
//! [`CodecError`] (encoding and decoding payloads) and [`ConnectError`] (the secure connection).
//!
//! Messages name the cause and what to do about it; none ever contains key material or payload
//! data (key ids, namespaces, lengths and file paths are not secret).

use std::path::PathBuf;

/// Why a key, key ring or key provider could not be used. Configuration errors: fatal until the
/// configuration is fixed, except [`KeyError::Provider`], which a provider may return for a
/// transient outage (retry later).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key is not exactly 32 bytes (AES-256).
    #[error("an AES-256 key is 32 bytes, this one is {len} bytes")]
    WrongLength {
        /// The length that was given.
        len: usize,
    },
    /// A key is not valid base64.
    #[error("a key must be 32 bytes in standard base64 (e.g. `openssl rand -base64 32`): {reason}")]
    NotBase64 {
        /// What the base64 decoder said (never the key text).
        reason: String,
    },
    /// A key id is empty, too long, or holds characters outside visible ASCII (or a comma).
    #[error(
        "invalid key id {id:?}: use 1 to {max} visible ASCII characters, no spaces or commas",
        max = crate::keys::MAX_KEY_ID_LEN
    )]
    InvalidKeyId {
        /// The rejected id.
        id: String,
    },
    /// The same key id was given twice with different key material.
    #[error("key id {id:?} is given twice with different keys; key ids must be unique")]
    DuplicateKeyId {
        /// The repeated id.
        id: String,
    },
    /// The active key id names no key of the ring.
    #[error("the active key {id:?} is not in the key ring (known ids: {known})")]
    UnknownActiveKey {
        /// The active id asked for.
        id: String,
        /// The ids the ring holds, comma-separated.
        known: String,
    },
    /// A key ring would have no key.
    #[error("the key ring is empty: give at least one key")]
    Empty,
    /// A key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file may be read by other users.
    #[error(
        "key file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`",
        path = path.display()
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file or key list is malformed.
    #[error("invalid key configuration in {source_name}: {reason}")]
    Invalid {
        /// Where the configuration came from (a file path or an environment variable name).
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// An environment variable holding keys is not set.
    #[error("environment variable {name} is not set (expected `id:base64key[,id:base64key…]`)")]
    MissingEnv {
        /// The variable.
        name: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
    /// A key provider (KMS, Vault, …) failed; possibly transient.
    #[error("key provider failed: {0}")]
    Provider(Box<dyn std::error::Error + Send + Sync>),
}

impl KeyError {
    /// A provider failure, for [`crate::KeyProvider`] implementations wrapping a KMS or Vault
    /// client: `KeyError::provider(vault_error)`.
    pub fn provider(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Provider(error.into())
    }
}

/// Why a payload could not be encoded or decoded. Every variant is permanent for the payload at
/// hand (retrying the same bytes with the same keys gives the same answer), except
/// [`CodecError::Key`] with a provider outage. Decoding never returns partial or garbage output:
/// it fails with one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// An encrypted payload carries no `encryption-key-id` metadata.
    #[error("encrypted payload has no `encryption-key-id` metadata: it cannot be decrypted")]
    MissingKeyId,
    /// The payload's key id names no key this codec knows (nor its provider).
    #[error(
        "encrypted payload uses key id {key_id:?}, which is not in the key ring: add that key \
         (keep old keys until every workflow encrypted with them has finished)"
    )]
    UnknownKey {
        /// The key id from the payload (lossily decoded if it was not UTF-8).
        key_id: String,
    },
    /// The payload's data is shorter than a nonce plus a tag.
    #[error(
        "encrypted payload is truncated: {len} bytes of data, but nonce and tag alone take \
         {min} bytes"
    )]
    Truncated {
        /// The data length.
        len: usize,
        /// The minimum length (12-byte nonce + 16-byte tag).
        min: usize,
    },
    /// AES-GCM rejected the ciphertext: it was modified, or encrypted under another key (or,
    /// for namespace-bound payloads, for another namespace).
    #[error(
        "decryption with key {key_id:?} failed authentication: the ciphertext was tampered \
         with or corrupted, or encrypted with a different key{bound}",
        bound = if *namespace_bound { " or for a different namespace" } else { "" }
    )]
    Authentication {
        /// The key id that was tried.
        key_id: String,
        /// Whether the payload was namespace-bound (hardened format).
        namespace_bound: bool,
    },
    /// A namespace-bound payload names another namespace than this codec's.
    #[error(
        "payload is bound to namespace {payload_namespace:?} but is being decoded in namespace \
         {codec_namespace:?}: it was copied between namespaces and is refused"
    )]
    WrongNamespace {
        /// The namespace recorded in the payload.
        payload_namespace: String,
        /// The namespace this codec serves.
        codec_namespace: String,
    },
    /// A namespace-bound payload reached a codec that has no namespace configured.
    #[error(
        "payload is bound to namespace {payload_namespace:?} (hardened format), but this codec \
         has no namespace: build it with `EncryptionCodec::hardened`"
    )]
    NoNamespace {
        /// The namespace recorded in the payload.
        payload_namespace: String,
    },
    /// A hardened codec received a payload in the unbound sample format and is not configured
    /// to accept those.
    #[error(
        "payload is encrypted without namespace binding (sample format) but this codec requires \
         namespace-bound payloads; allow them during a migration with `accept_unbound(true)`"
    )]
    Unbound,
    /// The payload's binding marker has a version this codec does not know.
    #[error("payload has unsupported `encryption-binding` {value:?} (this codec reads {known:?})")]
    UnsupportedBinding {
        /// The marker found.
        value: String,
        /// The marker this codec understands.
        known: &'static str,
    },
    /// The decrypted (or decompressed) bytes are not a serialized Payload.
    #[error("decoded bytes are not a serialized temporal.api.common.v1.Payload: {reason}")]
    InvalidInnerPayload {
        /// The protobuf decoder's message.
        reason: String,
    },
    /// A `binary/zlib` payload is not valid zlib data.
    #[error("compressed payload is not valid zlib data: {reason}")]
    Decompress {
        /// The decompressor's message.
        reason: String,
    },
    /// A compressed payload would decompress to more than the configured limit.
    #[error(
        "compressed payload expands past the {limit}-byte limit and is refused (possible \
         decompression bomb)"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Compression failed.
    #[error("compressing a payload failed: {0}")]
    Compress(String),
    /// The key for a payload could not be obtained.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Why [`crate::connect`] could not return a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The address asks for plaintext (`http://`) or another scheme; only TLS is allowed.
    #[error(
        "refusing to connect to {address:?} without TLS: Lockstep is mTLS only; give \
         `host:port` or an `https://` URL"
    )]
    Plaintext {
        /// The address given.
        address: String,
    },
    /// The address is not a valid `host:port` or URL.
    #[error("invalid server address {address:?}: {reason}")]
    InvalidAddress {
        /// The address given.
        address: String,
        /// What is wrong.
        reason: String,
    },
    /// A TLS file (CA, client certificate or key) could not be read or parsed.
    #[error("TLS file {path}: {reason}", path = path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The official client could not connect (handshake refused, server down, …).
    #[error("connecting to {address}: {source}")]
    Connect {
        /// The URL dialled.
        address: String,
        /// The client's error.
        source: temporalio_client::errors::ClientConnectError,
    },
    /// The official client rejected its options.
    #[error("building the client: {0}")]
    Client(#[from] temporalio_client::errors::ClientNewError),
}
