//! [`DevPki`]: a ready-made CA, server certificate and one client certificate per principal,
//! for development (`lockstep server start-dev` style). Created on first run, reused after.
//!
//! Layout of the directory (mode 0700):
//!
//! | file                                  | what                                              |
//! |---------------------------------------|---------------------------------------------------|
//! | `ca.pem`, `ca-key.pem`                | the dev CA, valid 10 years                        |
//! | `server.pem`, `server-key.pem`        | `localhost`, `127.0.0.1`, `::1`; valid 365 days   |
//! | `<name>.pem`, `<name>-key.pem`        | client `spiffe://lockstep/<name>`; valid 365 days |
//!
//! Keys are 0600. A leaf that is missing, unreadable, expired, not signed by the CA or not
//! matching its key is reissued by the existing CA; if the CA itself is missing (either file)
//! or expired, everything is regenerated. A CA that exists but cannot be loaded is an error,
//! never silently replaced: delete the directory to start over.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use rcgen::KeyPair;
use time::OffsetDateTime;

use crate::ca::{Ca, key_matches};
use crate::error::CertError;
use crate::files::{create_private_dir, read_private_file, read_public_file};
use crate::inspect::{CertInfo, certificates_in_pem, parse_certificate};
use crate::principal::{DEFAULT_TRUST_DOMAIN, Principal, principal_uri};

/// The principals of a standard dev setup, one per role.
pub const DEV_PRINCIPALS: [&str; 4] = ["admin", "worker", "client", "viewer"];

/// Subject CN of the dev CA.
const CA_NAME: &str = "Lockstep dev CA";
/// Validity of the dev CA, in days (10 years).
const CA_DAYS: u32 = 3650;
/// Validity of dev server and client certificates, in days.
const LEAF_DAYS: u32 = 365;
/// Base names that principals may not take, because the CA and server files use them.
const RESERVED: [&str; 2] = ["ca", "server"];

/// A dev PKI directory; see the module docs for its layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevPki {
    /// The directory holding all files.
    pub dir: PathBuf,
    /// What [`DevPki::ensure`] (re)generated on this call: `ca`, `server`, principal names.
    /// Empty when everything was reused.
    pub issued: Vec<String>,
}

impl DevPki {
    /// Makes sure `dir` holds a valid dev CA, server certificate, and a client certificate for
    /// each of `principals` (bare names such as `worker`; see [`DEV_PRINCIPALS`]), creating
    /// or reissuing only what is missing or unusable.
    ///
    /// `dir` should be dedicated to the dev PKI: it is created if needed and set to mode 0700.
    pub fn ensure(dir: &Path, principals: &[&str]) -> Result<Self, CertError> {
        for principal in principals {
            check_file_name(principal)?;
        }
        create_private_dir(dir)?;
        restrict_dir(dir)?;
        let mut pki = Self {
            dir: dir.to_owned(),
            issued: Vec::new(),
        };
        let now = OffsetDateTime::now_utc();

        let existing = pki.existing_ca(now)?;
        let fresh_ca = existing.is_none();
        let ca = match existing {
            Some(ca) => ca,
            None => {
                let ca = Ca::generate(CA_NAME, CA_DAYS)?;
                ca.write(&pki.ca_cert(), &pki.ca_key())?;
                pki.issued.push("ca".into());
                ca
            }
        };

        let localhost = |info: &CertInfo| info.dns_names.iter().any(|name| name == "localhost");
        if fresh_ca || !leaf_usable(&ca, &pki.server_cert(), &pki.server_key(), now, localhost) {
            let ips = [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ];
            let server = ca.issue_server(&["localhost".to_owned()], &ips, LEAF_DAYS)?;
            server.write(&pki.server_cert(), &pki.server_key())?;
            pki.issued.push("server".into());
        }

        for &name in principals {
            let uri = principal_uri(name, DEFAULT_TRUST_DOMAIN)?;
            let speaks_for = |info: &CertInfo| info.principal.as_deref() == Some(uri.as_str());
            let (cert, key) = (pki.client_cert(name), pki.client_key(name));
            if fresh_ca || !leaf_usable(&ca, &cert, &key, now, speaks_for) {
                ca.issue_client(name, LEAF_DAYS)?.write(&cert, &key)?;
                pki.issued.push(name.to_owned());
            }
        }
        Ok(pki)
    }

