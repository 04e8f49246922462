//! The secure connection: [`connect`] takes the server address, the namespace, the TLS files
//! and the codec, and returns the official SDK's [`Client`] with the codec installed — ready
//! for `client.start_workflow(…)` and for `temporalio_sdk::Worker::new(…, client, …)`.
//!
//! There is no plaintext path: an `http://` address is refused before anything is dialled, the
//! server is verified against the CA you give (not the system roots), and the client
//! certificate is presented through [`ReloadingClientCert`], so renewing the certificate files
//! takes effect at the next reconnection without restarting the worker.

use std::path::{Path, PathBuf};

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, TlsOptions, Url};

use rustls_pki_types::{CertificateDer, pem::PemObject};

use crate::{converter::CodecOptions, error::ConnectError, tls::ReloadingClientCert};

/// The TLS files of a connection: the CA that signed the server's certificate, the client
/// certificate and its private key (PEM), and the name to verify the server as.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    server_name: Option<String>,
}

impl TlsFiles {
    /// The CA bundle, client certificate and client key; the server is verified under the
    /// address's host name unless [`TlsFiles::server_name`] says otherwise.
    pub fn new(
        ca: impl Into<PathBuf>,
        client_cert: impl Into<PathBuf>,
        client_key: impl Into<PathBuf>,
    ) -> Self {
        Self {
            ca: ca.into(),
            client_cert: client_cert.into(),
            client_key: client_key.into(),
            server_name: None,
        }
    }

    /// The files `lockstep server start-dev` writes into `<data dir>/certs` for `principal`
    /// (`worker`, `client`, `admin`, `viewer`): `ca.pem`, `<principal>.pem`,
    /// `<principal>-key.pem`; server name `localhost`.
    pub fn dev(certs_dir: &Path, principal: &str) -> Self {
        Self::new(
            certs_dir.join("ca.pem"),
            certs_dir.join(format!("{principal}.pem")),
            certs_dir.join(format!("{principal}-key.pem")),
        )
        .server_name("localhost")
    }

    /// The name the server's certificate must carry (SNI and verification), e.g. when
    /// connecting by IP address.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }
}

/// Everything [`connect`] needs.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    address: String,
    namespace: String,
    tls: TlsFiles,
    codec: CodecOptions,
    identity: Option<String>,
}

impl ConnectOptions {
    /// `address` is `host:port` or an `https://` URL; `namespace` is the one the client (and
    /// hardened payloads) are bound to.
    pub fn new(
        address: impl Into<String>,
        namespace: impl Into<String>,
        tls: TlsFiles,
        codec: CodecOptions,
    ) -> Self {
        Self {
            address: address.into(),
            namespace: namespace.into(),
            tls,
            codec,
            identity: None,
        }
    }

    /// The identity the server records for this client's calls (default: `pid@host`).
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into());
        self
    }
}

/// Connects over mutual TLS and returns the official SDK client bound to the namespace, with
/// the codec of `options` installed: use it to start workflows, or hand it to
/// `temporalio_sdk::Worker::new`.
///
/// An `http://` address is refused before anything is dialled; the server is verified against
/// the given CA only (not the system roots); the client certificate is presented through
/// [`ReloadingClientCert`](crate::ReloadingClientCert), so renewed certificate files take
/// effect at the next reconnection without restarting the worker.
pub async fn connect(options: ConnectOptions) -> Result<Client, ConnectError> {
    let ConnectOptions {
        address,
        namespace,
        tls,
        codec,
        identity,
    } = options;
    let url = https_url(&address)?;
    let ca = std::fs::read(&tls.ca).map_err(|e| ConnectError::TlsFile {
        path: tls.ca.clone(),
        reason: e.to_string(),
    })?;
    if !CertificateDer::pem_slice_iter(&ca).any(|cert| cert.is_ok()) {
        return Err(ConnectError::TlsFile {
            path: tls.ca.clone(),
            reason: "holds no PEM certificate".into(),
        });
    }
    let resolver = ReloadingClientCert::new(&tls.client_cert, &tls.client_key)?;
    let tls_options = TlsOptions::builder()
        .server_root_ca_cert(ca)
        .maybe_domain(tls.server_name)
        .client_cert_resolver(std::sync::Arc::new(resolver))
        .build();
    let identity = identity.unwrap_or_else(default_identity);
    let connection_options = ConnectionOptions::new(dial_url(&url)?)
        .identity(identity)
        .tls_options(tls_options)
        // The SDK's DNS load balancing cannot use a certificate resolver; one connection to the
        // address given is what a Lockstep server (a single binary) needs.
        .dns_load_balancing(None)
        .build();
    let connection = Connection::connect(connection_options)
        .await
        .map_err(|source| ConnectError::Connect {
            address: url.to_string(),
            source,
        })?;
    let client_options = ClientOptions::new(namespace.clone())
        .data_converter(codec.data_converter(&namespace))
        .build();
    Ok(Client::new(connection, client_options)?)
}

/// `host:port` → `https://host:port`; an `https://` URL as is; anything else refused.
fn https_url(address: &str) -> Result<Url, ConnectError> {
    let invalid = |reason: String| ConnectError::InvalidAddress {
        address: address.to_string(),
        reason,
    };
    let (text, bare) = match address.split_once("://") {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => (address.to_string(), false),
        Some(_) => {
            return Err(ConnectError::Plaintext {
                address: address.to_string(),
            });
        }
        None => (format!("https://{address}"), true),
    };
    let url = Url::parse(&text).map_err(|e| invalid(e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    // A bare `host` would silently mean port 443; Lockstep listens on 7233 by default.
    let has_port = address
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    if bare && !has_port {
        return Err(invalid(
            "give host:port (Lockstep listens on 7233 by default)".into(),
        ));
    }
    Ok(url)
}

/// The URL handed to the SDK. With a client-certificate resolver the SDK dials through its own
/// rustls connector, which always does TLS (with the CA and server name above), and tonic
/// refuses an `https` URI on a custom connector ("HTTPS without TLS enabled"). So the scheme
/// given to tonic is `http`, while the bytes on the wire are TLS from the first one: there is no
/// code path that reaches the server without the handshake (a test checks the first byte).
fn dial_url(url: &Url) -> Result<Url, ConnectError> {
    let invalid = |reason: &str| ConnectError::InvalidAddress {
        address: url.to_string(),
        reason: reason.to_string(),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| invalid("no port"))?;
    let mut dial = url.clone();
    dial.set_scheme("http")
        .map_err(|()| invalid("cannot be dialled"))?;
    dial.set_port(Some(port))
        .map_err(|()| invalid("cannot carry a port"))?;
    Ok(dial)
}

fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{}@{host}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            https_url("127.0.0.1:7233").unwrap().as_str(),
            "https://127.0.0.1:7233/"
        );
        assert!(https_url("https://lockstep.internal:7233").is_ok());
        for plaintext in ["http://127.0.0.1:7233", "HTTP://x:1", "grpc://x:1"] {
            assert!(
                matches!(https_url(plaintext), Err(ConnectError::Plaintext { .. })),
                "{plaintext}"
            );
        }
        assert!(matches!(
            https_url("localhost"),
            Err(ConnectError::InvalidAddress { .. })
        ));
        let dial = dial_url(&https_url("https://lockstep.internal").unwrap()).unwrap();
        assert_eq!(dial.as_str(), "http://lockstep.internal:443/");
    }
}
