//! The rustls configuration: TLS 1.3 only; client certificates requested when a client CA is
//! configured, verified against it when presented, but optional (browsers bring bearer tokens).
//! A client certificate from another CA fails the handshake.

use std::{fs, path::Path, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};

use crate::{config::TlsConfig, error::CodecServerError};

/// Builds the server configuration from the configured files, with ALPN `h2` and `http/1.1`.
pub(crate) fn server_config(files: &TlsConfig) -> Result<ServerConfig, CodecServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_certs(&files.cert, "server certificate")?;
    let key_pem = zeroize::Zeroizing::new(read(&files.key, "server private key")?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|err| CodecServerError::Tls {
        what: "server private key",
        path: files.key.clone(),
        reason: format!("no usable PEM private key ({err})"),
    })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|err| CodecServerError::Tls {
            what: "TLS",
            path: files.cert.clone(),
            reason: err.to_string(),
        })?;
    let builder = match &files.client_ca {
        Some(ca_path) => {
            let invalid = |reason: String| CodecServerError::Tls {
                what: "client CA bundle",
                path: ca_path.clone(),
                reason,
            };
            let mut roots = RootCertStore::empty();
            for ca in read_certs(ca_path, "client CA bundle")? {
                roots.add(ca).map_err(|err| invalid(err.to_string()))?;
            }
            // Optional, because browsers authenticate with tokens; but a certificate that is
            // presented must verify, or the handshake fails.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|err| invalid(err.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|err| CodecServerError::Tls {
            what: "server certificate and key",
            path: files.cert.clone(),
            reason: format!("they do not form a usable pair ({err})"),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, CodecServerError> {
    fs::read(path).map_err(|err| CodecServerError::Tls {
        what,
        path: path.to_path_buf(),
        reason: format!("cannot read it: {err}"),
    })
}

fn read_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, CodecServerError> {
    let invalid = |reason: String| CodecServerError::Tls {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&read(path, what)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(format!("not valid PEM ({err})")))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}
