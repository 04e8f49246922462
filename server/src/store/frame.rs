//! The checksum frame around every value a disk-backed store writes.
//!
//! Layout: `crc32 (u32 big-endian) ++ value`. The CRC covers the key's length, the key and the
//! value, so a value that ends up under the wrong key (a misdirected write) fails the check as
//! well as flipped bits do. Decoding never panics and never returns bytes it did not verify.

use super::{Keyspace, StoreError, key_hex};

/// Bytes the frame adds in front of the value.
const HEADER_LEN: usize = 4;

/// Frames `value` for storage under `key`.
pub(crate) fn encode(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + value.len());
    out.extend_from_slice(&checksum(key, value).to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Verifies a stored frame and returns the value inside.
pub(crate) fn decode(keyspace: Keyspace, key: &[u8], stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    let corrupt = || StoreError::Corrupt {
        keyspace,
        key: key_hex(key),
    };
    let Some((header, value)) = stored.split_first_chunk::<HEADER_LEN>() else {
        return Err(corrupt());
    };
    if u32::from_be_bytes(*header) != checksum(key, value) {
        return Err(corrupt());
    }
    Ok(value.to_vec())
}

fn checksum(key: &[u8], value: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    // Keys never approach 4 GiB; saturating keeps the function total anyway.
    let key_len = u32::try_from(key.len()).unwrap_or(u32::MAX);
    hasher.update(&key_len.to_be_bytes());
    hasher.update(key);
    hasher.update(value);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_value_round_trips() {
        let framed = encode(b"k", b"");
        assert_eq!(framed.len(), HEADER_LEN);
        assert_eq!(decode(Keyspace::Meta, b"k", &framed).unwrap(), b"");
    }

    #[test]
    fn short_frames_are_corrupt() {
        for len in 0..HEADER_LEN {
            let err = decode(Keyspace::Tasks, b"k", &vec![0; len]).unwrap_err();
            assert!(matches!(
                err,
                StoreError::Corrupt {
                    keyspace: Keyspace::Tasks,
                    ..
                }
            ));
        }
    }

    #[test]
    fn value_under_another_key_is_corrupt() {
        // Same concatenation key ++ value, different split: the length prefix tells them apart.
        let framed = encode(b"ab", b"c");
        assert!(decode(Keyspace::History, b"a", &[&framed[..4], b"bc"].concat()).is_err());
        assert!(decode(Keyspace::History, b"other", &framed).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(key in prop::collection::vec(any::<u8>(), 0..40), value in prop::collection::vec(any::<u8>(), 0..200)) {
            let framed = encode(&key, &value);
            prop_assert_eq!(decode(Keyspace::Executions, &key, &framed).unwrap(), value);
        }

        #[test]
        fn any_single_bit_flip_is_detected(
            key in prop::collection::vec(any::<u8>(), 0..40),
            value in prop::collection::vec(any::<u8>(), 0..200),
            position in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut framed = encode(&key, &value);
            let i = position.index(framed.len());
            framed[i] ^= 1 << bit;
            let corrupt = matches!(
                decode(Keyspace::Executions, &key, &framed),
                Err(StoreError::Corrupt { .. })
            );
            prop_assert!(corrupt);
        }
    }
}
