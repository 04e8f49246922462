//! Order-preserving key encoding: byte order of encoded keys == tuple order of their fields.
//!
//! A key is a tuple of fields written one after another with [`KeyBuilder`] and read back, in
//! the same order and with the same types, with [`KeyReader`]. Each field encoding is
//! order-preserving and prefix-free, so for two tuples of the same schema the encodings compare
//! like the tuples and never collide, and the encoding of a leading sub-tuple is a prefix for
//! [`Store::scan_prefix`](super::Store::scan_prefix) over exactly the keys that start with it.
//!
//! - `u8`, `u64`: fixed width, big-endian.
//! - `i64`: big-endian with the sign bit flipped, so negative values sort first.
//! - bytes / strings: escaped and terminated — `0x00` is written as `0x00 0xFF`, and the field
//!   ends with `0x00 0x01`. A shorter string sorts before every extension of it, and `0x01` <
//!   `0xFF` keeps an embedded NUL after the end marker (the scheme of FoundationDB's tuple layer).
//!
//! Keys come from disk, so [`KeyReader`] returns [`KeyError`] on malformed input and never panics.

/// Escape byte inside a string field.
const ESCAPE: u8 = 0x00;
/// Follows [`ESCAPE`] for an embedded `0x00` byte.
const ESCAPED_NUL: u8 = 0xFF;
/// Follows [`ESCAPE`] at the end of a string field.
const TERMINATOR: u8 = 0x01;

/// Builds an order-preserving key field by field.
#[derive(Clone, Debug, Default)]
pub struct KeyBuilder {
    buf: Vec<u8>,
}

impl KeyBuilder {
    /// An empty key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a one-byte field (e.g. a record-type tag).
    pub fn u8(mut self, value: u8) -> Self {
        self.buf.push(value);
        self
    }

    /// Appends a `u64`, big-endian.
    pub fn u64(mut self, value: u64) -> Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Appends an `i64` so that negative values sort before positive ones.
    pub fn i64(self, value: i64) -> Self {
        self.u64(value.cast_unsigned() ^ (1 << 63))
    }

    /// Appends an arbitrary byte string, escaped and terminated.
    pub fn bytes(mut self, value: &[u8]) -> Self {
        self.buf.reserve(value.len() + 2);
        for &byte in value {
            if byte == ESCAPE {
                self.buf.extend_from_slice(&[ESCAPE, ESCAPED_NUL]);
            } else {
                self.buf.push(byte);
            }
        }
        self.buf.extend_from_slice(&[ESCAPE, TERMINATOR]);
        self
    }

    /// Appends a UTF-8 string, escaped and terminated.
    pub fn str(self, value: &str) -> Self {
        self.bytes(value.as_bytes())
    }

    /// The encoded key.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads the fields of a key written by [`KeyBuilder`], in order.
#[derive(Clone, Debug)]
pub struct KeyReader<'a> {
    rest: &'a [u8],
}

impl<'a> KeyReader<'a> {
    /// Starts reading `key` at its first field.
    pub fn new(key: &'a [u8]) -> Self {
        Self { rest: key }
    }

    /// Reads a one-byte field.
    pub fn u8(&mut self) -> Result<u8, KeyError> {
        let (&value, rest) = self
            .rest
            .split_first()
            .ok_or(KeyError::Truncated { field: "u8" })?;
        self.rest = rest;
        Ok(value)
    }

    /// Reads a big-endian `u64` field.
    pub fn u64(&mut self) -> Result<u64, KeyError> {
        let (value, rest) = self
            .rest
            .split_first_chunk::<8>()
            .ok_or(KeyError::Truncated { field: "u64" })?;
        self.rest = rest;
        Ok(u64::from_be_bytes(*value))
    }

    /// Reads an `i64` field written by [`KeyBuilder::i64`].
    pub fn i64(&mut self) -> Result<i64, KeyError> {
        let (value, rest) = self
            .rest
            .split_first_chunk::<8>()
            .ok_or(KeyError::Truncated { field: "i64" })?;
        self.rest = rest;
        Ok((u64::from_be_bytes(*value) ^ (1 << 63)).cast_signed())
    }

