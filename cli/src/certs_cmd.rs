//! `lockstep certs …`: a CA, server and client certificates, inspection. Private keys are
//! written with mode 0600 and never printed.

use std::{net::IpAddr, path::PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use lockstep_certs::{Ca, inspect_file};

/// Certificate commands.
#[derive(Subcommand)]
pub(crate) enum CertsCommand {
    /// Create a certificate authority (ca.pem, ca-key.pem).
    ///
    /// Example: lockstep certs init --out-dir ./pki
    Init {
        /// Where to write ca.pem and ca-key.pem.
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "Lockstep CA")]
        name: String,
        /// Validity in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Issue a server certificate signed by the CA.
    ///
    /// Example: lockstep certs issue-server --dns lockstep.internal --ip 10.0.0.5 --out ./pki/server
    IssueServer {
        #[command(flatten)]
        ca: CaArgs,
        /// DNS names the server answers to (repeatable).
        #[arg(long = "dns", value_name = "NAME")]
        dns: Vec<String>,
        /// IP addresses the server answers on (repeatable).
        #[arg(long = "ip", value_name = "ADDR")]
        ips: Vec<IpAddr>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Output prefix: writes PREFIX.pem and PREFIX-key.pem.
        #[arg(long, default_value = "server")]
        out: PathBuf,
    },
    /// Issue a client certificate for a principal (carried as a spiffe:// URI SAN).
    ///
    /// Example: lockstep certs issue-client --principal payments-worker --days 30 --out ./pki/payments-worker
    IssueClient {
        #[command(flatten)]
        ca: CaArgs,
        /// The principal: a bare name (becomes spiffe://lockstep/NAME) or a full spiffe:// URI.
        #[arg(long)]
        principal: String,
        /// Validity in days.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Output prefix: writes PREFIX.pem and PREFIX-key.pem [default: the principal's name].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Mint a short-lived dev token (EdDSA JWT) for the codec server, signed with the dev token
    /// key that `start-dev` creates (never the CA key).
    ///
    /// Example: lockstep certs token --principal viewer --namespace default --ttl-minutes 30
    Token {
        /// The principal: a bare name (becomes spiffe://lockstep/NAME) or a spiffe:// URI.
        #[arg(long)]
        principal: String,
        /// Namespaces the token is limited to (repeatable; globs allowed) [default: no limit
        /// beyond the codec server's policy].
        #[arg(long = "namespace", value_name = "NS")]
        namespaces: Vec<String>,
        /// Lifetime in minutes (at most 24 h).
        #[arg(long, default_value_t = 60)]
        ttl_minutes: u64,
        /// The signing key [default: the dev data dir's certs/token-signing-key.pem].
        #[arg(long, value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
    /// Show a certificate: subject, SANs, principal, validity, fingerprint.
    ///
    /// Example: lockstep certs inspect ./pki/worker.pem
    Inspect {
        /// A PEM file with one or more certificates.
        file: PathBuf,
    },
}

/// Where the signing CA is.
#[derive(Args)]
pub(crate) struct CaArgs {
    /// The CA certificate.
    #[arg(long, default_value = "ca.pem")]
    ca_cert: PathBuf,
    /// The CA private key.
    #[arg(long, default_value = "ca-key.pem")]
    ca_key: PathBuf,
}

impl CaArgs {
    fn load(&self) -> anyhow::Result<Ca> {
        Ca::load(&self.ca_cert, &self.ca_key).with_context(|| {
            format!(
                "cannot load the CA from {} and {} (create one with `lockstep certs init`)",
                self.ca_cert.display(),
                self.ca_key.display()
            )
        })
    }
}

pub(crate) fn run(command: CertsCommand) -> anyhow::Result<()> {
    match command {
        CertsCommand::Init {
            out_dir,
            name,
            days,
        } => {
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("cannot create {}", out_dir.display()))?;
            let (cert, key) = (out_dir.join("ca.pem"), out_dir.join("ca-key.pem"));
            if cert.exists() || key.exists() {
                anyhow::bail!(
                    "{} or {} already exists; refusing to overwrite a CA",
                    cert.display(),
                    key.display()
                );
            }
            Ca::generate(&name, days)?
                .certified_key()
                .write(&cert, &key)?;
            println!("wrote {} and {} (0600)", cert.display(), key.display());
        }
        CertsCommand::IssueServer {
            ca,
            dns,
            ips,
            days,
            out,
        } => {
            if dns.is_empty() && ips.is_empty() {
                anyhow::bail!("give at least one --dns NAME or --ip ADDR");
            }
            let issued = ca.load()?.issue_server(&dns, &ips, days)?;
            write_pair(&issued, &out)?;
        }
        CertsCommand::IssueClient {
            ca,
            principal,
            days,
            out,
        } => {
            let issued = ca.load()?.issue_client(&principal, days)?;
            let out = out.unwrap_or_else(|| PathBuf::from(short_name(&principal)));
            write_pair(&issued, &out)?;
        }
        CertsCommand::Token {
            principal,
            namespaces,
            ttl_minutes,
            signing_key,
        } => {
            let signing_key = match signing_key {
                Some(path) => path,
                None => crate::dev::default_data_dir()?
                    .join("certs")
                    .join(lockstep_codec_server::DEV_SIGNING_KEY_FILE),
            };
            let pem = std::fs::read(&signing_key).with_context(|| {
                format!(
                    "cannot read the token signing key {} (start `lockstep server start-dev` once, or pass --signing-key)",
                    signing_key.display()
                )
            })?;
            let ttl = std::time::Duration::from_secs(ttl_minutes.saturating_mul(60));
            let token = lockstep_codec_server::mint_dev_token(&pem, &principal, &namespaces, ttl)?;
            println!("{token}");
        }
        CertsCommand::Inspect { file } => {
            for (index, info) in inspect_file(&file)?.iter().enumerate() {
                if index > 0 {
                    println!();
                }
                println!("{info}");
            }
        }
    }
    Ok(())
}

fn write_pair(
    issued: &lockstep_certs::CertifiedKey,
    prefix: &std::path::Path,
) -> anyhow::Result<()> {
    let cert = with_suffix(prefix, ".pem");
    let key = with_suffix(prefix, "-key.pem");
    issued.write(&cert, &key)?;
    println!("wrote {} and {} (0600)", cert.display(), key.display());
    Ok(())
}

fn with_suffix(prefix: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn short_name(principal: &str) -> String {
    principal
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("client")
        .to_string()
}
