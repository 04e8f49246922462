//! Transport security: the only way into Lockstep is TLS 1.3 with a verified client
//! certificate. There is no plaintext listener and no option that creates one.
//!
//! - `config`: the rustls server configuration built from PEM files.
//! - `reload`: watches those files and swaps the configuration without a restart.
//! - `listener`: the accept loop that hands tonic only connections that completed the handshake
//!   and carry a principal.

mod config;
mod listener;
mod reload;

use std::path::PathBuf;

pub use listener::{TlsConnection, TlsIncoming};
pub use reload::ReloadingTls;

/// Paths of the PEM files the server's TLS configuration is built from.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The server certificate chain (leaf first).
    pub cert: PathBuf,
    /// The server private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// The CA certificates that client certificates must chain to.
    pub client_ca: PathBuf,
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the {what} at {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        what: &'static str,
        /// The operating system's reason.
        reason: String,
    },
    /// A file was read but does not hold what it should.
    #[error("the {what} at {path} is not usable: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Rustls(String),
}
