//! The codec the server applies: a small trait, so the HTTP layer, its limits and its tests do
//! not depend on which implementation (the SDK's AES-256-GCM codec, a test codec) holds the keys.

use temporalio_protos::temporal::api::common::v1::Payload;

/// Metadata key naming the key a payload was encrypted with (Temporal's encryption samples).
pub const ENCRYPTION_KEY_ID: &str = "encryption-key-id";

/// Encodes and decodes payloads for a namespace.
///
/// Implementations must return exactly as many payloads as they were given, in the same order,
/// pass through payloads they do not recognise on decode, and never put payload contents, key
/// material or plaintext into an error message: the message is sent to the client and audited.
/// Calls run on a blocking thread, so they may be CPU-heavy.
pub trait Codec: Send + Sync {
    /// Encodes (encrypts) `payloads` for `namespace`.
    fn encode(&self, namespace: &str, payloads: Vec<Payload>) -> Result<Vec<Payload>, String>;

    /// Decodes (decrypts) `payloads` of `namespace`; payloads that are not encoded pass through.
    fn decode(&self, namespace: &str, payloads: Vec<Payload>) -> Result<Vec<Payload>, String>;
}

impl<C: Codec + ?Sized> Codec for std::sync::Arc<C> {
    fn encode(&self, namespace: &str, payloads: Vec<Payload>) -> Result<Vec<Payload>, String> {
        (**self).encode(namespace, payloads)
    }

    fn decode(&self, namespace: &str, payloads: Vec<Payload>) -> Result<Vec<Payload>, String> {
        (**self).decode(namespace, payloads)
    }
}

/// Longest key id kept for the audit log, in characters.
const MAX_KEY_ID_CHARS: usize = 64;
/// Most distinct key ids kept per request for the audit log.
const MAX_KEY_IDS: usize = 16;

/// The distinct `encryption-key-id` values of `payloads`, for the audit log: sorted, at most
/// 16, each cut to 64 characters (a key id is a name, never key material).
pub(crate) fn key_ids(payloads: &[Payload]) -> Vec<String> {
    let mut ids: Vec<String> = payloads
        .iter()
        .filter_map(|p| p.metadata.get(ENCRYPTION_KEY_ID))
        .map(|raw| {
            String::from_utf8_lossy(raw)
                .chars()
                .take(MAX_KEY_ID_CHARS)
                .collect()
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(MAX_KEY_IDS);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(id: &[u8]) -> Payload {
        Payload {
            metadata: [(ENCRYPTION_KEY_ID.to_owned(), id.to_vec())].into(),
            ..Payload::default()
        }
    }

    #[test]
    fn key_ids_are_distinct_sorted_and_bounded() {
        let long = vec![b'k'; 500];
        let payloads = vec![
            with_key(b"b"),
            Payload::default(),
            with_key(b"a"),
            with_key(b"b"),
            with_key(&long),
            with_key(&[0xff, 0xfe]),
        ];
        let ids = key_ids(&payloads);
        assert_eq!(ids.len(), 4);
        assert_eq!(&ids[..2], ["a", "b"]);
        assert!(ids.iter().all(|id| id.chars().count() <= MAX_KEY_ID_CHARS));
        let many: Vec<Payload> = (0..100)
            .map(|i| with_key(format!("{i}").as_bytes()))
            .collect();
        assert_eq!(key_ids(&many).len(), MAX_KEY_IDS);
    }
}
