//! The AES-256-GCM primitive under the encryption codec: 96-bit nonces and 128-bit tags only,
//! the parameters of Temporal's encryption samples. Anything else is rejected before the cipher
//! runs. Checked against Google's Wycheproof vectors (tests below).

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, OsRng, Payload as AeadInput, rand_core::RngCore},
};

use crate::keys::Key;

/// Nonce length in bytes (96 bits).
pub(crate) const NONCE_LEN: usize = 12;
/// Tag length in bytes (128 bits).
pub(crate) const TAG_LEN: usize = 16;

/// Why [`open`] refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// The nonce is not 96 bits.
    NonceLength,
    /// The input is shorter than a tag.
    Truncated,
    /// The tag does not verify.
    Authentication,
}

/// A fresh random nonce.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN], String> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| e.to_string())?;
    Ok(nonce)
}

fn cipher(key: &Key) -> Aes256Gcm {
    Aes256Gcm::new(key.bytes().into())
}

/// Encrypts `plaintext`, returning `ciphertext ‖ tag`.
pub(crate) fn seal(key: &Key, nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let input = AeadInput {
        msg: plaintext,
        aad,
    };
    match cipher(key).encrypt(Nonce::from_slice(nonce), input) {
        Ok(sealed) => sealed,
        // aes-gcm fails to encrypt only past GCM's 64 GiB plaintext limit, far beyond any
        // payload the Temporal API carries (a few MiB).
        Err(_) => unreachable!("AES-GCM encryption fails only for inputs over 64 GiB"),
    }
}

/// Decrypts `ciphertext ‖ tag`; only a 12-byte nonce is accepted.
pub(crate) fn open(
    key: &Key,
    nonce: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, OpenError> {
    if nonce.len() != NONCE_LEN {
        return Err(OpenError::NonceLength);
    }
    if sealed.len() < TAG_LEN {
        return Err(OpenError::Truncated);
    }
    let input = AeadInput { msg: sealed, aad };
    cipher(key)
        .decrypt(Nonce::from_slice(nonce), input)
        .map_err(|_| OpenError::Authentication)
}

#[cfg(test)]
mod tests {
    use wycheproof::{TestResult, aead::TestName};

    use super::*;

    /// Every AES-GCM vector of Wycheproof: those with a 256-bit key, 96-bit IV and 128-bit tag
    /// must behave as the vector says (valid: seal gives ct‖tag and open gives msg; invalid:
    /// open fails); all others must be rejected — other key sizes by `Key`, other IV and tag
    /// sizes by `open`.
    #[test]
    fn wycheproof_aes_gcm() {
        let set = wycheproof::aead::TestSet::load(TestName::AesGcm).unwrap();
        let (mut checked, mut other_key_sizes, mut other_nonce_sizes) = (0, 0, 0);
        for group in &set.test_groups {
            for test in &group.tests {
                let context = format!("tcId {} ({})", test.tc_id, test.comment);
                let Ok(key) = Key::from_bytes(&test.key) else {
                    assert_ne!(group.key_size, 256, "{context}");
                    other_key_sizes += 1;
                    continue;
                };
                let mut sealed = test.ct.to_vec();
                sealed.extend_from_slice(&test.tag);
                let opened = open(&key, &test.nonce, &test.aad, &sealed);
                let supported = group.nonce_size == 96 && group.tag_size == 128;
                if !supported {
                    assert!(opened.is_err(), "{context}: must be rejected");
                    other_nonce_sizes += 1;
                    continue;
                }
                match test.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        assert_eq!(opened.as_deref(), Ok(&test.pt[..]), "{context}");
                        let nonce: [u8; NONCE_LEN] = test.nonce[..].try_into().unwrap();
                        assert_eq!(seal(&key, &nonce, &test.aad, &test.pt), sealed, "{context}");
                    }
                    TestResult::Invalid => {
                        assert!(opened.is_err(), "{context}: must not decrypt");
                    }
                }
                checked += 1;
            }
        }
        // Wycheproof 0.6: 66 vectors with 96-bit IVs (39 valid, 27 invalid), 38 with other IV
        // sizes, and the 128- and 192-bit key groups.
        assert!(checked >= 60, "only {checked} 96-bit vectors checked");
        assert!(
            other_nonce_sizes >= 30,
            "only {other_nonce_sizes} other IV sizes"
        );
        assert!(
            other_key_sizes >= 200,
            "only {other_key_sizes} other key sizes"
        );
    }

    #[test]
    fn short_input_and_wrong_nonce_are_refused() {
        let key = Key::from_bytes(&[9; 32]).unwrap();
        assert_eq!(
            open(&key, &[0; 12], b"", &[0; 15]),
            Err(OpenError::Truncated)
        );
        assert_eq!(
            open(&key, &[0; 16], b"", &[0; 32]),
            Err(OpenError::NonceLength)
        );
        assert_eq!(
            open(&key, &[0; 8], b"", &[0; 32]),
            Err(OpenError::NonceLength)
        );
        let sealed = seal(&key, &[1; 12], b"aad", b"hello");
        assert_eq!(
            open(&key, &[1; 12], b"aad", &sealed).as_deref(),
            Ok(&b"hello"[..])
        );
        assert_eq!(
            open(&key, &[1; 12], b"other", &sealed),
            Err(OpenError::Authentication)
        );
    }
}
