//! The AES-256-GCM payload codec, in two formats (both in `docs/codec-format.md`):
//!
//! - **Sample format** (the default), byte-compatible with Temporal's encryption samples in Go,
//!   Python and TypeScript: metadata `encoding = binary/encrypted`, `encryption-key-id = <id>`;
//!   data = 12-byte random nonce ‖ ciphertext ‖ 16-byte tag, over the protobuf serialization of
//!   the whole inner Payload, with no associated data.
//! - **Hardened format** (opt-in): the same, plus metadata `encryption-binding = namespace-v1`
//!   and `encryption-namespace = <namespace>`, and the namespace and key id bound as associated
//!   data, so a ciphertext copied into another namespace fails to decrypt.
//!
//! Decoding passes payloads that are not `binary/encrypted` through unchanged.

use std::collections::HashMap;

use futures::{FutureExt, future::BoxFuture};
use prost::Message;
use temporalio_common::{
    data_converters::{PayloadCodec, PayloadConversionError, SerializationContextData},
    protos::temporal::api::common::v1::Payload,
};
use zeroize::Zeroizing;

use super::{
    BINDING_NAMESPACE_V1, ENCODING_ENCRYPTED, METADATA_BINDING, METADATA_ENCODING, METADATA_KEY_ID,
    METADATA_NAMESPACE,
    aead::{self, NONCE_LEN, OpenError, TAG_LEN},
};
use crate::{error::CodecError, keys::Keys};

/// The fixed prefix of the hardened format's associated data (see [`associated_data`]).
const AAD_CONTEXT: &[u8] = b"lockstep-codec/namespace-v1\0";

/// The AES-256-GCM codec. Encrypts every payload with the active key of its [`Keys`]; decrypts
/// with whichever key the payload names.
#[derive(Clone, Debug)]
pub struct EncryptionCodec {
    keys: Keys,
    /// The namespace whose payloads this codec serves; required to read hardened payloads.
    namespace: Option<String>,
    /// Whether encoding binds the namespace (hardened format).
    bind: bool,
    /// Whether decoding accepts unbound (sample-format) payloads.
    accept_unbound: bool,
}

impl EncryptionCodec {
    /// The sample format: interoperates with Temporal's encryption samples in other languages.
    pub fn new(keys: Keys) -> Self {
        Self {
            keys,
            namespace: None,
            bind: false,
            accept_unbound: true,
        }
    }

    /// The hardened format for `namespace`: payloads are bound to the namespace and refused
    /// anywhere else, and unbound (sample-format) payloads are refused on decode unless
    /// [`EncryptionCodec::accept_unbound`] allows them.
    pub fn hardened(keys: Keys, namespace: impl Into<String>) -> Self {
        Self {
            keys,
            namespace: Some(namespace.into()),
            bind: true,
            accept_unbound: false,
        }
    }

    /// Names the namespace this codec serves without binding new payloads to it: a
    /// sample-format codec can then still read hardened payloads of that namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Whether a hardened codec still decodes unbound (sample-format) payloads, e.g. while
    /// workflows started before switching to the hardened format finish. Off by default for
    /// hardened codecs: otherwise a sample-format ciphertext from another namespace that
    /// shares the key would be accepted.
    pub fn accept_unbound(mut self, accept: bool) -> Self {
        self.accept_unbound = accept;
        self
    }

    /// Whether new payloads are bound to the namespace.
    pub fn is_hardened(&self) -> bool {
        self.bind
    }

