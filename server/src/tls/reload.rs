//! Hot reload of the server's certificate, key and client-CA bundle: the files are re-read on
//! an interval and, when their bytes change and still form a valid configuration, new
//! connections use the new configuration. A broken replacement is logged and the previous
//! configuration stays in force, so a half-written file never takes the server down.

use std::{sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use tokio_rustls::TlsAcceptor;

use super::{TlsError, TlsFiles, config::TlsMaterial};

/// A TLS acceptor whose configuration follows the files on disk.
#[derive(Clone)]
pub struct ReloadingTls {
    files: TlsFiles,
    current: Arc<ArcSwap<(TlsMaterial, TlsAcceptor)>>,
}

impl ReloadingTls {
    /// Loads the files once; fails with a message naming the file to fix.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let material = TlsMaterial::read(&files)?;
        let acceptor = TlsAcceptor::from(Arc::new(material.server_config(&files)?));
        Ok(Self {
            files,
            current: Arc::new(ArcSwap::from_pointee((material, acceptor))),
        })
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current.load().1.clone()
    }

    /// Re-reads the files; swaps in a new configuration if they changed and are valid.
    /// Returns whether the configuration changed.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let material = TlsMaterial::read(&self.files)?;
        if material == self.current.load().0 {
            return Ok(false);
        }
        let acceptor = TlsAcceptor::from(Arc::new(material.server_config(&self.files)?));
        self.current.store(Arc::new((material, acceptor)));
        Ok(true)
    }

    /// Runs `reload` every `interval` until the returned task is aborted.
    pub fn watch(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let files = this.files.clone();
                let reloader = this.clone();
                let outcome = tokio::task::spawn_blocking(move || reloader.reload()).await;
                match outcome {
                    Ok(Ok(true)) => {
                        tracing::info!(cert = %files.cert.display(), "TLS certificates reloaded")
                    }
                    Ok(Ok(false)) => {}
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, "TLS files changed but are not usable; keeping the previous configuration")
                    }
                    Err(err) => tracing::error!(error = %err, "TLS reload task failed"),
                }
            }
        })
    }
}