    /// Reads an escaped, terminated byte-string field.
    pub fn bytes(&mut self) -> Result<Vec<u8>, KeyError> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&byte) = self.rest.get(i) {
            if byte != ESCAPE {
                out.push(byte);
                i += 1;
                continue;
            }
            match self.rest.get(i + 1) {
                Some(&ESCAPED_NUL) => {
                    out.push(ESCAPE);
                    i += 2;
                }
                Some(&TERMINATOR) => {
                    self.rest = &self.rest[i + 2..];
                    return Ok(out);
                }
                Some(&other) => return Err(KeyError::InvalidEscape { byte: other }),
                None => break,
            }
        }
        Err(KeyError::UnterminatedString)
    }

    /// Reads a UTF-8 string field.
    pub fn str(&mut self) -> Result<String, KeyError> {
        String::from_utf8(self.bytes()?).map_err(|_| KeyError::InvalidUtf8)
    }

    /// True if every field has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Checks that every byte of the key has been consumed.
    pub fn finish(self) -> Result<(), KeyError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(KeyError::TrailingBytes {
                count: self.rest.len(),
            })
        }
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None` when no such key
/// exists (`prefix` is empty or all `0xFF`). Use as the exclusive end of a range scan.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&byte| byte != 0xFF)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}

/// Why a key does not parse as the expected fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key ended inside a fixed-width field.
    #[error("key ends inside a {field} field")]
    Truncated {
        /// The field type being read.
        field: &'static str,
    },
    /// A string field has no terminator.
    #[error("string field is not terminated")]
    UnterminatedString,
    /// A string field contains an escape byte followed by an unknown byte.
    #[error("invalid escape 0x00 0x{byte:02x} in string field")]
    InvalidEscape {
        /// The byte after the escape.
        byte: u8,
    },
    /// A string field is not valid UTF-8.
    #[error("string field is not valid UTF-8")]
    InvalidUtf8,
    /// Bytes remain after the last expected field.
    #[error("{count} unexpected bytes after the last field")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A tuple shaped like a history key: (namespace, workflow id, run id bytes, event id).
    type Tuple = (String, String, Vec<u8>, u64, i64);

    fn encode(t: &Tuple) -> Vec<u8> {
        KeyBuilder::new()
            .str(&t.0)
            .str(&t.1)
            .bytes(&t.2)
            .u64(t.3)
            .i64(t.4)
            .finish()
    }

    fn decode(key: &[u8]) -> Result<Tuple, KeyError> {
        let mut r = KeyReader::new(key);
        let t = (r.str()?, r.str()?, r.bytes()?, r.u64()?, r.i64()?);
        r.finish()?;
        Ok(t)
    }

    /// Strings over a tiny alphabet that includes NUL, 0x01 and 0xFF-adjacent chars, so
    /// prefixes, escapes and equal fields are common.
    fn field() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!['\0', '\u{1}', 'a', 'b', 'ÿ']),
            0..5,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn tuple() -> impl Strategy<Value = Tuple> {
        (
            field(),
            field(),
            prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xfe, 0xff]), 0..4),
            prop::sample::select(vec![0, 1, 255, 256, u64::MAX]),
            prop::sample::select(vec![i64::MIN, -1, 0, 1, i64::MAX]),
        )
    }

    proptest! {
        #[test]
        fn round_trip(t in tuple()) {
            prop_assert_eq!(decode(&encode(&t)).unwrap(), t);
        }

        #[test]
        fn byte_order_is_tuple_order(a in tuple(), b in tuple()) {
            prop_assert_eq!(encode(&a).cmp(&encode(&b)), a.cmp(&b));
        }

        #[test]
        fn decoding_garbage_never_panics(key in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode(&key);
        }

        #[test]
        fn prefix_end_bounds_the_prefix(prefix in prop::collection::vec(any::<u8>(), 0..6), suffix in prop::collection::vec(any::<u8>(), 0..6)) {
            let key = [prefix.as_slice(), suffix.as_slice()].concat();
            if let Some(end) = prefix_end(&prefix) {
                prop_assert!(key < end);
                prop_assert!(prefix < end);
            } else {
                prop_assert!(prefix.iter().all(|&b| b == 0xFF));
            }
        }
    }

    #[test]
    fn leading_fields_are_a_scan_prefix() {
        let prefix = KeyBuilder::new().str("ns").str("wf").finish();
        let inside = KeyBuilder::new()
            .str("ns")
            .str("wf")
            .bytes(b"run")
            .u64(3)
            .finish();
        let longer_id = KeyBuilder::new()
            .str("ns")
            .str("wf2")
            .bytes(b"run")
            .u64(3)
            .finish();
        assert!(inside.starts_with(&prefix));
        assert!(!longer_id.starts_with(&prefix));
    }

    #[test]
    fn malformed_keys_are_errors() {
        assert_eq!(
            KeyReader::new(b"abc").u64(),
            Err(KeyError::Truncated { field: "u64" })
        );
        assert_eq!(
            KeyReader::new(b"").u8(),
            Err(KeyError::Truncated { field: "u8" })
        );
        assert_eq!(
            KeyReader::new(b"ab").bytes(),
            Err(KeyError::UnterminatedString)
        );
        assert_eq!(
            KeyReader::new(b"ab\0").bytes(),
            Err(KeyError::UnterminatedString)
        );
        assert_eq!(
            KeyReader::new(b"a\0\x07").bytes(),
            Err(KeyError::InvalidEscape { byte: 7 })
        );
        assert_eq!(
            KeyReader::new(b"\xff\0\x01").str(),
            Err(KeyError::InvalidUtf8)
        );
        let mut r = KeyReader::new(b"x\0\x01!");
        assert_eq!(r.str().unwrap(), "x");
        assert!(!r.is_empty());
        assert_eq!(r.finish(), Err(KeyError::TrailingBytes { count: 1 }));
    }

    #[test]
    fn prefix_end_examples() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
