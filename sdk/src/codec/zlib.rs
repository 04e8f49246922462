//! The zlib compression codec, in the format of sdk-go's `NewZlibCodec`: metadata
//! `encoding = binary/zlib`, data = zlib stream (RFC 1950) of the serialized inner Payload.
//! Chained before encryption (see [`super::CodecChain`]), since ciphertext does not compress.
//!
//! Decoding is bounded: a payload that would expand past [`ZlibCodec::max_decoded_len`] is
//! refused, so a small hostile payload cannot exhaust a worker's memory.

use std::{
    collections::HashMap,
    io::{Read, Write},
};

use flate2::{Compression, read::ZlibDecoder, write::ZlibEncoder};
use futures::{FutureExt, future::BoxFuture};
use prost::Message;
use temporalio_common::{
    data_converters::{PayloadCodec, PayloadConversionError, SerializationContextData},
    protos::temporal::api::common::v1::Payload,
};

use super::{ENCODING_ZLIB, METADATA_ENCODING, encryption::conversion_error};
use crate::error::CodecError;

/// The default decoding limit: 64 MiB, far above Temporal's payload size limits (a few MiB).
pub const DEFAULT_MAX_DECODED_LEN: usize = 64 * 1024 * 1024;

/// zlib compression of whole payloads.
#[derive(Clone, Debug)]
pub struct ZlibCodec {
    always: bool,
    max_decoded_len: usize,
}

impl Default for ZlibCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl ZlibCodec {
    /// Compresses a payload only when that makes it smaller (sdk-go's default).
    pub fn new() -> Self {
        Self {
            always: false,
            max_decoded_len: DEFAULT_MAX_DECODED_LEN,
        }
    }

    /// Compresses every payload, even when that does not make it smaller (sdk-go's
    /// `AlwaysEncode`, which Temporal's Go encryption sample uses).
    pub fn always_encode(mut self, always: bool) -> Self {
        self.always = always;
        self
    }

    /// Refuses compressed payloads that expand past `limit` bytes.
    pub fn max_decoded_len(mut self, limit: usize) -> Self {
        self.max_decoded_len = limit;
        self
    }

    /// Compresses one payload (or returns it unchanged if compression does not pay off).
    pub fn encode_payload(&self, payload: &Payload) -> Result<Payload, CodecError> {
        let serialized = payload.encode_to_vec();
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder
            .write_all(&serialized)
            .map_err(|e| CodecError::Compress(e.to_string()))?;
        let compressed = encoder
            .finish()
            .map_err(|e| CodecError::Compress(e.to_string()))?;
        if !self.always && compressed.len() >= serialized.len() {
            return Ok(payload.clone());
        }
        Ok(Payload {
            metadata: HashMap::from([(METADATA_ENCODING.to_string(), ENCODING_ZLIB.into())]),
            data: compressed,
            ..Default::default()
        })
    }

    /// Decompresses one payload, or passes it through if it is not `binary/zlib`.
    pub fn decode_payload(&self, payload: Payload) -> Result<Payload, CodecError> {
        if payload.metadata.get(METADATA_ENCODING).map(Vec::as_slice)
            != Some(ENCODING_ZLIB.as_bytes())
        {
            return Ok(payload);
        }
        let mut serialized = Vec::new();
        // Read one byte past the limit to tell "exactly at the limit" from "over it".
        let limit = u64::try_from(self.max_decoded_len)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        ZlibDecoder::new(payload.data.as_slice())
            .take(limit)
            .read_to_end(&mut serialized)
            .map_err(|e| CodecError::Decompress {
                reason: e.to_string(),
            })?;
        if serialized.len() > self.max_decoded_len {
            return Err(CodecError::TooLarge {
                limit: self.max_decoded_len,
            });
        }
        Payload::decode(serialized.as_slice()).map_err(|e| CodecError::InvalidInnerPayload {
            reason: e.to_string(),
        })
    }
}

impl PayloadCodec for ZlibCodec {
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
        let decoded = payloads
            .into_iter()
            .map(|payload| self.decode_payload(payload))
            .collect::<Result<Vec<_>, _>>()
            .map_err(conversion_error);
        futures::future::ready(decoded).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(data: Vec<u8>) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data,
            ..Default::default()
        }
    }

    #[test]
    fn compresses_when_smaller() {
        let big = json(vec![b'a'; 10_000]);
        let encoded = ZlibCodec::new().encode_payload(&big).unwrap();
        assert_eq!(encoded.metadata[METADATA_ENCODING], b"binary/zlib");
        assert!(encoded.data.len() < 200);
        assert_eq!(ZlibCodec::new().decode_payload(encoded).unwrap(), big);

        let small = json(b"1".to_vec());
        assert_eq!(ZlibCodec::new().encode_payload(&small).unwrap(), small);
        let forced = ZlibCodec::new()
            .always_encode(true)
            .encode_payload(&small)
            .unwrap();
        assert_eq!(forced.metadata[METADATA_ENCODING], b"binary/zlib");
        assert_eq!(ZlibCodec::new().decode_payload(forced).unwrap(), small);
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        let bomb = ZlibCodec::new()
            .encode_payload(&json(vec![0; 1_000_000]))
            .unwrap();
        let error = ZlibCodec::new()
            .max_decoded_len(100_000)
            .decode_payload(bomb)
            .unwrap_err();
        assert!(
            matches!(error, CodecError::TooLarge { limit: 100_000 }),
            "{error}"
        );

        let garbage = Payload {
            metadata: HashMap::from([("encoding".to_string(), b"binary/zlib".to_vec())]),
            data: b"definitely not zlib".to_vec(),
            ..Default::default()
        };
        let error = ZlibCodec::new().decode_payload(garbage).unwrap_err();
        assert!(matches!(error, CodecError::Decompress { .. }), "{error}");
    }
}
