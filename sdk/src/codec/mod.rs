//! Payload codecs for the official SDK's [`PayloadCodec`] hook: [`EncryptionCodec`]
//! (AES-256-GCM), [`ZlibCodec`] (compression), and [`CodecChain`], which runs several in the
//! order of sdk-go's `NewCodecDataConverter`.
//!
//! # Chain order
//! Codecs are listed outermost first. Encoding applies them back to front, decoding front to
//! back, so `CodecChain::new().with(encryption).with(zlib)` compresses, then encrypts, and on
//! the way back decrypts, then decompresses — exactly what sdk-go does with
//! `NewCodecDataConverter(parent, encryption, zlib)`.

mod aead;
mod encryption;
mod zlib;

use std::sync::Arc;

use futures::{FutureExt, future::BoxFuture};
use temporalio_common::{
    data_converters::{PayloadCodec, PayloadConversionError, SerializationContextData},
    protos::temporal::api::common::v1::Payload,
};

pub use encryption::EncryptionCodec;
pub use zlib::{DEFAULT_MAX_DECODED_LEN, ZlibCodec};

/// Payload metadata key naming the encoding of `data`.
pub const METADATA_ENCODING: &str = "encoding";
/// `encoding` of an encrypted payload (both formats).
pub const ENCODING_ENCRYPTED: &str = "binary/encrypted";
/// `encoding` of a zlib-compressed payload.
pub const ENCODING_ZLIB: &str = "binary/zlib";
/// Payload metadata key naming the key that encrypted it.
pub const METADATA_KEY_ID: &str = "encryption-key-id";
/// Payload metadata key marking the hardened format and its version.
pub const METADATA_BINDING: &str = "encryption-binding";
/// The value of [`METADATA_BINDING`] for the hardened format, version 1.
pub const BINDING_NAMESPACE_V1: &str = "namespace-v1";
/// Payload metadata key recording the namespace a hardened payload is bound to.
pub const METADATA_NAMESPACE: &str = "encryption-namespace";

/// Several codecs run as one, in sdk-go's order (see the [module docs](self)).
#[derive(Clone, Default)]
pub struct CodecChain {
    codecs: Vec<Arc<dyn PayloadCodec + Send + Sync>>,
}

impl CodecChain {
    /// An empty chain (passes everything through).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `codec` as the innermost codec so far: it encodes before, and decodes after,
    /// every codec already in the chain.
    pub fn with(mut self, codec: impl PayloadCodec + Send + Sync + 'static) -> Self {
        self.codecs.push(Arc::new(codec));
        self
    }

    /// How many codecs the chain holds.
    pub fn len(&self) -> usize {
        self.codecs.len()
    }

    /// Whether the chain holds no codec.
    pub fn is_empty(&self) -> bool {
        self.codecs.is_empty()
    }
}

impl std::fmt::Debug for CodecChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodecChain")
            .field("codecs", &self.codecs.len())
            .finish()
    }
}

impl PayloadCodec for CodecChain {
    fn encode(
        &self,
        context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let codecs = self.codecs.clone();
        let context = context.clone();
        async move {
            let mut payloads = payloads;
            for codec in codecs.iter().rev() {
                let count = payloads.len();
                payloads = codec.encode(&context, payloads).await?;
                check_count(count, payloads.len())?;
            }
            Ok(payloads)
        }
        .boxed()
    }

    fn decode(
        &self,
        context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let codecs = self.codecs.clone();
        let context = context.clone();
        async move {
            let mut payloads = payloads;
            for codec in codecs.iter() {
                let count = payloads.len();
                payloads = codec.decode(&context, payloads).await?;
                check_count(count, payloads.len())?;
            }
            Ok(payloads)
        }
        .boxed()
    }
}

/// A codec must return as many payloads as it was given (the SDK pairs them up by position).
fn check_count(given: usize, returned: usize) -> Result<(), PayloadConversionError> {
    if given == returned {
        return Ok(());
    }
    Err(PayloadConversionError::EncodingError(
        format!("a codec of the chain returned {returned} payloads for {given}").into(),
    ))
}