    /// The keys this codec uses.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Encrypts one payload with the active key.
    pub fn encode_payload(&self, payload: &Payload) -> Result<Payload, CodecError> {
        let ring = self.keys.ring();
        let (key_id, key) = ring.active();
        let plaintext = Zeroizing::new(payload.encode_to_vec());
        let nonce =
            aead::random_nonce().map_err(|e| CodecError::Key(crate::KeyError::Random(e)))?;
        let mut metadata = HashMap::from([
            (METADATA_ENCODING.to_string(), ENCODING_ENCRYPTED.into()),
            (METADATA_KEY_ID.to_string(), key_id.as_str().into()),
        ]);
        let aad = match (&self.namespace, self.bind) {
            (Some(namespace), true) => {
                metadata.insert(METADATA_BINDING.to_string(), BINDING_NAMESPACE_V1.into());
                metadata.insert(
                    METADATA_NAMESPACE.to_string(),
                    namespace.as_bytes().to_vec(),
                );
                associated_data(namespace, key_id.as_str())
            }
            _ => Vec::new(),
        };
        let mut data = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&aead::seal(key, &nonce, &aad, &plaintext));
        Ok(Payload {
            metadata,
            data,
            ..Default::default()
        })
    }

    /// Decrypts one payload, or passes it through if it is not `binary/encrypted`.
    pub async fn decode_payload(&self, payload: Payload) -> Result<Payload, CodecError> {
        let encoding = payload.metadata.get(METADATA_ENCODING).map(Vec::as_slice);
        if encoding != Some(ENCODING_ENCRYPTED.as_bytes()) {
            return Ok(payload);
        }
        let key_id = payload
            .metadata
            .get(METADATA_KEY_ID)
            .ok_or(CodecError::MissingKeyId)?;
        let Ok(key_id) = std::str::from_utf8(key_id) else {
            return Err(CodecError::UnknownKey {
                key_id: String::from_utf8_lossy(key_id).into_owned(),
            });
        };
        let aad = self.expected_associated_data(&payload, key_id)?;
        let namespace_bound = !aad.is_empty();
        let min = NONCE_LEN + TAG_LEN;
        if payload.data.len() < min {
            return Err(CodecError::Truncated {
                len: payload.data.len(),
                min,
            });
        }
        let key = self.keys.decryption_key(key_id).await?;
        let (nonce, sealed) = payload.data.split_at(NONCE_LEN);
        let plaintext =
            Zeroizing::new(
                aead::open(&key, nonce, &aad, sealed).map_err(|error| match error {
                    OpenError::Authentication | OpenError::NonceLength | OpenError::Truncated => {
                        CodecError::Authentication {
                            key_id: key_id.to_string(),
                            namespace_bound,
                        }
                    }
                })?,
            );
        Payload::decode(plaintext.as_slice()).map_err(|e| CodecError::InvalidInnerPayload {
            reason: e.to_string(),
        })
    }

    /// The associated data a payload must have been sealed with, after checking its binding
    /// against this codec's configuration; empty for unbound payloads.
    fn expected_associated_data(
        &self,
        payload: &Payload,
        key_id: &str,
    ) -> Result<Vec<u8>, CodecError> {
        let Some(binding) = payload.metadata.get(METADATA_BINDING) else {
            if self.bind && !self.accept_unbound {
                return Err(CodecError::Unbound);
            }
            return Ok(Vec::new());
        };
        if binding.as_slice() != BINDING_NAMESPACE_V1.as_bytes() {
            return Err(CodecError::UnsupportedBinding {
                value: String::from_utf8_lossy(binding).into_owned(),
                known: BINDING_NAMESPACE_V1,
            });
        }
        let payload_namespace = payload
            .metadata
            .get(METADATA_NAMESPACE)
            .map(|ns| String::from_utf8_lossy(ns).into_owned());
        let Some(namespace) = &self.namespace else {
            return Err(CodecError::NoNamespace {
                payload_namespace: payload_namespace.unwrap_or_default(),
            });
        };
        // The recorded namespace only makes the error clear; the associated data (built from
        // this codec's own namespace) is what enforces the binding.
        if let Some(payload_namespace) = payload_namespace
            && payload_namespace != *namespace
        {
            return Err(CodecError::WrongNamespace {
                payload_namespace,
                codec_namespace: namespace.clone(),
            });
        }
        Ok(associated_data(namespace, key_id))
    }
}

/// The hardened format's associated data: `"lockstep-codec/namespace-v1\0"`, then the namespace
/// and the key id, each as a 4-byte big-endian length and its UTF-8 bytes.
pub(crate) fn associated_data(namespace: &str, key_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_CONTEXT.len() + 8 + namespace.len() + key_id.len());
    aad.extend_from_slice(AAD_CONTEXT);
    for field in [namespace.as_bytes(), key_id.as_bytes()] {
        // Namespaces and key ids are far shorter than 4 GiB; saturate rather than wrap.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(field);
    }
    aad
}

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let encoded = payloads
            .iter()
            .map(|payload| self.encode_payload(payload))
            .collect::<Result<Vec<_>, _>>()
            .map_err(conversion_error);
        futures::future::ready(encoded).boxed()
    }

    fn decode(
        &self,
        _: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let codec = self.clone();
        async move {
            let mut decoded = Vec::with_capacity(payloads.len());
            for payload in payloads {
                decoded.push(
                    codec
                        .decode_payload(payload)
                        .await
                        .map_err(conversion_error)?,
                );
            }
            Ok(decoded)
        }
        .boxed()
    }
}

/// A codec error as the SDK's conversion error.
pub(crate) fn conversion_error(error: CodecError) -> PayloadConversionError {
    PayloadConversionError::EncodingError(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Key, KeyId, KeyRing};

    fn keys(id: &str, byte: u8) -> Keys {
        Keys::new(KeyRing::new(
            KeyId::new(id).unwrap(),
            Key::from_bytes(&[byte; 32]).unwrap(),
        ))
    }

    fn json(text: &str) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: text.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn sample_format_round_trip() {
        let codec = EncryptionCodec::new(keys("test-key-id", 1));
        let encoded = codec.encode_payload(&json("\"secret\"")).unwrap();
        assert_eq!(encoded.metadata.len(), 2);
        assert_eq!(encoded.metadata[METADATA_ENCODING], b"binary/encrypted");
        assert_eq!(encoded.metadata[METADATA_KEY_ID], b"test-key-id");
        assert!(!encoded.data.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            codec.decode_payload(encoded).await.unwrap(),
            json("\"secret\"")
        );
    }

    #[tokio::test]
    async fn nonces_are_fresh() {
        let codec = EncryptionCodec::new(keys("k", 1));
        let a = codec.encode_payload(&json("1")).unwrap();
        let b = codec.encode_payload(&json("1")).unwrap();
        assert_ne!(a.data[..NONCE_LEN], b.data[..NONCE_LEN]);
    }

    #[test]
    fn associated_data_is_length_prefixed() {
        assert_ne!(associated_data("ab", "c"), associated_data("a", "bc"));
        let aad = associated_data("ns", "k1");
        assert_eq!(
            aad,
            [AAD_CONTEXT, &[0, 0, 0, 2], b"ns", &[0, 0, 0, 2], b"k1"].concat()
        );
    }
}