    /// `ca.pem`: the CA certificate, for trust stores.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `ca-key.pem`: the CA private key (0600).
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca-key.pem")
    }

    /// `server.pem`: the server certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// `server-key.pem`: the server private key (0600).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server-key.pem")
    }

    /// `<name>.pem`: the client certificate of principal `name`.
    pub fn client_cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }

    /// `<name>-key.pem`: the client private key of principal `name` (0600).
    pub fn client_key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}-key.pem"))
    }

    /// Loads the CA, to issue more certificates with it.
    pub fn ca(&self) -> Result<Ca, CertError> {
        Ca::load(&self.ca_cert(), &self.ca_key())
    }

    /// The CA on disk if both files exist and it is still valid; `None` means "generate".
    fn existing_ca(&self, now: OffsetDateTime) -> Result<Option<Ca>, CertError> {
        if !self.ca_cert().exists() || !self.ca_key().exists() {
            return Ok(None);
        }
        let ca = self.ca()?;
        Ok(ca.info().is_valid_at(now).then_some(ca))
    }
}

/// Whether the leaf at `cert_path`/`key_path` can be kept: it parses, `ca` signed it, it is
/// valid `now`, `key_path` holds its key, and it passes `expected`.
fn leaf_usable(
    ca: &Ca,
    cert_path: &Path,
    key_path: &Path,
    now: OffsetDateTime,
    expected: impl Fn(&CertInfo) -> bool,
) -> bool {
    let usable = || -> Result<bool, CertError> {
        let origin = cert_path.display().to_string();
        let pem = read_public_file(cert_path)?;
        let Some(der) = certificates_in_pem(&pem, &origin)?.into_iter().next() else {
            return Ok(false);
        };
        let cert = parse_certificate(&der, &origin)?;
        let Ok(info) = CertInfo::from_x509(&der, &cert) else {
            return Ok(false);
        };
        if !ca.signed(&cert) || !info.is_valid_at(now) || !expected(&info) {
            return Ok(false);
        }
        let key_text = read_private_file(key_path)?;
        Ok(KeyPair::from_pem(&key_text).is_ok_and(|key| key_matches(&key, &cert)))
    };
    usable().unwrap_or(false)
}

/// Principal names become file names, so they must be single, unreserved path segments.
fn check_file_name(name: &str) -> Result<(), CertError> {
    let principal = Principal::parse(name, DEFAULT_TRUST_DOMAIN)?;
    let invalid = |reason: &str| CertError::InvalidPrincipal {
        principal: name.to_owned(),
        reason: reason.to_owned(),
    };
    if principal.name() != name || name.contains('/') {
        return Err(invalid(
            "dev principals must be bare names (they become file names)",
        ));
    }
    if RESERVED.contains(&name) || name.ends_with("-key") || name.starts_with('.') {
        return Err(invalid(
            "the name is reserved for the CA or server files, or would clash with a key file",
        ));
    }
    Ok(())
}

