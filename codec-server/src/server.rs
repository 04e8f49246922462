//! The accept loop: TCP connections are handshaken concurrently under a connection limit, then
//! served by hyper (HTTP/1.1 or HTTP/2, as ALPN says) until shutdown, which stops accepting and
//! lets in-flight requests finish.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use hyper::service::service_fn;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_rustls::TlsAcceptor;

use lockstep_policy::Policy;

use crate::{
    audit::AuditLog,
    codec::Codec,
    config::CodecServerConfig,
    cors::Cors,
    error::CodecServerError,
    handler::{AppState, Peer, handle},
    jwt::TokenVerifier,
    rate_limit::RateLimiter,
    tls,
};

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may take to finish after shutdown is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound, ready codec server. [`CodecServer::run`] serves it.
pub struct CodecServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<AppState>,
    max_connections: usize,
}

impl CodecServer {
    /// Loads everything `config` names (TLS files, policy, token keys, audit log), binds the
    /// listen address, and serves `codec`. Nothing is served until [`CodecServer::run`].
    pub async fn bind(
        config: CodecServerConfig,
        codec: Arc<dyn Codec>,
    ) -> Result<Self, CodecServerError> {
        config.validate("(given)")?;
        let tls_config = tls::server_config(&config.tls)?;
        let policy = Policy::load(&config.policy)?;
        let verifier = config
            .jwt
            .as_ref()
            .map(TokenVerifier::load)
            .transpose()
            .map_err(CodecServerError::Jwt)?;
        let audit = AuditLog::open(&config.audit_log).map_err(|err| CodecServerError::Audit {
            path: config.audit_log.clone(),
            reason: err.to_string(),
        })?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|err| CodecServerError::Bind {
                    addr: config.listen,
                    reason: err.to_string(),
                })?;
        let limits = config.limits;
        let state = AppState {
            policy,
            verifier,
            limiter: RateLimiter::new(limits.requests_per_second, limits.burst),
            cors: Cors::new(&config.cors.allowed_origins),
            audit: Arc::new(audit),
            codec,
            limits: limits.clone(),
        };
        Ok(Self {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(tls_config)),
            state: Arc::new(state),
            max_connections: limits.max_connections,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, CodecServerError> {
        self.listener
            .local_addr()
            .map_err(|err| CodecServerError::Bind {
                addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                reason: err.to_string(),
            })
    }

    /// Serves until `shutdown` completes, then stops accepting and waits (up to 10 s) for
    /// in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), CodecServerError> {
        let graceful = GracefulShutdown::new();
        let permits = Arc::new(Semaphore::new(self.max_connections));
        tokio::pin!(shutdown);
        tracing::info!(addr = ?self.listener.local_addr().ok(), "codec server listening");
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let (tcp, remote) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let acceptor = self.acceptor.clone();
            let state = self.state.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _permit = permit;
                let stream =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(err)) => {
                            tracing::debug!(%remote, %err, "TLS handshake refused");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%remote, "TLS handshake timed out");
                            return;
                        }
                    };
                let peer = Peer {
                    remote,
                    cert_principal: cert_principal(stream.get_ref().1),
                };
                let service =
                    service_fn(move |request| handle(state.clone(), peer.clone(), request));
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT);
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                if let Err(err) = watcher.watch(connection).await {
                    tracing::debug!(%remote, %err, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish in time");
        }
        Ok(())
    }
}

/// The principal of the verified client certificate, if one was presented and names one.
fn cert_principal(connection: &rustls::ServerConnection) -> Option<String> {
    let leaf = connection.peer_certificates()?.first()?;
    match lockstep_certs::principal_from_der(leaf) {
        Ok(principal) => principal,
        Err(err) => {
            tracing::warn!(%err, "client certificate names no usable principal");
            None
        }
    }
}
