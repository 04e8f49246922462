//! [`CodecOptions`]: the whole client-side data pipeline in one value — which keys, which
//! format, compression or not, failures encrypted or not — turned into the official SDK's
//! [`DataConverter`] for one namespace.
//!
//! Failure encryption (on by default) is the SDK's own `encode_common_attributes`: a failure's
//! message and stack trace move as JSON into `Failure.encoded_attributes`, a payload that the
//! codec encrypts like any other; the server sees the message "Encoded failure". The failure's
//! kind, type name, retryability and cause structure stay in clear (the server needs them).

use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadConverter,
};

use crate::{
    codec::{CodecChain, EncryptionCodec, ZlibCodec},
    keys::Keys,
};

/// How payloads are encoded: built from [`Keys`], then [`CodecOptions::data_converter`] gives
/// the SDK's `DataConverter` for a namespace ([`crate::connect`] does this for you).
///
/// Defaults: the sample format (interoperable with Temporal's encryption samples), failures
/// encrypted, no compression.
#[derive(Clone, Debug)]
pub struct CodecOptions {
    keys: Keys,
    hardened: bool,
    accept_unbound: Option<bool>,
    compression: bool,
    encrypt_failures: bool,
}

impl CodecOptions {
    /// Encryption with `keys` in the sample format, failures encrypted, no compression.
    pub fn new(keys: Keys) -> Self {
        Self {
            keys,
            hardened: false,
            accept_unbound: None,
            compression: false,
            encrypt_failures: true,
        }
    }

    /// The hardened format: payloads are bound to their namespace (see
    /// [`EncryptionCodec::hardened`]). Other-language workers using Temporal's samples cannot
    /// read hardened payloads.
    pub fn hardened(mut self, hardened: bool) -> Self {
        self.hardened = hardened;
        self
    }

    /// Whether a hardened codec still reads unbound (sample-format) payloads, for migrating a
    /// namespace to the hardened format (default: no). Sample-format codecs always do.
    pub fn accept_unbound(mut self, accept: bool) -> Self {
        self.accept_unbound = Some(accept);
        self
    }

    /// zlib compression before encryption. Off by default: the length of compressed data
    /// depends on its content, so when an attacker controls part of a payload and sees its
    /// size, compression can reveal the rest (CRIME/BREACH). Turn it on for large,
    /// repetitive payloads that hold no attacker-chosen text next to secrets.
    pub fn compression(mut self, compression: bool) -> Self {
        self.compression = compression;
        self
    }

    /// Whether failure messages and stack traces are encrypted (default: yes).
    pub fn encrypt_failures(mut self, encrypt: bool) -> Self {
        self.encrypt_failures = encrypt;
        self
    }

    /// The keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The encryption codec for `namespace`.
    pub fn encryption_codec(&self, namespace: &str) -> EncryptionCodec {
        let codec = if self.hardened {
            EncryptionCodec::hardened(self.keys.clone(), namespace)
        } else {
            EncryptionCodec::new(self.keys.clone()).namespace(namespace)
        };
        match self.accept_unbound {
            Some(accept) if self.hardened => codec.accept_unbound(accept),
            _ => codec,
        }
    }

    /// The codec chain for `namespace`: encryption, with compression inside it if enabled.
    pub fn codec(&self, namespace: &str) -> CodecChain {
        let chain = CodecChain::new().with(self.encryption_codec(namespace));
        if self.compression {
            chain.with(ZlibCodec::new())
        } else {
            chain
        }
    }

    /// The SDK's data converter for `namespace`: the default payload converter (JSON), the
    /// failure converter (encrypting failure attributes unless turned off), and [`Self::codec`].
    pub fn data_converter(&self, namespace: &str) -> DataConverter {
        DataConverter::new(
            PayloadConverter::default(),
            DefaultFailureConverter::new(self.encrypt_failures),
            self.codec(namespace),
        )
    }
}
