//! The crate's start-up error. Requests never produce one: they get an HTTP status instead.

use std::path::PathBuf;

use lockstep_policy::PolicyError;

use crate::config::ConfigError;

/// Why the codec server could not start (or stopped). All variants are fatal: fix what the
/// message names and start again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The policy file is missing or invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A TLS file is missing or unusable.
    #[error("{what} {path}: {reason}")]
    Tls {
        /// Which file it is.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A JWT public key or JWKS file is missing or unusable.
    #[error("bearer tokens: {0}")]
    Jwt(String),
    /// The audit log cannot be opened.
    #[error("cannot open the audit log {path}: {reason}")]
    Audit {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        reason: String,
    },
    /// The keys could not be loaded, or none are configured.
    #[error("keys: {0}")]
    Keys(String),
}
