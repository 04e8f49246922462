//! Builds the rustls server configuration: TLS 1.3 only, a client certificate REQUIRED and
//! verified against the configured client-CA bundle, ALPN `h2` for gRPC.

use std::{fs, path::Path, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};

use super::{TlsError, TlsFiles};

/// The bytes of the three files a TLS configuration is built from, kept to notice changes.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TlsMaterial {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Vec<u8>,
}

impl TlsMaterial {
    /// Reads the certificate chain, private key and client-CA bundle from disk.
    pub(crate) fn read(files: &TlsFiles) -> Result<Self, TlsError> {
        Ok(Self {
            cert: read_file(&files.cert, "server certificate")?,
            key: read_file(&files.key, "server private key")?,
            client_ca: read_file(&files.client_ca, "client CA bundle")?,
        })
    }

    /// Parses the material into a rustls configuration that requires client certificates.
    pub(crate) fn server_config(&self, files: &TlsFiles) -> Result<ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = parse_certs(&self.cert, &files.cert, "server certificate")?;
        let key = PrivateKeyDer::from_pem_slice(&self.key).map_err(|err| TlsError::Invalid {
            path: files.key.clone(),
            what: "server private key",
            reason: format!("no usable PEM private key ({err})"),
        })?;
        let mut roots = RootCertStore::empty();
        for ca in parse_certs(&self.client_ca, &files.client_ca, "client CA bundle")? {
            roots.add(ca).map_err(|err| TlsError::Invalid {
                path: files.client_ca.clone(),
                what: "client CA bundle",
                reason: err.to_string(),
            })?;
        }
        // The verifier requires a client certificate unless told otherwise; we never tell it.
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|err| TlsError::Invalid {
                    path: files.client_ca.clone(),
                    what: "client CA bundle",
                    reason: err.to_string(),
                })?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|err| TlsError::Rustls(err.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|err| TlsError::Invalid {
                path: files.cert.clone(),
                what: "server certificate and key",
                reason: format!("they do not form a usable pair ({err})"),
            })?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        // No session resumption: a resumed session skips the client-certificate checks, so a
        // certificate that expired or lost its CA could keep connecting. Clients hold one
        // long-lived HTTP/2 connection, so a full handshake per connection costs nothing that
        // matters (see docs/decisions.md).
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(config)
    }
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|err| TlsError::Read {
        path: path.to_path_buf(),
        what,
        reason: err.to_string(),
    })
}

fn parse_certs(
    pem: &[u8],
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::Invalid {
            path: path.to_path_buf(),
            what,
            reason: format!("not valid PEM ({err})"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Invalid {
            path: path.to_path_buf(),
            what,
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}
