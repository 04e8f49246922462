//! The codec server's configuration: a TOML file, validated at start with messages that say what
//! to fix. Relative paths in a file are relative to the file's directory.
//!
//! ```toml
//! listen = "127.0.0.1:8443"
//! policy = "policy.toml"            # the server's policy format; decode needs reader
//! audit_log = "codec-audit.jsonl"   # one JSON line per request
//!
//! [tls]
//! cert = "codec-server.pem"
//! key = "codec-server-key.pem"
//! client_ca = "ca.pem"              # optional: client certificates are then verified
//!
//! [jwt]                             # optional: bearer tokens (browsers, the temporal CLI)
//! issuer = "lockstep-dev"
//! audience = "lockstep-codec"
//! public_keys = ["token-signing.pub.pem"]
//! # jwks = "jwks.json"
//!
//! [limits]
//! max_body_bytes = 4194304
//! max_payloads = 1000
//! requests_per_second = 20.0
//! burst = 40
//!
//! [cors]
//! allowed_origins = ["http://localhost:8233"]
//!
//! [keys]
//! file = "keys.toml"                # the SDK's key file (0600); or env = true
//! format = "hardened"               # or "sample" (the default)
//! ```

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// Everything the codec server needs to start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CodecServerConfig {
    /// The HTTPS address.
    pub listen: SocketAddr,
    /// Server certificate and key, and the optional CA client certificates must chain to.
    pub tls: TlsConfig,
    /// The authorization policy file (the server's format).
    pub policy: PathBuf,
    /// Where audit lines are appended.
    pub audit_log: PathBuf,
    /// Bearer-token verification; without it only client certificates authenticate.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// Body, payload-count, rate and connection limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Browser origins allowed to call the endpoints.
    #[serde(default)]
    pub cors: CorsConfig,
    /// Where the codec's keys come from.
    #[serde(default)]
    pub keys: Option<KeysConfig>,
}

/// The TLS files.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate chain (PEM).
    pub cert: PathBuf,
    /// The server private key (PEM).
    pub key: PathBuf,
    /// CA bundle (PEM) for client certificates. Set: a presented client certificate must chain
    /// to it and names the principal. Unset: client certificates are not requested.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// Bearer-token (JWT) verification.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The required `iss`.
    pub issuer: String,
    /// The audience `aud` must name.
    pub audience: String,
    /// PEM files of Ed25519 or P-256 public keys (`PUBLIC KEY` blocks).
    #[serde(default)]
    pub public_keys: Vec<PathBuf>,
    /// A JWKS file; its Ed25519 (`OKP`) and P-256 (`EC`) signing keys are used.
    #[serde(default)]
    pub jwks: Option<PathBuf>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
}

/// Limits that protect the server and the keys behind it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Most payloads in one request (413 beyond).
    pub max_payloads: usize,
    /// Sustained requests per second per principal (429 beyond the burst).
    pub requests_per_second: f64,
    /// Requests a principal may make at once before the rate applies.
    pub burst: u32,
    /// Most simultaneous connections; further connections wait to be accepted.
    pub max_connections: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            max_payloads: 1000,
            requests_per_second: 20.0,
            burst: 40,
            max_connections: 256,
        }
    }
}

/// Cross-origin access for the Temporal web UI.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins (`scheme://host[:port]`) whose pages may call the endpoints, with
    /// credentials. `*` is refused: credentials cannot go with a wildcard.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// Where the codec's keys come from, and which payload format `/encode` writes. Exactly one
/// source: `file` or `env`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// A key file in the SDK's format (TOML, mode 0600: `active = "id"` and a `[keys]` table).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Read the keys from `LOCKSTEP_CODEC_KEYS` (and `LOCKSTEP_CODEC_ACTIVE_KEY`).
    #[serde(default)]
    pub env: bool,
    /// `sample` (Temporal's encryption samples, the default) or `hardened` (namespace-bound).
    #[serde(default)]
    pub format: PayloadFormat,
    /// With `hardened`: still decode unbound (sample-format) payloads, e.g. during a migration.
    #[serde(default)]
    pub accept_unbound: bool,
    /// How often the key source is read again, in seconds, so rotations need no restart
    /// (0: never).
    #[serde(default = "default_reload_secs")]
    pub reload_secs: u64,
}

/// The encrypted payload format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// Temporal's encryption samples: no associated data. Decoding also reads hardened
    /// payloads of the request's namespace.
    #[default]
    Sample,
    /// Namespace-bound: the namespace and key id are authenticated; decoding refuses payloads
    /// of other namespaces and (unless `accept_unbound`) unbound payloads.
    Hardened,
}

/// A configuration problem, with what to fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration {origin}: {reason}")]
pub struct ConfigError {
    origin: String,
    reason: String,
}

impl ConfigError {
    pub(crate) fn new(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            reason: reason.into(),
        }
    }
}