/// Tightens an existing certificate directory to 0700.
fn restrict_dir(dir: &Path) -> Result<(), CertError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = std::fs::metadata(dir).map_err(|e| CertError::io("read", dir, e))?;
        if metadata.permissions().mode() & 0o777 != crate::files::PRIVATE_DIR_MODE {
            std::fs::set_permissions(
                dir,
                std::fs::Permissions::from_mode(crate::files::PRIVATE_DIR_MODE),
            )
            .map_err(|e| CertError::io("set permissions of", dir, e))?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use time::Duration;

    use super::*;
    use crate::inspect_file;

    fn fingerprint(path: &Path) -> String {
        inspect_file(path).unwrap().remove(0).sha256_fingerprint
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_run_creates_everything_with_tight_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("certs");
        let pki = DevPki::ensure(&dir, &DEV_PRINCIPALS).unwrap();
        assert_eq!(
            pki.issued,
            ["ca", "server", "admin", "worker", "client", "viewer"]
        );
        assert_eq!(mode(&dir), 0o700);
        for key in [pki.ca_key(), pki.server_key(), pki.client_key("worker")] {
            assert_eq!(mode(&key), 0o600, "{}", key.display());
        }

        let ca = inspect_file(&pki.ca_cert()).unwrap().remove(0);
        assert!(ca.is_ca);
        assert_eq!(ca.subject, format!("CN={CA_NAME}"));
        assert!((ca.not_after - ca.not_before).whole_days() >= 3650);
        let server = inspect_file(&pki.server_cert()).unwrap().remove(0);
        assert_eq!(server.dns_names, ["localhost"]);
        assert_eq!(
            server.ip_addresses,
            [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            ]
        );
        assert_eq!((server.not_after - server.not_before).whole_days(), 365);
        for name in DEV_PRINCIPALS {
            let client = inspect_file(&pki.client_cert(name)).unwrap().remove(0);
            assert_eq!(client.principal, Some(format!("spiffe://lockstep/{name}")));
            assert_eq!(client.issuer, ca.subject);
        }
        pki.ca().unwrap();
    }

    #[test]
    fn second_run_reuses_and_only_missing_leaves_are_reissued() {
        let tmp = tempfile::tempdir().unwrap();
        let first = DevPki::ensure(tmp.path(), &DEV_PRINCIPALS).unwrap();
        let ca = fingerprint(&first.ca_cert());
        let server = fingerprint(&first.server_cert());
        let admin = fingerprint(&first.client_cert("admin"));
        let worker = fingerprint(&first.client_cert("worker"));

        let again = DevPki::ensure(tmp.path(), &DEV_PRINCIPALS).unwrap();
        assert!(again.issued.is_empty(), "{:?}", again.issued);
        assert_eq!(fingerprint(&again.ca_cert()), ca);

        fs::remove_file(first.client_cert("worker")).unwrap();
        let after = DevPki::ensure(tmp.path(), &DEV_PRINCIPALS).unwrap();
        assert_eq!(after.issued, ["worker"]);
        assert_eq!(fingerprint(&after.ca_cert()), ca);
        assert_eq!(fingerprint(&after.server_cert()), server);
        assert_eq!(fingerprint(&after.client_cert("admin")), admin);
        assert_ne!(fingerprint(&after.client_cert("worker")), worker);

        // A lost key, or a leaf from another CA, or an expired leaf is reissued too.
        fs::remove_file(first.server_key()).unwrap();
        let stranger = Ca::generate("Stranger", 1).unwrap();
        stranger
            .issue_client("admin", 1)
            .unwrap()
            .write(&first.client_cert("admin"), &first.client_key("admin"))
            .unwrap();
        let now = OffsetDateTime::now_utc();
        after
            .ca()
            .unwrap()
            .issue_client_with_validity("viewer", now - Duration::days(3), now - Duration::days(1))
            .unwrap()
            .write(&first.client_cert("viewer"), &first.client_key("viewer"))
            .unwrap();
        let repaired = DevPki::ensure(tmp.path(), &DEV_PRINCIPALS).unwrap();
        assert_eq!(repaired.issued, ["server", "admin", "viewer"]);
        assert_eq!(fingerprint(&repaired.ca_cert()), ca);
    }

    #[test]
    fn a_missing_ca_regenerates_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let first = DevPki::ensure(tmp.path(), &["worker"]).unwrap();
        let ca = fingerprint(&first.ca_cert());
        fs::remove_file(first.ca_key()).unwrap();
        let again = DevPki::ensure(tmp.path(), &["worker"]).unwrap();
        assert_eq!(again.issued, ["ca", "server", "worker"]);
        assert_ne!(fingerprint(&again.ca_cert()), ca);
    }

    #[test]
    fn a_corrupt_ca_is_an_error_not_a_silent_replacement() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = DevPki::ensure(tmp.path(), &["worker"]).unwrap();
        fs::write(pki.ca_cert(), "not a certificate").unwrap();
        let err = DevPki::ensure(tmp.path(), &["worker"]).unwrap_err();
        assert!(err.to_string().contains("ca.pem"), "{err}");
    }

    #[test]
    fn a_loose_directory_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        DevPki::ensure(tmp.path(), &[]).unwrap();
        assert_eq!(mode(tmp.path()), 0o700);
    }

    #[test]
    fn principal_names_must_be_safe_file_names() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in [
            "ca",
            "server",
            "admin-key",
            "team/worker",
            "spiffe://lockstep/worker",
            "../x",
            "",
            "a b",
            ".hidden",
        ] {
            let err = DevPki::ensure(tmp.path(), &[bad]).unwrap_err();
            assert!(
                matches!(err, CertError::InvalidPrincipal { .. }),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "nothing written"
        );
    }
}
