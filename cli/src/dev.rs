//! `start-dev`: everything a newcomer needs on loopback — a dev CA, a server certificate for
//! localhost, client certificates for the dev principals, a dev policy — created on the first
//! run and reused afterwards, so the printed flags keep working.

use std::{
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use lockstep_certs::dev::DevPki;
use lockstep_server::{
    NamespaceSpec, ServerConfig, config::DEFAULT_MAX_MESSAGE_BYTES, tls::TlsFiles,
};

use crate::server_cmd::StartDevArgs;

/// The dev principals, each with a client certificate under `certs/`.
pub(crate) const DEV_PRINCIPALS: [&str; 4] = ["admin", "worker", "client", "viewer"];

const DEV_POLICY: &str = r#"# Lockstep dev policy: who may do what. Edit freely; it is only written when missing.
# Principals are the spiffe:// URIs in the client certificates (`lockstep certs inspect FILE`).

[[grant]]
principals = ["spiffe://lockstep/admin"]
namespaces = ["*"]
roles = ["admin"]

[[grant]]
principals = ["spiffe://lockstep/worker"]
namespaces = ["*"]
roles = ["worker"]

[[grant]]
principals = ["spiffe://lockstep/client"]
namespaces = ["*"]
roles = ["client", "reader"]

[[grant]]
principals = ["spiffe://lockstep/viewer"]
namespaces = ["*"]
roles = ["reader"]
"#;

/// A codec server for the dev setup: the dev server certificate (localhost), the dev policy,
/// dev tokens, keys from `LOCKSTEP_CODEC_KEYS` (as the SDK examples use). Paths are relative to
/// the data dir.
const DEV_CODEC_SERVER: &str = r#"# Lockstep dev codec server: lockstep codec-server --config <this file>
# Keys come from LOCKSTEP_CODEC_KEYS (id:base64[,...]) like the SDK examples; edit freely.
listen = "127.0.0.1:8443"
policy = "dev-policy.toml"
audit_log = "codec-audit.jsonl"

[tls]
cert = "certs/server.pem"
key = "certs/server-key.pem"
client_ca = "certs/ca.pem"

[jwt]
issuer = "lockstep-dev"
audience = "lockstep-codec"
public_keys = ["certs/token-signing.pub.pem"]

[cors]
allowed_origins = ["http://localhost:8233"]

[keys]
env = true
"#;

/// What `start-dev` prints once the listener is bound.
pub(crate) struct Banner {
    data_dir: PathBuf,
    pki: DevPki,
    token_key: PathBuf,
}

impl Banner {
    /// Prints how to connect the `temporal` CLI and an SDK.
    pub(crate) fn print(&self, addr: SocketAddr) {
        let ca = self.pki.ca_cert();
        let cert = self.pki.client_cert("admin");
        let key = self.pki.client_key("admin");
        println!(
            "Lockstep dev server on {addr} (mTLS only)\n\
             data dir:  {data}\n\
             certs:     {certs} (client certificates: {principals})\n\
             policy:    {data}/dev-policy.toml\n\n\
             Connect the temporal CLI (as admin):\n  \
             temporal operator namespace list --address {addr} \\\n    \
             --tls-ca-path {ca} \\\n    \
             --tls-cert-path {cert} \\\n    \
             --tls-key-path {key}\n\n\
             Or with environment variables:\n  \
             export TEMPORAL_ADDRESS={addr} TEMPORAL_TLS_SERVER_CA_CERT_PATH={ca} \\\n    \
             TEMPORAL_TLS_CLIENT_CERT_PATH={cert} TEMPORAL_TLS_CLIENT_KEY_PATH={key}\n\n\
             An SDK worker uses {worker_cert} and {worker_key} with the same CA; server name localhost.\n\n\
             Decode payloads for authorized viewers (keys from LOCKSTEP_CODEC_KEYS):\n  \
             lockstep codec-server --config {data}/codec-server.toml\n  \
             lockstep certs token --principal viewer --signing-key {token_key}",
            data = self.data_dir.display(),
            certs = self.pki.dir.display(),
            principals = DEV_PRINCIPALS.join(", "),
            ca = ca.display(),
            cert = cert.display(),
            key = key.display(),
            worker_cert = self.pki.client_cert("worker").display(),
            worker_key = self.pki.client_key("worker").display(),
            token_key = self.token_key.display(),
        );
    }
}

/// Creates or reuses the dev PKI and policy, and builds the server configuration.
pub(crate) fn prepare(args: &StartDevArgs) -> anyhow::Result<(ServerConfig, Banner)> {
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let data_dir = data_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve the data dir {}", data_dir.display()))?;
    let pki = DevPki::ensure(&data_dir.join("certs"), &DEV_PRINCIPALS)
        .with_context(|| format!("cannot prepare dev certificates in {}", data_dir.display()))?;
    let token_key = lockstep_codec_server::ensure_dev_signing_key(&pki.dir).with_context(|| {
        format!(
            "cannot prepare the dev token signing key in {}",
            pki.dir.display()
        )
    })?;
    let codec_config = data_dir.join("codec-server.toml");
    if !codec_config.exists() {
        fs::write(&codec_config, DEV_CODEC_SERVER)
            .with_context(|| format!("cannot write {}", codec_config.display()))?;
    }
    let policy = data_dir.join("dev-policy.toml");
    if !policy.exists() {
        fs::write(&policy, DEV_POLICY)
            .with_context(|| format!("cannot write {}", policy.display()))?;
    }
    let config = ServerConfig {
        listen: SocketAddr::new(args.ip, args.port),
        data_dir: data_dir.join("db"),
        policy,
        tls: TlsFiles {
            cert: pki.server_cert(),
            key: pki.server_key(),
            client_ca: pki.ca_cert(),
        },
        tls_reload_secs: 2,
        max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        min_retention_secs: args.min_retention_secs,
        namespaces: args.namespaces.iter().map(NamespaceSpec::named).collect(),
    };
    config.validate("from start-dev flags")?;
    Ok((
        config,
        Banner {
            data_dir,
            pki,
            token_key,
        },
    ))
}

/// `start-dev`'s data dir when `--data-dir` is not given.
pub(crate) fn default_data_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data-dir")?;
    Ok(base.join("lockstep").join("dev"))
}
