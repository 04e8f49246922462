//! Clients with chosen identities: tonic channels for gRPC calls and raw rustls connections for
//! handshake-level checks.

use std::{net::SocketAddr, path::Path, sync::Arc};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use temporalio_protos::temporal::api::{
    operatorservice::v1::operator_service_client::OperatorServiceClient,
    workflowservice::v1::workflow_service_client::WorkflowServiceClient,
};
use tokio::net::TcpStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

/// A client certificate and key in PEM.
#[derive(Clone)]
pub struct Identity {
    /// Certificate chain PEM.
    pub cert_pem: Vec<u8>,
    /// Private key PEM.
    pub key_pem: Vec<u8>,
}

impl Identity {
    /// Reads `<dir>/<name>.pem` and `<dir>/<name>-key.pem`.
    pub fn from_dir(dir: &Path, name: &str) -> Self {
        Self {
            cert_pem: std::fs::read(dir.join(format!("{name}.pem"))).expect("client cert"),
            key_pem: std::fs::read(dir.join(format!("{name}-key.pem"))).expect("client key"),
        }
    }

    /// Like [`Identity::from_dir`], but None while the files do not exist yet.
    pub fn try_from_dir(dir: &Path, name: &str) -> Option<Self> {
        Some(Self {
            cert_pem: std::fs::read(dir.join(format!("{name}.pem"))).ok()?,
            key_pem: std::fs::read(dir.join(format!("{name}-key.pem"))).ok()?,
        })
    }

    /// From an issued certificate.
    pub fn from_issued(issued: &lockstep_certs::CertifiedKey) -> Self {
        Self {
            cert_pem: issued.cert_pem.as_bytes().to_vec(),
            key_pem: issued.key_pem().as_bytes().to_vec(),
        }
    }
}

/// A WorkflowService client over mTLS (or TLS without a client certificate when `identity` is
/// None), trusting `ca_pem`, verifying the server name `localhost`.
pub async fn workflow_client(
    addr: SocketAddr,
    ca_pem: &[u8],
    identity: Option<&Identity>,
) -> Result<WorkflowServiceClient<Channel>, tonic::transport::Error> {
    let channel = tls_channel(addr, ca_pem, identity).await?;
    Ok(WorkflowServiceClient::new(channel).max_decoding_message_size(128 << 20))
}

/// A gRPC channel over mTLS (TLS only when `identity` is None), trusting `ca_pem`, verifying the
/// server name `localhost`.
pub async fn tls_channel(
    addr: SocketAddr,
    ca_pem: &[u8],
    identity: Option<&Identity>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some(identity) = identity {
        tls = tls.identity(tonic::transport::Identity::from_pem(
            &identity.cert_pem,
            &identity.key_pem,
        ));
    }
    Channel::from_shared(format!("https://{addr}"))
        .expect("valid uri")
        .tls_config(tls)?
        .connect()
        .await
}

/// A plaintext HTTP/2 gRPC client (must be refused by Lockstep).
pub async fn plaintext_client(
    addr: SocketAddr,
) -> Result<WorkflowServiceClient<Channel>, tonic::transport::Error> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect()
        .await?;
    Ok(WorkflowServiceClient::new(channel))
}

/// A raw rustls client configuration: chosen protocol versions, optional client identity.
pub fn rustls_config(
    ca_pem: &[u8],
    identity: Option<&Identity>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("CA PEM")).expect("CA cert");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(identity) => {
            let chain = CertificateDer::pem_slice_iter(&identity.cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .expect("client PEM");
            let key = PrivateKeyDer::from_pem_slice(&identity.key_pem).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// Connects with `config`, completes the handshake and reads once: TLS 1.3 reports a refused
/// client certificate only after the client's side of the handshake, on the first read.
/// Returns the server certificate (DER) on success.
pub async fn handshake(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let server_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| c.as_ref().to_vec())
        .ok_or("no server certificate")?;
    // The HTTP/2 preface makes the server answer with its SETTINGS if it accepted us.
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), tls.read(&mut buf))
        .await
        .map_err(|_| "no answer".to_string())?;
    match read {
        Ok(0) => Err("closed by server".into()),
        Ok(_) => Ok(server_cert),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// A WorkflowService client of a dev server, as one of its dev principals.
pub async fn dev_client(
    server: &crate::DevServer,
    principal: &str,
) -> WorkflowServiceClient<Channel> {
    WorkflowServiceClient::new(dev_channel(server, principal).await)
        .max_decoding_message_size(128 << 20)
}

/// An OperatorService client of a dev server (search attributes), as one of its dev
/// principals.
pub async fn dev_operator_client(
    server: &crate::DevServer,
    principal: &str,
) -> OperatorServiceClient<Channel> {
    OperatorServiceClient::new(dev_channel(server, principal).await)
}

/// A channel to a dev server with the dev CA and `principal`'s dev certificate.
async fn dev_channel(server: &crate::DevServer, principal: &str) -> Channel {
    let certs = server.certs_dir();
    let ca = std::fs::read(certs.join("ca.pem")).expect("dev CA");
    let identity = Identity::from_dir(&certs, principal);
    tls_channel(server.addr(), &ca, Some(&identity))
        .await
        .expect("connect to the dev server")
}
