//! The codec named by `[keys]`: lockstep-sdk's AES-256-GCM [`EncryptionCodec`] over a key file
//! or environment variables, wrapped as a [`Codec`].
//!
//! Each request gets a codec for its namespace, so hardened (namespace-bound) payloads are
//! checked against the namespace the caller is authorized on. Decoding also undoes zlib
//! compression inside the encryption (the Go samples compress first), with a size limit.

use std::{sync::Arc, time::Duration};

use lockstep_sdk::{EncryptionCodec, EnvKeyProvider, FileKeyProvider, Keys, ZlibCodec};
use temporalio_protos::temporal::api::common::v1::Payload;

use crate::{
    codec::Codec,
    config::{CodecServerConfig, KeysConfig, PayloadFormat},
    error::CodecServerError,
};

/// Largest payload a `binary/zlib` payload may expand to.
const MAX_DECOMPRESSED_BYTES: usize = 16 * 1024 * 1024;
/// Largest total of decoded payloads in one answer.
const MAX_DECODED_TOTAL_BYTES: usize = 64 * 1024 * 1024;

/// lockstep-sdk's encryption codec as a [`Codec`].
#[derive(Clone, Debug)]
pub struct SdkCodec {
    keys: Keys,
    format: PayloadFormat,
    accept_unbound: bool,
    zlib: ZlibCodec,
}

impl SdkCodec {
    /// Loads the keys `config` names.
    pub async fn load(config: &KeysConfig) -> Result<Self, CodecServerError> {
        let keys = match (&config.file, config.env) {
            (Some(path), false) => Keys::load(FileKeyProvider::new(path)).await,
            (None, true) => Keys::load(EnvKeyProvider::default()).await,
            _ => {
                return Err(CodecServerError::Keys(
                    "[keys] needs exactly one source: file or env".into(),
                ));
            }
        }
        .map_err(|err| CodecServerError::Keys(err.to_string()))?;
        Ok(Self::new(keys, config.format, config.accept_unbound))
    }

    /// A codec over `keys`, writing `format`.
    pub fn new(keys: Keys, format: PayloadFormat, accept_unbound: bool) -> Self {
        Self {
            keys,
            format,
            accept_unbound,
            zlib: ZlibCodec::new().max_decoded_len(MAX_DECOMPRESSED_BYTES),
        }
    }

    /// The keys, e.g. to reload them.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn codec_for(&self, namespace: &str) -> EncryptionCodec {
        match self.format {
            // A sample-format codec that knows its namespace still reads hardened payloads of
            // that namespace (and only of that one).
            PayloadFormat::Sample => EncryptionCodec::new(self.keys.clone()).namespace(namespace),
            PayloadFormat::Hardened => EncryptionCodec::hardened(self.keys.clone(), namespace)
                .accept_unbound(self.accept_unbound),
        }
    }
}

impl Codec for SdkCodec {
    fn encode(&self, namespace: &str, payloads: Vec<Payload>) -> Result<Vec<Payload>, String> {
        let codec = self.codec_for(namespace);
        payloads
            .iter()
            .map(|payload| codec.encode_payload(payload).map_err(|err| err.to_string()))
            .collect()
    }

    fn decode(&self, namespace: &str, payloads: Vec<Payload>) -> Result<Vec<Payload>, String> {
        let codec = self.codec_for(namespace);
        let decode_all = async {
            let mut decoded = Vec::with_capacity(payloads.len());
            let mut total = 0usize;
            for payload in payloads {
                let plain = codec
                    .decode_payload(payload)
                    .await
                    .map_err(|err| err.to_string())?;
                let plain = self
                    .zlib
                    .decode_payload(plain)
                    .map_err(|err| err.to_string())?;
                total = total.saturating_add(plain.data.len());
                if total > MAX_DECODED_TOTAL_BYTES {
                    return Err(format!(
                        "the decoded payloads exceed {MAX_DECODED_TOTAL_BYTES} bytes; send fewer"
                    ));
                }
                decoded.push(plain);
            }
            Ok(decoded)
        };
        // Called on a blocking thread of the runtime (see `Codec`): the key provider may need
        // the runtime to fetch a key it has not seen.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime.block_on(decode_all),
            Err(_) => Err("the codec runs only inside the codec server's runtime".into()),
        }
    }
}

/// The codec named by `[keys]`, and the key reload task when one is configured.
pub(crate) async fn codec_from_config(
    config: &CodecServerConfig,
) -> Result<(Arc<dyn Codec>, Option<tokio::task::JoinHandle<()>>), CodecServerError> {
    let Some(keys_config) = &config.keys else {
        return Err(CodecServerError::Keys(
            "no [keys] section: name the key file (file = \"keys.toml\") or env = true".into(),
        ));
    };
    let codec = SdkCodec::load(keys_config).await?;
    let reload = (keys_config.reload_secs > 0).then(|| {
        codec
            .keys()
            .spawn_reload(Duration::from_secs(keys_config.reload_secs))
    });
    Ok((Arc::new(codec), reload))
}

#[cfg(test)]
mod tests {
    use lockstep_sdk::{Key, KeyId, KeyRing};

    use super::*;

    fn keys(id: &str, byte: u8) -> Keys {
        Keys::new(KeyRing::new(
            KeyId::new(id).unwrap(),
            Key::from_bytes(&[byte; 32]).unwrap(),
        ))
    }

    fn json(text: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: text.as_bytes().to_vec(),
            ..Payload::default()
        }
    }

    async fn on_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        tokio::task::spawn_blocking(f).await.unwrap()
    }

    #[tokio::test]
    async fn hardened_payloads_stay_in_their_namespace() {
        let codec = SdkCodec::new(keys("k1", 7), PayloadFormat::Hardened, false);
        let sealed = codec.encode("orders", vec![json("\"secret\"")]).unwrap();
        assert_eq!(sealed[0].metadata["encryption-key-id"], b"k1");
        let (a, b) = (codec.clone(), sealed.clone());
        let back = on_blocking(move || a.decode("orders", b)).await.unwrap();
        assert_eq!(back, vec![json("\"secret\"")]);
        let err = on_blocking(move || codec.decode("billing", sealed))
            .await
            .unwrap_err();
        assert!(err.contains("orders") && !err.contains("secret"), "{err}");
    }

    #[tokio::test]
    async fn sample_format_interoperates_and_zlib_is_undone() {
        let keys = keys("k1", 9);
        let codec = SdkCodec::new(keys.clone(), PayloadFormat::Sample, false);
        // What a Go worker sends: zlib first, then encryption.
        let zipped = ZlibCodec::new()
            .always_encode(true)
            .encode_payload(&json("\"hello\""))
            .unwrap();
        let sealed = EncryptionCodec::new(keys).encode_payload(&zipped).unwrap();
        let plain = json("\"plain\"");
        let input = vec![sealed, plain.clone()];
        let back = on_blocking(move || codec.decode("any", input))
            .await
            .unwrap();
        assert_eq!(back, vec![json("\"hello\""), plain]);
    }
}
