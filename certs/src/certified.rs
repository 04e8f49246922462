//! [`CertifiedKey`]: a certificate with its private key, in PEM, and how they go to disk.

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::CertError;
use crate::files::{write_private_file, write_public_file};

/// A PEM certificate and its PEM private key.
///
/// The key is wiped from memory on drop and never shown by `Debug`; the only ways to reach it
/// are [`CertifiedKey::key_pem`] and [`CertifiedKey::write`].
#[derive(Clone)]
pub struct CertifiedKey {
    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    key_pem: Zeroizing<String>,
}

impl CertifiedKey {
    /// Pairs a PEM certificate with its PEM private key.
    pub(crate) fn new(cert_pem: String, key_pem: Zeroizing<String>) -> Self {
        Self { cert_pem, key_pem }
    }

    /// The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Never print or log it.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Writes the key to `key_path` (mode 0600, created with that mode) and then the certificate
    /// to `cert_path` (mode 0644). Missing parent directories are created with mode 0700.
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), CertError> {
        write_private_file(key_path, self.key_pem.as_bytes())?;
        write_public_file(cert_path, self.cert_pem.as_bytes())
    }
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use crate::Ca;

    #[test]
    fn key_is_0600_and_cert_is_world_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let leaf = Ca::generate("CA", 1)
            .unwrap()
            .issue_client("worker", 1)
            .unwrap();
        let (cert, key) = (
            tmp.path().join("certs/worker.pem"),
            tmp.path().join("keys/worker-key.pem"),
        );
        leaf.write(&cert, &key).unwrap();
        let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&tmp.path().join("keys")), 0o700);
        // 0644 minus whatever the umask removes; never writable by others.
        assert_eq!(mode(&cert) & 0o622, 0o600);
        assert_eq!(fs::read_to_string(&key).unwrap(), leaf.key_pem());
        assert_eq!(fs::read_to_string(&cert).unwrap(), leaf.cert_pem);
    }

    #[test]
    fn debug_redacts_the_key() {
        let leaf = Ca::generate("CA", 1)
            .unwrap()
            .issue_client("worker", 1)
            .unwrap();
        let debug = format!("{leaf:?}");
        assert!(
            !debug.contains("PRIVATE KEY") && debug.contains("<redacted>"),
            "{debug}"
        );
    }
}
