//! The codecs through the public API and the SDK's `PayloadCodec` hook: round trips of every
//! chain, chain order, pass-through, key rotation, failure encryption, and every way a payload
//! can be bad — each must give a clear `CodecError` naming its cause, never a panic and never
//! output.

use std::collections::HashMap;

use aes_gcm::{Aes256Gcm, KeyInit, Nonce, aead::Aead};
use lockstep_sdk::{
    CodecChain, CodecError, CodecOptions, EncryptionCodec, Key, KeyId, KeyRing, Keys, Payload,
    ZlibCodec,
    codec::{
        BINDING_NAMESPACE_V1, ENCODING_ENCRYPTED, METADATA_BINDING, METADATA_ENCODING,
        METADATA_KEY_ID, METADATA_NAMESPACE,
    },
};
use proptest::prelude::*;
use temporalio_common::{
    data_converters::{
        PayloadCodec, PayloadConversionError, SerializationContextData,
        WorkflowSerializationContext,
    },
    error::{ApplicationFailure, OutgoingError, OutgoingWorkflowError},
    payload_visitor::{decode_payloads, encode_payloads},
};

fn key(byte: u8) -> Key {
    Key::from_bytes(&[byte; 32]).unwrap()
}

fn id(text: &str) -> KeyId {
    KeyId::new(text).unwrap()
}

fn keys(name: &str, byte: u8) -> Keys {
    Keys::new(KeyRing::new(id(name), key(byte)))
}

