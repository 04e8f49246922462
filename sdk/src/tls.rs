//! Client certificates that rotate without a restart: [`ReloadingClientCert`], a rustls
//! client-certificate resolver that re-reads the certificate and key files at every TLS
//! handshake and switches to them when they changed and form a valid pair.
//!
//! A handshake happens whenever the client (re)connects, so a renewed certificate is used from
//! the next connection on; an established connection stays up (TLS checks the client
//! certificate only during the handshake). A half-written or mismatched pair (e.g. the new
//! certificate written but not yet its key) is logged and ignored: the last good pair stays in
//! use and the files are tried again at the next handshake.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use rustls::{
    SignatureScheme, client::ResolvesClientCert, crypto::CryptoProvider, sign::CertifiedKey,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use zeroize::Zeroizing;

use crate::error::ConnectError;

/// A client certificate and key read from PEM files, re-read at every TLS handshake: a
/// renewed pair is presented from the next (re)connection on, while established connections
/// stay up. A replacement that cannot be used (half-written, or a key that does not match the
/// certificate) is logged and ignored, and the last good pair stays in use.
pub struct ReloadingClientCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Mutex<Loaded>,
}

/// The pair in use and the file contents it came from.
struct Loaded {
    cert_pem: Vec<u8>,
    key_pem: Zeroizing<Vec<u8>>,
    certified: Arc<CertifiedKey>,
}

impl ReloadingClientCert {
    /// Loads the pair now; fails if the files are unreadable, not PEM, or do not match.
    pub fn new(
        cert_path: impl Into<PathBuf>,
        key_path: impl Into<PathBuf>,
    ) -> Result<Self, ConnectError> {
        let cert_path = cert_path.into();
        let key_path = key_path.into();
        let provider = CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let loaded = load(&provider, &cert_path, &key_path)?;
        Ok(Self {
            cert_path,
            key_path,
            provider,
            current: Mutex::new(loaded),
        })
    }

    /// The pair to present now, after re-reading the files if they changed.
    pub fn current(&self) -> Arc<CertifiedKey> {
        let mut current = match self.current.lock() {
            Ok(guard) => guard,
            // A panic while holding the lock cannot leave `Loaded` half-updated (it is replaced
            // whole), so the poisoned value is still consistent.
            Err(poisoned) => poisoned.into_inner(),
        };
        let unchanged = read_files(&self.cert_path, &self.key_path).is_ok_and(|(cert, key)| {
            cert == current.cert_pem && key.as_slice() == current.key_pem.as_slice()
        });
        if !unchanged {
            match load(&self.provider, &self.cert_path, &self.key_path) {
                Ok(loaded) => {
                    tracing::info!(
                        cert = %self.cert_path.display(),
                        "client certificate changed on disk; presenting the new one"
                    );
                    *current = loaded;
                }
                Err(error) => tracing::warn!(
                    %error,
                    "client certificate files changed but cannot be used; keeping the previous \
                     certificate"
                ),
            }
        }
        current.certified.clone()
    }
}

fn read_files(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), ConnectError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| ConnectError::TlsFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    Ok((read(cert_path)?, Zeroizing::new(read(key_path)?)))
}

fn load(
    provider: &CryptoProvider,
    cert_path: &Path,
    key_path: &Path,
) -> Result<Loaded, ConnectError> {
    let (cert_pem, key_pem) = read_files(cert_path, key_path)?;
    let file_error = |path: &Path, reason: String| ConnectError::TlsFile {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert_path, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(file_error(cert_path, "holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| file_error(key_path, format!("not a PEM private key: {e}")))?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        file_error(
            key_path,
            format!("cannot be used with {}: {e}", cert_path.display()),
        )
    })?;
    Ok(Loaded {
        cert_pem,
        key_pem,
        certified: Arc::new(certified),
    })
}

impl ResolvesClientCert for ReloadingClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl fmt::Debug for ReloadingClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingClientCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}