impl CodecServerConfig {
    /// Reads a TOML file, resolves its relative paths against its directory, and validates it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigError::new(&origin, format!("cannot read the file: {err}")))?;
        let mut config = Self::parse(&text, &origin)?;
        if let Some(dir) = path.parent() {
            config.resolve_paths(dir);
        }
        Ok(config)
    }

    /// Parses and validates TOML text; `origin` names it in errors. Paths stay as written.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self =
            toml::from_str(text).map_err(|err| ConfigError::new(origin, err.to_string()))?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Checks what TOML types alone cannot.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let fail = |reason: &str| Err(ConfigError::new(origin, reason));
        if self.tls.client_ca.is_none() && self.jwt.is_none() {
            return fail(
                "nobody could authenticate: set [tls] client_ca (client certificates), [jwt] \
                 (bearer tokens), or both",
            );
        }
        if let Some(jwt) = &self.jwt {
            if jwt.issuer.is_empty() || jwt.audience.is_empty() {
                return fail("[jwt] issuer and audience must not be empty");
            }
            if jwt.public_keys.is_empty() && jwt.jwks.is_none() {
                return fail("[jwt] needs public_keys (PEM files) or jwks (a JWKS file)");
            }
            if jwt.leeway_secs > 300 {
                return fail("[jwt] leeway_secs must be at most 300");
            }
        }
        let limits = &self.limits;
        if limits.max_body_bytes < 1024 {
            return fail("[limits] max_body_bytes must be at least 1024");
        }
        if limits.max_payloads == 0 {
            return fail("[limits] max_payloads must be at least 1");
        }
        if !(limits.requests_per_second.is_finite() && limits.requests_per_second > 0.0) {
            return fail("[limits] requests_per_second must be a number above 0");
        }
        if limits.burst == 0 {
            return fail("[limits] burst must be at least 1");
        }
        if limits.max_connections == 0 {
            return fail("[limits] max_connections must be at least 1");
        }
        for allowed in &self.cors.allowed_origins {
            crate::cors::validate_origin(allowed).map_err(|reason| {
                ConfigError::new(origin, format!("[cors] {allowed:?}: {reason}"))
            })?;
        }
        if let Some(keys) = &self.keys {
            if keys.file.is_some() == keys.env {
                return fail("[keys] needs exactly one source: file = \"keys.toml\" or env = true");
            }
            if keys.accept_unbound && keys.format != PayloadFormat::Hardened {
                return fail("[keys] accept_unbound only applies to format = \"hardened\"");
            }
        }
        Ok(())
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        };
        resolve(&mut self.policy);
        resolve(&mut self.audit_log);
        resolve(&mut self.tls.cert);
        resolve(&mut self.tls.key);
        if let Some(ca) = &mut self.tls.client_ca {
            resolve(ca);
        }
        if let Some(jwt) = &mut self.jwt {
            jwt.public_keys.iter_mut().for_each(resolve);
            if let Some(jwks) = &mut jwt.jwks {
                resolve(jwks);
            }
        }
        if let Some(file) = self.keys.as_mut().and_then(|k| k.file.as_mut()) {
            resolve(file);
        }
    }
}

fn default_leeway_secs() -> u64 {
    30
}

fn default_reload_secs() -> u64 {
    60
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        listen = "127.0.0.1:8443"
        policy = "policy.toml"
        audit_log = "audit.jsonl"
        [tls]
        cert = "c.pem"
        key = "k.pem"
        client_ca = "/abs/ca.pem"
    "#;

    #[test]
    fn a_minimal_file_gets_defaults_and_resolved_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codec.toml");
        std::fs::write(&path, MINIMAL).unwrap();
        let config = CodecServerConfig::load(&path).unwrap();
        assert_eq!(config.policy, dir.path().join("policy.toml"));
        assert_eq!(
            config.tls.client_ca.as_deref(),
            Some(Path::new("/abs/ca.pem"))
        );
        assert_eq!(config.limits.max_payloads, 1000);
        assert!(config.jwt.is_none() && config.cors.allowed_origins.is_empty());
    }

    #[test]
    fn mistakes_are_named() {
        let err = |text: &str| {
            CodecServerConfig::parse(text, "c.toml")
                .unwrap_err()
                .to_string()
        };
        let no_auth = MINIMAL.replace("client_ca = \"/abs/ca.pem\"", "");
        assert!(err(&no_auth).contains("nobody could authenticate"));
        let jwt_without_keys = format!("{no_auth}\n[jwt]\nissuer = \"i\"\naudience = \"a\"\n");
        assert!(err(&jwt_without_keys).contains("public_keys"));
        let wildcard = format!("{MINIMAL}\n[cors]\nallowed_origins = [\"*\"]\n");
        assert!(err(&wildcard).contains("[cors]"));
        let two_sources = format!("{MINIMAL}\n[keys]\nfile = \"k.toml\"\nenv = true\n");
        assert!(err(&two_sources).contains("exactly one source"));
        let zero = format!("{MINIMAL}\n[limits]\nburst = 0\n");
        assert!(err(&zero).contains("burst"));
        assert!(err(&format!("{MINIMAL}\ntypo = 1\n")).contains("typo"));
    }
}
