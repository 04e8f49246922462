//! Where the server is and which certificate to show it: the `temporal` CLI's connection flags
//! and environment variables, with the dev certificates of `lockstep server start-dev` as the
//! fallback on loopback. Lockstep speaks mutual TLS only, so there is no plaintext mode.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context as _;
use clap::Args;
use temporalio_protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// The principal whose dev certificate is used when no certificate is given: the CLI steers
/// workflows (terminate needs admin), like the `temporal` command `start-dev` prints.
const DEV_PRINCIPAL: &str = "admin";
/// How long connecting (TCP + TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Histories can be large; the server's default limit is the same order.
const MAX_MESSAGE_BYTES: usize = 128 << 20;

/// Connection options (names and environment variables as in `temporal options`).
#[derive(Args)]
#[command(next_help_heading = "Connection options")]
pub(crate) struct ConnectionArgs {
    /// The server's gRPC address, HOST:PORT.
    #[arg(
        long,
        env = "TEMPORAL_ADDRESS",
        default_value = "127.0.0.1:7233",
        global = true
    )]
    address: String,
    /// The namespace.
    #[arg(
        long,
        short = 'n',
        env = "TEMPORAL_NAMESPACE",
        default_value = "default",
        global = true
    )]
    pub(crate) namespace: String,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(
        long,
        env = "TEMPORAL_TLS_CLIENT_CERT_PATH",
        value_name = "PATH",
        global = true
    )]
    tls_cert_path: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(
        long,
        env = "TEMPORAL_TLS_CLIENT_KEY_PATH",
        value_name = "PATH",
        global = true
    )]
    tls_key_path: Option<PathBuf>,
    /// CA certificate (PEM) that signed the server's certificate [default: the system roots].
    #[arg(
        long,
        env = "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        value_name = "PATH",
        global = true
    )]
    tls_ca_path: Option<PathBuf>,
    /// The name to verify in the server's certificate [default: the host of --address].
    #[arg(
        long,
        env = "TEMPORAL_TLS_SERVER_NAME",
        value_name = "NAME",
        global = true
    )]
    tls_server_name: Option<String>,
    /// A `lockstep server start-dev` data directory whose admin certificate and CA to use when
    /// no --tls-* flag is given [default: $XDG_DATA_HOME/lockstep/dev, on loopback addresses].
    #[arg(long, env = "LOCKSTEP_DEV_DIR", value_name = "DIR", global = true)]
    dev_dir: Option<PathBuf>,
}

/// The certificate files a connection uses.
#[derive(Debug, PartialEq, Eq)]
struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    /// None: trust the system roots.
    ca: Option<PathBuf>,
}

impl ConnectionArgs {
    /// Connects to the server over mutual TLS.
    pub(crate) async fn connect(&self) -> anyhow::Result<WorkflowServiceClient<Channel>> {
        let host = address_host(&self.address)?;
        let files = self.tls_files(&host)?;
        let read = |path: &Path, what: &str| {
            std::fs::read(path)
                .with_context(|| format!("cannot read the {what} {}", path.display()))
        };
        let mut tls = ClientTlsConfig::new().identity(Identity::from_pem(
            read(&files.cert, "client certificate")?,
            read(&files.key, "client key")?,
        ));
        tls = match &files.ca {
            Some(ca) => tls.ca_certificate(Certificate::from_pem(read(ca, "CA certificate")?)),
            None => tls.with_native_roots(),
        };
        if let Some(name) = &self.tls_server_name {
            tls = tls.domain_name(name.clone());
        }
        let channel = Channel::from_shared(format!("https://{}", self.address))
            .with_context(|| format!("--address {:?} is not HOST:PORT", self.address))?
            .tls_config(tls)
            .context("invalid TLS configuration")?
            .connect_timeout(CONNECT_TIMEOUT)
            .connect()
            .await
            .map_err(|err| {
                let chain = format!("{:#}", anyhow::Error::new(err));
                let hint = if chain.contains("peer certificate") {
                    "\nThe server's certificate is not trusted: pass --tls-ca-path with the CA \
                     that signed it (and --tls-server-name if it names another host)."
                } else {
                    ""
                };
                anyhow::anyhow!(
                    "cannot connect to {} over mutual TLS (client certificate {}): {chain}{hint}",
                    self.address,
                    files.cert.display()
                )
            })?;
        Ok(WorkflowServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// The certificate files: from the flags (or their environment variables) when any is set,
    /// else the dev certificates.
    fn tls_files(&self, host: &str) -> anyhow::Result<TlsFiles> {
        let given = self.tls_cert_path.is_some()
            || self.tls_key_path.is_some()
            || self.tls_ca_path.is_some();
        if given {
            let (Some(cert), Some(key)) = (&self.tls_cert_path, &self.tls_key_path) else {
                anyhow::bail!(
                    "Lockstep accepts only mutual TLS: pass both --tls-cert-path and \
                     --tls-key-path (or TEMPORAL_TLS_CLIENT_CERT_PATH and \
                     TEMPORAL_TLS_CLIENT_KEY_PATH)"
                );
            };
            return Ok(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                ca: self.tls_ca_path.clone(),
            });
        }
        let (dir, explicit) = match &self.dev_dir {
            Some(dir) => (Some(dir.clone()), true),
            None => (default_dev_dir().filter(|_| is_loopback(host)), false),
        };
        if let Some(files) = dir.as_deref().and_then(dev_files) {
            tracing::debug!(cert = %files.cert.display(), "using the dev certificates");
            return Ok(files);
        }
        let looked = match (&dir, explicit) {
            (Some(dir), true) => format!(
                "\n--dev-dir {} has no certs/{DEV_PRINCIPAL}.pem, certs/{DEV_PRINCIPAL}-key.pem \
                 and certs/ca.pem",
                dir.display()
            ),
            (Some(dir), false) => format!(
                "\n(no dev certificates in {}/certs either; `lockstep server start-dev` creates \
                 them, or pass --dev-dir DIR for its --data-dir)",
                dir.display()
            ),
            (None, _) => String::new(),
        };
        anyhow::bail!(
            "no client certificate: Lockstep accepts only mutual TLS.\n\
             Pass --tls-cert-path FILE --tls-key-path FILE --tls-ca-path FILE\n\
             (or set TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH and \
             TEMPORAL_TLS_SERVER_CA_CERT_PATH).{looked}"
        )
    }
}

/// The admin certificate, key and CA of a start-dev data dir, if all three exist.
fn dev_files(data_dir: &Path) -> Option<TlsFiles> {
    let certs = data_dir.join("certs");
    let files = TlsFiles {
        cert: certs.join(format!("{DEV_PRINCIPAL}.pem")),
        key: certs.join(format!("{DEV_PRINCIPAL}-key.pem")),
        ca: Some(certs.join("ca.pem")),
    };
    let all = [&files.cert, &files.key, files.ca.as_ref()?];
    all.iter().all(|path| path.is_file()).then_some(files)
}

/// `start-dev`'s default data dir: `$XDG_DATA_HOME/lockstep/dev`, else
/// `~/.local/share/lockstep/dev` (the same rule as `lockstep server start-dev`).
fn default_dev_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))
        .map(|base| base.join("lockstep").join("dev"))
}

