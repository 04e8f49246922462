//! Wires the server together: store → namespaces → API, behind the authorization layer, behind
//! the mTLS listener. `BoundServer::bind` does everything that can fail with a configuration
//! error before the first connection is accepted.

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;

use crate::{
    api::{ApiState, OperatorApi, WorkflowApi},
    auth::{AuthLayer, Policy, PolicyError},
    config::{ConfigError, ServerConfig},
    executions::{ExecutionError, Executions},
    grpc::workflow_service_server::WorkflowServiceServer,
    namespaces::{DEFAULT_NAMESPACE, NamespaceError, Namespaces, PayloadPolicy},
    operator_grpc::operator_service_server::OperatorServiceServer,
    store::{Committer, SledStore, StoreError},
    tls::{ReloadingTls, TlsError, TlsIncoming},
    tokens::{TokenError, TokenKey},
};

/// How long shutdown waits for clients to finish in-flight calls and close their connections.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS files are missing or invalid.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The policy is missing or invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The data directory cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The namespaces could not be loaded or created.
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    /// Executions could not be loaded.
    #[error(transparent)]
    Executions(#[from] ExecutionError),
    /// The task-token key could not be loaded or created.
    #[error(transparent)]
    Tokens(#[from] TokenError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        reason: String,
    },
    /// The gRPC transport failed.
    #[error("gRPC transport failed: {0}")]
    Transport(String),
}

/// A server whose listener is bound and whose state is loaded, ready to serve.
pub struct BoundServer {
    config: ServerConfig,
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: ReloadingTls,
    policy: Arc<Policy>,
    committer: Committer,
    api: WorkflowApi,
    operator: OperatorApi,
    executions: Arc<Executions>,
}

impl BoundServer {
    /// Opens the store, loads namespaces, policy and TLS files, and binds the listener.
    pub async fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        config.validate("")?;
        let tls = ReloadingTls::load(config.tls.clone())?;
        let policy = Arc::new(Policy::load(&config.policy)?);
        let data_dir: PathBuf = config.data_dir.clone();
        let store = tokio::task::spawn_blocking(move || SledStore::open(&data_dir))
            .await
            .map_err(|err| ServerError::Transport(err.to_string()))??;
        let committer = Committer::start(Arc::new(store));
        let namespaces = Arc::new(
            Namespaces::load(committer.clone())?.with_min_retention(config.min_retention()),
        );
        namespaces
            .ensure(
                DEFAULT_NAMESPACE,
                PayloadPolicy::Any,
                crate::config::NamespaceSpec::named(DEFAULT_NAMESPACE).retention(),
            )
            .await?;
        for spec in &config.namespaces {
            namespaces
                .ensure(&spec.name, spec.payload_policy, spec.retention())
                .await?;
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|err| ServerError::Bind {
                addr: config.listen,
                reason: err.to_string(),
            })?;
        let local_addr = listener.local_addr().map_err(|err| ServerError::Bind {
            addr: config.listen,
            reason: err.to_string(),
        })?;
        let tokens = TokenKey::load_or_create(&config.data_dir)?;
        let executions = Executions::open(committer.clone(), tokens, namespaces.clone())?;
        let state = Arc::new(ApiState::new(
            namespaces,
            policy.clone(),
            executions.clone(),
        ));
        let api = WorkflowApi::new(state.clone());
        let operator = OperatorApi::new(state);
        Ok(Self {
            config,
            listener,
            local_addr,
            tls,
            policy,
            committer,
            api,
            operator,
            executions,
        })
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then drains in-flight calls and flushes the store.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let max = self.config.max_message_bytes;
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<WorkflowServiceServer<WorkflowApi>>()
            .await;
        let workflow_service = WorkflowServiceServer::new(self.api)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let operator_service = OperatorServiceServer::new(self.operator)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let watcher = self.tls.watch(self.config.tls_reload_interval());
        let timer_driver = self.executions.spawn_timer_driver();
        let executions = self.executions.clone();
        let incoming = TlsIncoming::new(self.listener, self.tls);
        tracing::info!(addr = %self.local_addr, "serving WorkflowService over mTLS");
        let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            // Long polls answer empty at once, so clients let go of their connections.
            executions.shutdown();
            let _ = stopping_tx.send(());
        };
        let serve = tonic::transport::Server::builder()
            .layer(AuthLayer::new(self.policy, max))
            .add_service(health_service)
            .add_service(workflow_service)
            .add_service(operator_service)
            .serve_with_incoming_shutdown(incoming, signal);
        // Graceful shutdown waits for clients to close their connections; a client that never
        // does must not keep the server alive, so draining is bounded.
        let drain_deadline = async move {
            let _ = stopping.await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        };
        let served = tokio::select! {
            served = serve => served,
            () = drain_deadline => {
                tracing::warn!(timeout = ?DRAIN_TIMEOUT, "connections still open after draining; closing them");
                Ok(())
            }
        };
        watcher.abort();
        self.executions.shutdown();
        let _ = timer_driver.await;
        let flushed = self.committer.flush_now().await;
        served.map_err(|err| ServerError::Transport(err.to_string()))?;
        flushed?;
        // Everything is durable already; the checkpoint only spares the next start a replay.
        let store = Arc::clone(self.committer.store());
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "no checkpoint at shutdown; the next start replays the log")
            }
            Err(error) => tracing::warn!(%error, "the shutdown checkpoint did not run"),
        }
        tracing::info!(
            commits = self.committer.commit_count(),
            flushes = self.committer.flush_count(),
            "server stopped; store flushed"
        );
        Ok(())
    }
}
