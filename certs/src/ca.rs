//! [`Ca`]: a certificate authority that can sign server and client certificates.
//!
//! A CA is created once ([`Ca::generate`]) and loaded from its two PEM files afterwards
//! ([`Ca::load`]). Signing lives in `issue.rs`.

use std::fmt;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PublicKeyData, SignatureAlgorithm, SigningKey,
};
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::X509Certificate;
use zeroize::{Zeroize, Zeroizing};

use crate::certified::CertifiedKey;
use crate::error::CertError;
use crate::files::{read_private_file, read_public_file};
use crate::inspect::{CertInfo, certificate_pem, certificates_in_pem, parse_certificate};
use crate::issue::{distinguished_name, random_serial, validity_days};

/// A certificate authority: its certificate, and the private key that signs with it.
///
/// `Debug` shows the subject and fingerprint only; the key is wiped from memory on drop.
pub struct Ca {
    /// Signs leaves; holds the CA's name, key identifier and key.
    pub(crate) issuer: Issuer<'static, CaKey>,
    /// The CA certificate and key as PEM, for writing to disk.
    certified: CertifiedKey,
    /// The CA certificate as DER, to check leaves against.
    cert_der: Vec<u8>,
    /// What the CA certificate says (validity, fingerprint), parsed once.
    info: CertInfo,
}

impl Ca {
    /// Creates a self-signed CA valid for `days` days: ECDSA P-256, `basicConstraints CA:TRUE,
    /// pathlen:0` (it signs leaves only), key usage `keyCertSign, cRLSign`, random serial.
    pub fn generate(common_name: &str, days: u32) -> Result<Self, CertError> {
        let (not_before, not_after) = validity_days(days)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(common_name)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial()?);
        params.not_before = not_before;
        params.not_after = not_after;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CertError::generate("CA key", e))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| CertError::generate("CA certificate", e))?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        let der = cert.der().to_vec();
        let info = info_of(&der, "<generated CA>")?;
        Ok(Self {
            issuer: Issuer::new(params, CaKey(key)),
            certified: CertifiedKey::new(cert.pem(), key_pem),
            cert_der: der,
            info,
        })
    }

    /// Loads a CA from its PEM certificate (the first certificate in the file) and its PEM
    /// PKCS#8 private key, checking that the certificate is a CA and that the key is its key.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, CertError> {
        let origin = cert_path.display().to_string();
        let pem = read_public_file(cert_path)?;
        let der = certificates_in_pem(&pem, &origin)?
            .into_iter()
            .next()
            .ok_or_else(|| CertError::NoCertificate {
                origin: origin.clone(),
            })?;
        let info = info_of(&der, &origin)?;
        if !info.is_ca {
            return Err(CertError::NotCa {
                path: cert_path.to_owned(),
            });
        }

        let key_text = read_private_file(key_path)?;
        let key = KeyPair::from_pem(&key_text).map_err(|e| CertError::InvalidKey {
            path: key_path.to_owned(),
            reason: e.to_string(),
        })?;
        let cert = parse_certificate(&der, &origin)?;
        if !key_matches(&key, &cert) {
            return Err(CertError::KeyMismatch {
                cert_path: cert_path.to_owned(),
                key_path: key_path.to_owned(),
            });
        }
        // Re-encode rather than keep the file's text: the file may hold more than this one
        // certificate (a chain, or even a key) and `cert_pem` must be exactly the CA.
        let certified =
            CertifiedKey::new(certificate_pem(&der), Zeroizing::new(key.serialize_pem()));
        let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(der.as_slice()), CaKey(key))
            .map_err(|e| CertError::InvalidCertificate {
                origin,
                reason: e.to_string(),
            })?;
        Ok(Self {
            issuer,
            certified,
            cert_der: der,
            info,
        })
    }

    /// The CA certificate and key as PEM (write them with [`CertifiedKey::write`]).
    pub fn certified_key(&self) -> &CertifiedKey {
        &self.certified
    }

    /// The CA certificate, PEM: what servers and clients put in their trust store.
    pub fn cert_pem(&self) -> &str {
        &self.certified.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// What the CA certificate says: subject, validity, fingerprint, ...
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// Writes the CA key (0600) and certificate (0644); see [`CertifiedKey::write`].
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), CertError> {
        self.certified.write(cert_path, key_path)
    }

    /// Whether `leaf` names this CA as its issuer and carries a valid signature by its key.
    pub(crate) fn signed(&self, leaf: &X509Certificate<'_>) -> bool {
        let Ok(ca) = parse_certificate(&self.cert_der, "<CA>") else {
            return false;
        };
        leaf.issuer() == ca.subject() && leaf.verify_signature(Some(ca.public_key())).is_ok()
    }
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("subject", &self.info.subject)
            .field("not_after", &self.info.not_after)
            .field("sha256_fingerprint", &self.info.sha256_fingerprint)
            .finish_non_exhaustive()
    }
}