/// The host of `HOST:PORT` (IPv6 in brackets).
fn address_host(address: &str) -> anyhow::Result<String> {
    if address.contains("://") {
        anyhow::bail!(
            "--address takes HOST:PORT, not a URL ({address:?}); the connection is always mutual TLS"
        );
    }
    let host = match address.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map(|(host, _)| host),
        None => address.rsplit_once(':').map(|(host, _)| host),
    };
    match host {
        Some(host) if !host.is_empty() => Ok(host.to_string()),
        _ => anyhow::bail!("--address {address:?} is not HOST:PORT"),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cert: Option<&str>, key: Option<&str>, dev_dir: Option<&Path>) -> ConnectionArgs {
        ConnectionArgs {
            address: "127.0.0.1:7233".into(),
            namespace: "default".into(),
            tls_cert_path: cert.map(PathBuf::from),
            tls_key_path: key.map(PathBuf::from),
            tls_ca_path: None,
            tls_server_name: None,
            dev_dir: dev_dir.map(Path::to_path_buf),
        }
    }

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(address_host("127.0.0.1:7233").unwrap(), "127.0.0.1");
        assert_eq!(address_host("[::1]:7233").unwrap(), "::1");
        assert_eq!(
            address_host("lockstep.internal:443").unwrap(),
            "lockstep.internal"
        );
        assert!(address_host("http://127.0.0.1:7233").is_err());
        assert!(address_host(":7233").is_err());
        assert!(is_loopback("localhost") && is_loopback("::1") && !is_loopback("10.0.0.1"));
    }

    #[test]
    fn flags_win_and_must_come_in_pairs() {
        let files = args(Some("c.pem"), Some("k.pem"), None)
            .tls_files("127.0.0.1")
            .unwrap();
        assert_eq!(files.cert, PathBuf::from("c.pem"));
        assert_eq!(files.ca, None);
        let err = args(Some("c.pem"), None, None)
            .tls_files("127.0.0.1")
            .unwrap_err();
        assert!(err.to_string().contains("--tls-key-path"), "{err}");
    }

    #[test]
    fn dev_dir_supplies_the_admin_certificate() {
        let dir = std::env::temp_dir().join(format!("lockstep-cli-dev-{}", std::process::id()));
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        let err = args(None, None, Some(&dir))
            .tls_files("10.0.0.1")
            .unwrap_err();
        assert!(err.to_string().contains("--tls-cert-path"), "{err}");
        for name in ["admin.pem", "admin-key.pem", "ca.pem"] {
            std::fs::write(certs.join(name), "x").unwrap();
        }
        let files = args(None, None, Some(&dir)).tls_files("10.0.0.1").unwrap();
        assert_eq!(files.cert, certs.join("admin.pem"));
        assert_eq!(files.ca, Some(certs.join("ca.pem")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
