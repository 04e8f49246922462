//! `lockstep server start|start-dev`.

use std::{net::IpAddr, path::PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use lockstep_server::{BoundServer, ServerConfig};

use crate::dev;

/// Server commands.
#[derive(Subcommand)]
pub(crate) enum ServerCommand {
    /// Start the server from a configuration file.
    ///
    /// Example: lockstep server start --config /etc/lockstep/server.toml
    Start {
        /// The TOML configuration file (listen, data_dir, policy, [tls], [[namespace]]).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Start a self-contained development server: creates (once) a dev CA, server and client
    /// certificates and a dev policy in the data directory, then serves mTLS on loopback.
    ///
    /// Example: lockstep server start-dev --port 7233 --namespace orders
    StartDev(StartDevArgs),
}

/// Options of `start-dev`.
#[derive(Args)]
pub(crate) struct StartDevArgs {
    /// The gRPC port.
    #[arg(long, short = 'p', default_value_t = 7233)]
    pub(crate) port: u16,
    /// The address to listen on; loopback by default.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) ip: IpAddr,
    /// Where data, certificates and the dev policy live [default: $XDG_DATA_HOME/lockstep/dev].
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// More namespaces to create (repeatable); `default` always exists.
    #[arg(long = "namespace", short = 'n', value_name = "NAME")]
    pub(crate) namespaces: Vec<String>,
    /// The shortest retention, in seconds, a namespace may be created or updated with (e.g.
    /// `--min-retention-secs 2`, then `temporal operator namespace create --retention 2s`).
    #[arg(long, value_name = "SECS", default_value_t = lockstep_server::config::DEFAULT_MIN_RETENTION_SECS)]
    pub(crate) min_retention_secs: u64,
}

pub(crate) fn run(command: ServerCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match command {
            ServerCommand::Start { config } => {
                let config = ServerConfig::load(&config)?;
                serve(config, None).await
            }
            ServerCommand::StartDev(args) => {
                let (config, banner) = dev::prepare(&args)?;
                serve(config, Some(banner)).await
            }
        }
    })
}

async fn serve(config: ServerConfig, banner: Option<dev::Banner>) -> anyhow::Result<()> {
    let server = BoundServer::bind(config).await?;
    if let Some(banner) = banner {
        banner.print(server.local_addr());
    }
    server.serve(shutdown_signal()).await?;
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down: draining calls and flushing the store");
}