/// Whether `key` is the private half of the public key in `cert`.
pub(crate) fn key_matches(key: &KeyPair, cert: &X509Certificate<'_>) -> bool {
    key.public_key_raw() == cert.public_key().subject_public_key.data.as_ref()
}

fn info_of(der: &[u8], origin: &str) -> Result<CertInfo, CertError> {
    let cert = parse_certificate(der, origin)?;
    CertInfo::from_x509(der, &cert).map_err(|reason| CertError::InvalidCertificate {
        origin: origin.to_owned(),
        reason,
    })
}

/// The CA's key pair, wiped from memory on drop.
///
/// Best effort: this wipes the serialized PKCS#8 copy rcgen keeps; the crypto library's own
/// key schedule is not under our control.
pub(crate) struct CaKey(KeyPair);

impl Drop for CaKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl PublicKeyData for CaKey {
    fn der_bytes(&self) -> &[u8] {
        self.0.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        PublicKeyData::algorithm(&self.0)
    }
}

impl SigningKey for CaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.0.sign(msg)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use x509_parser::extensions::ParsedExtension;

    use super::*;
    use crate::inspect_pem;

    fn der_of(pem: &str) -> Vec<u8> {
        certificates_in_pem(pem.as_bytes(), "test")
            .unwrap()
            .remove(0)
    }

    #[test]
    fn generated_ca_is_a_constrained_self_signed_p256_ca() {
        let ca = Ca::generate("Test CA", 30).unwrap();
        let der = der_of(ca.cert_pem());
        assert_eq!(der, ca.cert_der());
        let cert = parse_certificate(&der, "test").unwrap();
        let bc = cert.basic_constraints().unwrap().unwrap();
        assert!(bc.critical);
        assert!(bc.value.ca);
        assert_eq!(bc.value.path_len_constraint, Some(0));
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        assert!(!ku.digital_signature());
        assert_eq!(
            cert.public_key().algorithm.algorithm,
            x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
        );
        cert.verify_signature(None).unwrap();
        assert!(cert.iter_extensions().any(|e| matches!(
            e.parsed_extension(),
            ParsedExtension::SubjectKeyIdentifier(_)
        )));
        assert_eq!(cert.raw_serial().len(), 16);

        let info = ca.info();
        assert!(info.is_ca);
        assert_eq!(info.subject, "CN=Test CA");
        assert_eq!(info.subject, info.issuer);
        assert!(info.principal.is_none());
        let days = (info.not_after - info.not_before).whole_days();
        assert_eq!(days, 30);
        assert!(
            ca.certified_key()
                .key_pem()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let ca = Ca::generate("Test CA", 1).unwrap();
        let debug = format!("{ca:?} {:?} {:#?}", ca.certified_key(), ca.certified_key());
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(!debug.contains(ca.certified_key().key_pem().lines().nth(1).unwrap()));
        assert!(debug.contains("Test CA"));
    }

    #[test]
    fn bad_requests_are_refused() {
        assert!(matches!(
            Ca::generate("Test CA", 0),
            Err(CertError::InvalidRequest(_))
        ));
        assert!(matches!(
            Ca::generate(" ", 1),
            Err(CertError::InvalidRequest(_))
        ));
        assert!(matches!(
            Ca::generate("a\nb", 1),
            Err(CertError::InvalidRequest(_))
        ));
        assert!(matches!(
            Ca::generate(&"a".repeat(65), 1),
            Err(CertError::InvalidRequest(_))
        ));
    }

    #[test]
    fn load_round_trips_and_signs_like_the_original() {
        let tmp = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (tmp.path().join("ca.pem"), tmp.path().join("ca-key.pem"));
        let ca = Ca::generate("Round Trip CA", 10).unwrap();
        ca.write(&cert_path, &key_path).unwrap();

        let loaded = Ca::load(&cert_path, &key_path).unwrap();
        assert_eq!(loaded.cert_der(), ca.cert_der());
        assert_eq!(loaded.cert_pem(), ca.cert_pem());
        assert_eq!(
            loaded.certified_key().key_pem(),
            ca.certified_key().key_pem()
        );
        assert_eq!(loaded.info(), ca.info());

        let ca_cert = parse_certificate(ca.cert_der(), "ca").unwrap();
        let ski = ca_cert
            .iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            })
            .unwrap();
        for issuer in [&ca, &loaded] {
            let leaf = issuer.issue_client("worker", 1).unwrap();
            let der = der_of(&leaf.cert_pem);
            let cert = parse_certificate(&der, "leaf").unwrap();
            assert_eq!(cert.issuer(), ca_cert.subject());
            cert.verify_signature(Some(ca_cert.public_key())).unwrap();
            assert!(ca.signed(&cert) && loaded.signed(&cert));
            let aki = cert
                .iter_extensions()
                .find_map(|e| match e.parsed_extension() {
                    ParsedExtension::AuthorityKeyIdentifier(aki) => {
                        aki.key_identifier.as_ref().map(|id| id.0.to_vec())
                    }
                    _ => None,
                })
                .unwrap();
            assert_eq!(aki, ski);
            assert_eq!(
                inspect_pem(leaf.cert_pem.as_bytes()).unwrap()[0].issuer,
                "CN=Round Trip CA"
            );
        }
    }

    #[test]
    fn load_keeps_only_the_first_certificate_of_a_bundle() {
        let tmp = tempfile::tempdir().unwrap();
        let ca = Ca::generate("Bundle CA", 1).unwrap();
        let other = Ca::generate("Other CA", 1).unwrap();
        let bundle = format!(
            "{}{}{}",
            ca.cert_pem(),
            ca.certified_key().key_pem(),
            other.cert_pem()
        );
        let (cert_path, key_path) = (tmp.path().join("bundle.pem"), tmp.path().join("key.pem"));
        fs::write(&cert_path, bundle).unwrap();
        write_private(&key_path, ca.certified_key().key_pem());
        let loaded = Ca::load(&cert_path, &key_path).unwrap();
        assert_eq!(loaded.cert_pem(), ca.cert_pem());
        assert!(!loaded.cert_pem().contains("PRIVATE KEY"));
    }

    fn write_private(path: &Path, text: &str) {
        crate::write_private_file(path, text.as_bytes()).unwrap();
    }

    #[test]
    fn load_errors_name_the_file_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let ca = Ca::generate("CA", 1).unwrap();
        let other = Ca::generate("Other", 1).unwrap();
        ca.write(&dir.join("ca.pem"), &dir.join("ca-key.pem"))
            .unwrap();
        other
            .write(&dir.join("other.pem"), &dir.join("other-key.pem"))
            .unwrap();
        ca.issue_client("worker", 1)
            .unwrap()
            .write(&dir.join("leaf.pem"), &dir.join("leaf-key.pem"))
            .unwrap();
        fs::write(
            dir.join("garbage-key.pem"),
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0c2VjcmV0\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();

        let err = Ca::load(&dir.join("missing.pem"), &dir.join("ca-key.pem")).unwrap_err();
        assert!(
            matches!(err, CertError::Io { .. }) && err.to_string().contains("missing.pem"),
            "{err}"
        );

        let err = Ca::load(&dir.join("leaf.pem"), &dir.join("leaf-key.pem")).unwrap_err();
        assert!(
            matches!(err, CertError::NotCa { .. }) && err.to_string().contains("leaf.pem"),
            "{err}"
        );

        let err = Ca::load(&dir.join("ca.pem"), &dir.join("other-key.pem")).unwrap_err();
        assert!(matches!(err, CertError::KeyMismatch { .. }), "{err}");
        assert!(err.to_string().contains("other-key.pem") && err.to_string().contains("ca.pem"));

        let err = Ca::load(&dir.join("ca.pem"), &dir.join("garbage-key.pem")).unwrap_err();
        assert!(matches!(err, CertError::InvalidKey { .. }), "{err}");
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");

        let err = Ca::load(&dir.join("ca-key.pem"), &dir.join("ca-key.pem")).unwrap_err();
        assert!(matches!(err, CertError::NoCertificate { .. }), "{err}");
        assert!(
            !err.to_string()
                .contains(ca.certified_key().key_pem().lines().nth(1).unwrap())
        );
    }
}