fn json(text: &str) -> Payload {
    Payload {
        metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
        data: text.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn context() -> SerializationContextData {
    SerializationContextData::Workflow(WorkflowSerializationContext::new())
}

/// Decodes through the codec, returning the codec's own error.
async fn decode(codec: &EncryptionCodec, payload: Payload) -> Result<Payload, CodecError> {
    codec.decode_payload(payload).await
}

fn codec_error(error: PayloadConversionError) -> CodecError {
    match error {
        PayloadConversionError::EncodingError(inner) => match inner.downcast::<CodecError>() {
            Ok(error) => *error,
            Err(other) => panic!("not a CodecError: {other}"),
        },
        other => panic!("not an encoding error: {other}"),
    }
}

#[tokio::test]
async fn decoding_passes_unencrypted_payloads_through() {
    let codec = EncryptionCodec::hardened(keys("k", 1), "ns");
    for payload in [
        json("\"hello\""),
        Payload::default(),
        Payload {
            metadata: HashMap::from([("encoding".to_string(), b"binary/null".to_vec())]),
            ..Default::default()
        },
    ] {
        assert_eq!(decode(&codec, payload.clone()).await.unwrap(), payload);
    }
}

#[tokio::test]
async fn tampered_ciphertext_is_refused_with_a_clear_error() {
    let codec = EncryptionCodec::new(keys("k", 1));
    let encoded = codec.encode_payload(&json("\"pay 100 to alice\"")).unwrap();
    for position in 0..encoded.data.len() {
        for bit in [0x01, 0x80] {
            let mut tampered = encoded.clone();
            tampered.data[position] ^= bit;
            let error = decode(&codec, tampered).await.unwrap_err();
            assert!(
                matches!(&error, CodecError::Authentication { key_id, namespace_bound: false } if key_id == "k"),
                "byte {position}: {error:?}"
            );
            assert!(error.to_string().contains("tampered"), "{error}");
        }
    }
}

#[tokio::test]
async fn truncated_data_is_refused_with_a_clear_error() {
    let codec = EncryptionCodec::new(keys("k", 1));
    let encoded = codec.encode_payload(&json("\"x\"")).unwrap();
    for len in 0..encoded.data.len() {
        let mut truncated = encoded.clone();
        truncated.data.truncate(len);
        let error = decode(&codec, truncated).await.unwrap_err();
        if len < 28 {
            assert!(
                matches!(error, CodecError::Truncated { len: l, min: 28 } if l == len),
                "{len}: {error:?}"
            );
            assert!(error.to_string().contains("truncated"), "{error}");
        } else {
            assert!(
                matches!(error, CodecError::Authentication { .. }),
                "{len}: {error:?}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_and_missing_key_ids_are_named() {
    let encoded = EncryptionCodec::new(keys("old-key", 1))
        .encode_payload(&json("1"))
        .unwrap();
    let error = decode(&EncryptionCodec::new(keys("new-key", 2)), encoded.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CodecError::UnknownKey { key_id } if key_id == "old-key"),
        "{error:?}"
    );
    assert!(error.to_string().contains("\"old-key\""), "{error}");

    let mut no_id = encoded.clone();
    no_id.metadata.remove(METADATA_KEY_ID);
    let error = decode(&EncryptionCodec::new(keys("old-key", 1)), no_id)
        .await
        .unwrap_err();
    assert!(matches!(error, CodecError::MissingKeyId), "{error:?}");

    // The same id with another key: authentication fails, naming the id.
    let error = decode(&EncryptionCodec::new(keys("old-key", 9)), encoded)
        .await
        .unwrap_err();
    assert!(
        matches!(error, CodecError::Authentication { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn hardened_payloads_are_bound_to_their_namespace() {
    let shared = keys("k", 7);
    let payments = EncryptionCodec::hardened(shared.clone(), "payments");
    let marketing = EncryptionCodec::hardened(shared.clone(), "marketing");
    let encoded = payments.encode_payload(&json("\"card 4111\"")).unwrap();
    assert_eq!(
        encoded.metadata[METADATA_ENCODING],
        ENCODING_ENCRYPTED.as_bytes()
    );
    assert_eq!(
        encoded.metadata[METADATA_BINDING],
        BINDING_NAMESPACE_V1.as_bytes()
    );
    assert_eq!(encoded.metadata[METADATA_NAMESPACE], b"payments");
    assert_eq!(
        decode(&payments, encoded.clone()).await.unwrap(),
        json("\"card 4111\"")
    );

    // Copied as is into another namespace: refused by name.
    let error = decode(&marketing, encoded.clone()).await.unwrap_err();
    assert!(
        matches!(&error, CodecError::WrongNamespace { payload_namespace, codec_namespace }
            if payload_namespace == "payments" && codec_namespace == "marketing"),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("copied between namespaces"),
        "{error}"
    );

    // Copied with its recorded namespace rewritten: the associated data still refuses it.
    let mut relabelled = encoded.clone();
    relabelled
        .metadata
        .insert(METADATA_NAMESPACE.into(), b"marketing".to_vec());
    let error = decode(&marketing, relabelled).await.unwrap_err();
    assert!(
        matches!(
            error,
            CodecError::Authentication {
                namespace_bound: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("different namespace"));

    // The binding marker stripped (a downgrade to the sample format): refused.
    let mut stripped = encoded.clone();
    stripped.metadata.remove(METADATA_BINDING);
    stripped.metadata.remove(METADATA_NAMESPACE);
    let error = decode(&payments, stripped.clone()).await.unwrap_err();
    assert!(matches!(error, CodecError::Unbound), "{error:?}");
    let lenient = EncryptionCodec::hardened(shared.clone(), "payments").accept_unbound(true);
    let error = decode(&lenient, stripped).await.unwrap_err();
    assert!(
        matches!(error, CodecError::Authentication { .. }),
        "{error:?}"
    );

    // An unknown binding version.
    let mut future = encoded.clone();
    future
        .metadata
        .insert(METADATA_BINDING.into(), b"namespace-v9".to_vec());
    let error = decode(&payments, future).await.unwrap_err();
    assert!(
        matches!(error, CodecError::UnsupportedBinding { .. }),
        "{error:?}"
    );

    // A sample-format codec reads hardened payloads only when it knows its namespace.
    let error = decode(&EncryptionCodec::new(shared.clone()), encoded.clone())
        .await
        .unwrap_err();
    assert!(matches!(error, CodecError::NoNamespace { .. }), "{error:?}");
    let sample = EncryptionCodec::new(shared.clone()).namespace("payments");
    assert_eq!(
        decode(&sample, encoded).await.unwrap(),
        json("\"card 4111\"")
    );
}

#[tokio::test]
async fn hardened_codecs_refuse_sample_payloads_unless_migrating() {
    let shared = keys("k", 7);
    let sample = EncryptionCodec::new(shared.clone())
        .encode_payload(&json("1"))
        .unwrap();
    let strict = EncryptionCodec::hardened(shared.clone(), "ns");
    let error = decode(&strict, sample.clone()).await.unwrap_err();
    assert!(matches!(error, CodecError::Unbound), "{error:?}");
    assert!(error.to_string().contains("accept_unbound"), "{error}");
    let migrating = strict.accept_unbound(true);
    assert_eq!(decode(&migrating, sample).await.unwrap(), json("1"));
}

#[tokio::test]
async fn decrypted_garbage_is_an_error_not_output() {
    // Well-formed ciphertext under the right key whose plaintext is not a Payload.
    let cipher = Aes256Gcm::new((&[3u8; 32]).into());
    let nonce = [5u8; 12];
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), &[0xFF, 0xFF, 0xFF][..])
        .unwrap();
    let payload = Payload {
        metadata: HashMap::from([
            (METADATA_ENCODING.to_string(), ENCODING_ENCRYPTED.into()),
            (METADATA_KEY_ID.to_string(), b"k".to_vec()),
        ]),
        data: [&nonce[..], &sealed].concat(),
        ..Default::default()
    };
    let error = decode(&EncryptionCodec::new(keys("k", 3)), payload)
        .await
        .unwrap_err();
    assert!(
        matches!(error, CodecError::InvalidInnerPayload { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn errors_reach_the_sdk_as_encoding_errors() {
    let codec = EncryptionCodec::new(keys("k", 1));
    let mut encoded = codec.encode(&context(), vec![json("1")]).await.unwrap();
    encoded[0].data.truncate(10);
    let error = codec.decode(&context(), encoded).await.unwrap_err();
    assert!(matches!(codec_error(error), CodecError::Truncated { .. }));
}

#[tokio::test]
async fn rotation_encrypts_with_the_new_key_and_decrypts_with_both() {
    let keys = keys("a", 1);
    let codec = EncryptionCodec::new(keys.clone());
    let under_a = codec.encode_payload(&json("\"started under a\"")).unwrap();
    assert_eq!(under_a.metadata[METADATA_KEY_ID], b"a");

    let mut ring = KeyRing::clone(&keys.ring());
    ring.insert(id("b"), key(2)).unwrap();
    ring.set_active(&id("b")).unwrap();
    keys.replace(ring);

    let under_b = codec.encode_payload(&json("\"finished under b\"")).unwrap();
    assert_eq!(under_b.metadata[METADATA_KEY_ID], b"b");
    assert_eq!(
        decode(&codec, under_a.clone()).await.unwrap(),
        json("\"started under a\"")
    );
    assert_eq!(
        decode(&codec, under_b).await.unwrap(),
        json("\"finished under b\"")
    );

    // Retiring `a` too early strands what it encrypted — with an error that says so.
    let mut ring = KeyRing::clone(&keys.ring());
    ring.remove(&id("a")).unwrap();
    keys.replace(ring);
    let error = decode(&codec, under_a).await.unwrap_err();
    assert!(matches!(error, CodecError::UnknownKey { .. }), "{error:?}");
}

#[tokio::test]
async fn chains_compress_inside_encryption_in_sdk_go_order() {
    let keys = keys("k", 1);
    let chain = CodecOptions::new(keys.clone())
        .compression(true)
        .codec("ns");
    let big = json(&format!("\"{}\"", "abc".repeat(2000)));
    let encoded = chain.encode(&context(), vec![big.clone()]).await.unwrap();
    assert_eq!(encoded.len(), 1);
    assert_eq!(
        encoded[0].metadata[METADATA_ENCODING],
        ENCODING_ENCRYPTED.as_bytes()
    );
    assert!(encoded[0].data.len() < 1000, "compressed before encryption");
    // Peel the outer layer only: what was encrypted is the zlib payload.
    let inner = decode(&EncryptionCodec::new(keys.clone()), encoded[0].clone())
        .await
        .unwrap();
    assert_eq!(inner.metadata[METADATA_ENCODING], b"binary/zlib");
    assert_eq!(ZlibCodec::new().decode_payload(inner).unwrap(), big);
    assert_eq!(chain.decode(&context(), encoded).await.unwrap(), vec![big]);

    // The same chain spelled out, as sdk-go's NewCodecDataConverter(parent, encryption, zlib).
    let spelled = CodecChain::new()
        .with(EncryptionCodec::new(keys.clone()))
        .with(ZlibCodec::new().always_encode(true));
    let encoded = spelled.encode(&context(), vec![json("1")]).await.unwrap();
    let inner = decode(&EncryptionCodec::new(keys), encoded[0].clone())
        .await
        .unwrap();
    assert_eq!(inner.metadata[METADATA_ENCODING], b"binary/zlib");
}

#[tokio::test]
async fn failure_messages_and_stack_traces_are_encrypted_by_default() {
    let options = CodecOptions::new(keys("k", 1));
    let converter = options.data_converter("ns");
    let mut failure = converter.to_failure(
        &context(),
        OutgoingError::Workflow(OutgoingWorkflowError::Application(Box::new(
            ApplicationFailure::builder("card 4111-1111 declined")
                .type_name("PaymentError".to_string())
                .non_retryable(true)
                .build(),
        ))),
    );
    encode_payloads(&mut failure, converter.codec(), &context())
        .await
        .unwrap();
    assert_eq!(failure.message, "Encoded failure");
    assert!(failure.stack_trace.is_empty());
    let attributes = failure
        .encoded_attributes
        .clone()
        .expect("encoded attributes");
    assert_eq!(
        attributes.metadata[METADATA_ENCODING],
        ENCODING_ENCRYPTED.as_bytes()
    );
    let wire = prost::Message::encode_to_vec(&failure);
    assert!(
        !wire.windows(4).any(|w| w == b"4111"),
        "no clear text on the wire"
    );
    // The type name and retryability stay readable for the server.
    assert!(wire.windows(12).any(|w| w == b"PaymentError"));

    decode_payloads(&mut failure, converter.codec(), &context())
        .await
        .unwrap();
    let error = converter
        .to_error(
            &context(),
            failure,
            temporalio_common::data_converters::NoopDecodeHint,
        )
        .unwrap();
    assert!(
        error.to_string().contains("card 4111-1111 declined"),
        "{error}"
    );

    // Opting out leaves the message in clear.
    let converter = options.encrypt_failures(false).data_converter("ns");
    let failure = converter.to_failure(
        &context(),
        OutgoingError::Workflow(OutgoingWorkflowError::Application(Box::new(
            ApplicationFailure::new("visible"),
        ))),
    );
    assert_eq!(failure.message, "visible");
}

/// Every configuration a user can pick.
fn chains(keys: &Keys) -> Vec<(&'static str, CodecChain)> {
    let options = CodecOptions::new(keys.clone());
    vec![
        ("sample", options.codec("ns")),
        ("sample+zlib", options.clone().compression(true).codec("ns")),
        ("hardened", options.clone().hardened(true).codec("ns")),
        (
            "hardened+zlib",
            options.hardened(true).compression(true).codec("ns"),
        ),
        (
            "always-zlib",
            CodecChain::new()
                .with(EncryptionCodec::new(keys.clone()))
                .with(ZlibCodec::new().always_encode(true)),
        ),
    ]
}

fn arbitrary_payload() -> impl Strategy<Value = Payload> {
    (
        proptest::collection::hash_map(
            "[a-z-]{1,12}",
            proptest::collection::vec(any::<u8>(), 0..16),
            0..4,
        ),
        proptest::collection::vec(any::<u8>(), 0..2048),
    )
        .prop_map(|(metadata, data)| Payload {
            metadata,
            data,
            ..Default::default()
        })
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decode_of_encode_is_identity(payloads in proptest::collection::vec(arbitrary_payload(), 0..4)) {
        let keys = keys("k", 4);
        for (name, chain) in chains(&keys) {
            let round_trip = block_on(async {
                let encoded = chain.encode(&context(), payloads.clone()).await.unwrap();
                chain.decode(&context(), encoded).await.unwrap()
            });
            prop_assert_eq!(&round_trip, &payloads, "{}", name);
        }
    }

    #[test]
    fn arbitrary_encrypted_data_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..256),
        key_id in "[a-z]{0,3}",
        bind in any::<bool>(),
    ) {
        let mut metadata = HashMap::from([
            (METADATA_ENCODING.to_string(), ENCODING_ENCRYPTED.as_bytes().to_vec()),
            (METADATA_KEY_ID.to_string(), key_id.into_bytes()),
        ]);
        if bind {
            metadata.insert(METADATA_BINDING.into(), BINDING_NAMESPACE_V1.into());
        }
        let payload = Payload { metadata, data, ..Default::default() };
        let keys = keys("k", 4);
        for (_, chain) in chains(&keys) {
            let decoded = block_on(chain.decode(&context(), vec![payload.clone()]));
            prop_assert!(decoded.is_err());
        }
    }

    #[test]
    fn arbitrary_zlib_data_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let payload = Payload {
            metadata: HashMap::from([(METADATA_ENCODING.to_string(), b"binary/zlib".to_vec())]),
            data,
            ..Default::default()
        };
        // Whatever the bytes, decoding answers (almost always an error) without panicking.
        let _ = ZlibCodec::new().max_decoded_len(4096).decode_payload(payload);
    }
}

/// The test vectors printed in `docs/codec-format.md` (made with Python's `cryptography`).
mod documented_vectors {
    use super::*;

    pub(super) const INNER: &str =
        "0a160a08656e636f64696e67120a6a736f6e2f706c61696e12072268656c6c6f22";
    pub(super) const SAMPLE: &str = "a0a1a2a3a4a5a6a7a8a9aaabec0e762520a561d0060ce9b41570aaad1fc27660fed62b028e0904ee1ac7196ef01d50456eb8dadffb1aa7a369a34ccd62";
    pub(super) const HARDENED: &str = "a0a1a2a3a4a5a6a7a8a9aaabec0e762520a561d0060ce9b41570aaad1fc27660fed62b028e0904ee1ac7196ef05766c82ac32c48b496bdddcb500fed49";

    pub(super) fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    pub(super) fn keys() -> Keys {
        let key: Vec<u8> = (0..32).collect();
        Keys::new(KeyRing::new(id("2026-11"), Key::from_bytes(&key).unwrap()))
    }

    pub(super) fn outer(data: &str, hardened: bool) -> Payload {
        let mut metadata = HashMap::from([
            (METADATA_ENCODING.to_string(), b"binary/encrypted".to_vec()),
            (METADATA_KEY_ID.to_string(), b"2026-11".to_vec()),
        ]);
        if hardened {
            metadata.insert(METADATA_BINDING.into(), b"namespace-v1".to_vec());
            metadata.insert(METADATA_NAMESPACE.into(), b"payments".to_vec());
        }
        Payload {
            metadata,
            data: hex(data),
            ..Default::default()
        }
    }
}

#[tokio::test]
async fn the_documented_vectors_decode() {
    use documented_vectors::*;
    let inner = json("\"hello\"");
    assert_eq!(prost::Message::encode_to_vec(&inner), hex(INNER));

    let sample = EncryptionCodec::new(keys());
    assert_eq!(decode(&sample, outer(SAMPLE, false)).await.unwrap(), inner);

    let hardened = EncryptionCodec::hardened(keys(), "payments");
    assert_eq!(
        decode(&hardened, outer(HARDENED, true)).await.unwrap(),
        inner
    );
    // The two differ only in the tag, and neither verifies as the other.
    assert_eq!(SAMPLE[..SAMPLE.len() - 32], HARDENED[..HARDENED.len() - 32]);
    let mut swapped = outer(SAMPLE, true);
    swapped.data = hex(SAMPLE);
    assert!(decode(&hardened, swapped).await.is_err());
}
