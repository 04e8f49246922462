//! Server configuration: a TOML file (or values built by `start-dev`), validated at start-up
//! with messages that say what to fix.
//!
//! ```toml
//! listen = "127.0.0.1:7233"
//! data_dir = "/var/lib/lockstep"
//! policy = "/etc/lockstep/policy.toml"
//!
//! [tls]
//! cert = "/etc/lockstep/server.pem"
//! key = "/etc/lockstep/server-key.pem"
//! client_ca = "/etc/lockstep/ca.pem"
//!
//! # Shortest retention a namespace may have (default 3600 = 1 h; tests use a few seconds).
//! min_retention_secs = 3600
//!
//! [[namespace]]
//! name = "orders"
//! payload_policy = "encrypted-only"
//! ```

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{namespaces::PayloadPolicy, tls::TlsFiles};

/// Largest request the server accepts; the official SDKs send up to 128 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;
/// The default shortest namespace retention: one hour.
pub const DEFAULT_MIN_RETENTION_SECS: u64 = 3600;

/// Everything the server needs to start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The gRPC address (TLS only).
    pub listen: SocketAddr,
    /// Where the sled database and the server's own secrets live.
    pub data_dir: PathBuf,
    /// The authorization policy file.
    pub policy: PathBuf,
    /// Server certificate, key and the CA bundle client certificates must chain to.
    pub tls: TlsFiles,
    /// How often the TLS files are checked for changes, in seconds.
    #[serde(default = "default_reload_secs")]
    pub tls_reload_secs: u64,
    /// Largest accepted request, in bytes.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// The shortest retention (seconds) RegisterNamespace, UpdateNamespace and `[[namespace]]`
    /// may set; at least 1. Lower it only for tests and demos that watch retention happen.
    #[serde(default = "default_min_retention_secs")]
    pub min_retention_secs: u64,
    /// Namespaces created at start if missing (`default` always is).
    #[serde(default, rename = "namespace")]
    pub namespaces: Vec<NamespaceSpec>,
}

/// A namespace to create at start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSpec {
    /// The namespace name.
    pub name: String,
    /// Whether cleartext payloads are accepted.
    #[serde(default)]
    pub payload_policy: PayloadPolicy,
    /// How long closed executions are kept, in hours.
    #[serde(default = "default_retention_hours")]
    pub retention_hours: u64,
}

impl NamespaceSpec {
    /// A namespace with the default policy and retention.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            payload_policy: PayloadPolicy::default(),
            retention_hours: default_retention_hours(),
        }
    }

    /// The retention period.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_hours.saturating_mul(3600))
    }
}

/// A configuration problem, with what to fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration {origin}: {reason}")]
pub struct ConfigError {
    origin: String,
    reason: String,
}

impl ServerConfig {
    /// Reads a TOML configuration file and validates it.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            origin: origin.clone(),
            reason: format!("cannot read the file: {err}"),
        })?;
        let config: ServerConfig = toml::from_str(&text).map_err(|err| ConfigError {
            origin: origin.clone(),
            reason: err.to_string(),
        })?;
        config.validate(&origin)?;
        Ok(config)
    }

    /// Checks the values that TOML types alone cannot.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let fail = |reason: String| ConfigError {
            origin: origin.into(),
            reason,
        };
        if self.tls_reload_secs == 0 {
            return Err(fail("tls_reload_secs must be at least 1".into()));
        }
        if self.max_message_bytes < 1024 * 1024 {
            return Err(fail(
                "max_message_bytes must be at least 1048576 (1 MiB)".into(),
            ));
        }
        if self.min_retention_secs == 0 {
            return Err(fail("min_retention_secs must be at least 1".into()));
        }
        for spec in &self.namespaces {
            crate::namespaces::validate_name(&spec.name)
                .map_err(|err| fail(format!("namespace {:?}: {err}", spec.name)))?;
            if spec.retention() < self.min_retention() {
                return Err(fail(format!(
                    "namespace {:?}: retention_hours {} is shorter than min_retention_secs {}",
                    spec.name, spec.retention_hours, self.min_retention_secs
                )));
            }
        }
        Ok(())
    }

    /// The shortest retention a namespace may have.
    pub fn min_retention(&self) -> Duration {
        Duration::from_secs(self.min_retention_secs)
    }

    /// The TLS reload interval.
    pub fn tls_reload_interval(&self) -> Duration {
        Duration::from_secs(self.tls_reload_secs)
    }
}

fn default_reload_secs() -> u64 {
    2
}

fn default_max_message_bytes() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}

fn default_min_retention_secs() -> u64 {
    DEFAULT_MIN_RETENTION_SECS
}

pub(crate) fn default_retention_hours() -> u64 {
    72
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<ServerConfig, ConfigError> {
        let text = format!(
            "listen = \"127.0.0.1:7233\"\ndata_dir = \"/tmp/d\"\npolicy = \"/tmp/p.toml\"\n{extra}\n\
             [tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nclient_ca = \"ca.pem\"\n"
        );
        let config: ServerConfig = toml::from_str(&text).map_err(|err| ConfigError {
            origin: "test".into(),
            reason: err.to_string(),
        })?;
        config.validate("test").map(|()| config)
    }

    #[test]
    fn min_retention_defaults_to_an_hour_and_is_validated() {
        assert_eq!(
            parse("").unwrap().min_retention(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse("min_retention_secs = 2").unwrap().min_retention(),
            Duration::from_secs(2)
        );
        let zero = parse("min_retention_secs = 0").unwrap_err().to_string();
        assert!(
            zero.contains("min_retention_secs must be at least 1"),
            "{zero}"
        );
        let longer = parse(
            "min_retention_secs = 7200\n[[namespace]]\nname = \"orders\"\nretention_hours = 1",
        )
        .unwrap_err()
        .to_string();
        assert!(
            longer.contains("shorter than min_retention_secs"),
            "{longer}"
        );
    }
}
