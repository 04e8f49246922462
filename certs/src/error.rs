//! The one error type of the crate.
//!
//! Every message names the file or value at fault and says what to do about it, because these
//! errors end up in front of an operator running `lockstep certs …` or starting the server.
//! No variant ever carries private key material: key files are named by path only.

use std::io;
use std::path::PathBuf;

/// What a valid principal looks like; appended to every principal error.
pub(crate) const PRINCIPAL_RULES: &str = "a principal is a name such as `worker` or `team/worker` \
     (path segments of letters, digits, '.', '_' or '-', separated by '/', at most 255 bytes) \
     or a URI such as `spiffe://lockstep/worker`";

/// Why creating, loading, writing or inspecting a certificate failed.
///
/// All variants are fatal for the operation that returned them: retrying with the same input
/// fails the same way. Fix the input (or the file) named in the message and try again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A principal name or URI is not acceptable.
    #[error("invalid principal {principal:?}: {reason}; {PRINCIPAL_RULES}")]
    InvalidPrincipal {
        /// The principal as given.
        principal: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The requested certificate cannot be built as asked: empty or malformed names, zero days,
    /// a validity window that ends before it starts.
    #[error("invalid certificate request: {0}")]
    InvalidRequest(String),

    /// Key generation or signing failed inside the crypto library.
    #[error("could not generate {what}: {reason}")]
    Generate {
        /// What was being generated ("CA certificate", "client certificate", ...).
        what: &'static str,
        /// The underlying library's explanation.
        reason: String,
    },

    /// The input is PEM, but malformed (bad base64, a missing END line, ...).
    #[error(
        "{origin}: malformed PEM ({reason}); expected a PEM file with `-----BEGIN CERTIFICATE-----` blocks"
    )]
    InvalidPem {
        /// The file the PEM came from, or `<input>`.
        origin: String,
        /// What the PEM parser reported.
        reason: String,
    },

    /// The input holds no certificate at all (maybe only a private key, or not PEM).
    #[error(
        "{origin}: contains no `-----BEGIN CERTIFICATE-----` block; pass a PEM certificate file"
    )]
    NoCertificate {
        /// The file that was read, or `<input>`.
        origin: String,
    },

    /// The bytes are not a well-formed X.509 certificate.
    #[error("{origin}: not a valid X.509 certificate ({reason})")]
    InvalidCertificate {
        /// The file the certificate came from, or `<input>`.
        origin: String,
        /// What the X.509 parser reported.
        reason: String,
    },

    /// A private key file cannot be used. The key itself is never part of the message.
    #[error(
        "{path}: not a usable private key ({reason}); expected an unencrypted PKCS#8 `-----BEGIN PRIVATE KEY-----` file as written by lockstep"
    )]
    InvalidKey {
        /// The key file.
        path: PathBuf,
        /// What the key parser reported.
        reason: String,
    },

    /// The certificate given as a CA cannot sign: it lacks `basicConstraints CA:TRUE`.
    #[error(
        "{path}: not a CA certificate (no basicConstraints CA:TRUE); pass the CA certificate, not a server or client certificate"
    )]
    NotCa {
        /// The certificate file.
        path: PathBuf,
    },

    /// A private key does not belong to the certificate it was paired with.
    #[error(
        "private key {key_path} does not match certificate {cert_path}; pass the key file that was generated together with this certificate"
    )]
    KeyMismatch {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
    },

    /// Reading or writing a file or directory failed.
    #[error("could not {action} {path}: {error}; check that the path exists and is accessible")]
    Io {
        /// What was being done ("read", "write", "create directory", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        error: io::Error,
    },
}

impl CertError {
    /// Wraps an I/O error with the path and the action that failed.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, error: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            error,
        }
    }

    /// Wraps an rcgen failure while generating `what`.
    pub(crate) fn generate(what: &'static str, error: rcgen::Error) -> Self {
        Self::Generate {
            what,
            reason: error.to_string(),
        }
    }
}
