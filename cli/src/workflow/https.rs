//! The smallest HTTPS client the codec needs: one `POST` per connection, HTTP/1.1 over rustls,
//! verifying the server against the system roots (which honour `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`) plus an optional extra CA. Plain `http://` is refused: payloads in clear
//! text travel on this connection.

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response accepted (decoded histories can be large, but not unbounded).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// An HTTPS client with a fixed trust store.
pub(crate) struct HttpsClient {
    connector: TlsConnector,
}

/// A response: status and body.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl HttpsClient {
    /// A client trusting the system roots and, when given, the CA certificates in `extra_ca`.
    pub(crate) fn new(extra_ca: Option<&Path>) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = extra_ca {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read the codec CA {}", path.display()))?;
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.with_context(|| format!("{} is not PEM", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("{} holds an unusable CA", path.display()))?;
                added += 1;
            }
            if added == 0 {
                anyhow::bail!("{} holds no certificate", path.display());
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// `POST uri` with `headers` and `body`; any status is returned, transport errors are not.
    pub(crate) async fn post(
        &self,
        uri: &Uri,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> anyhow::Result<Response> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.post_now(uri, headers, body))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {REQUEST_TIMEOUT:?}"))?
    }

    async fn post_now(
        &self,
        uri: &Uri,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> anyhow::Result<Response> {
        if uri.scheme_str() != Some("https") {
            anyhow::bail!("only https:// endpoints are allowed, not {uri}");
        }
        let authority = uri.authority().context("the URL has no host")?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(443);
        let name = ServerName::try_from(host.to_string())
            .with_context(|| format!("{host:?} is not a valid server name"))?;
        let tcp = TcpStream::connect((host, port))
            .await
            .with_context(|| format!("cannot connect to {authority}"))?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {authority} failed"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP handshake")?;
        let driver = tokio::spawn(connection);

        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, authority.as_str())
            .body(Full::new(Bytes::from(body)))
            .context("building the request")?;
        request.headers_mut().extend(headers);
        let response = sender.send_request(request).await.context("sending")?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|err| anyhow::anyhow!("reading the response: {err}"))?
            .to_bytes();
        driver.abort();
        Ok(Response { status, body })
    }
}
