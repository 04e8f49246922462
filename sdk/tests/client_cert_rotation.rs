//! `ReloadingClientCert`: the client certificate presented at each handshake follows the files
//! on disk; unusable replacements (garbage, a key that does not match) are ignored and the last
//! good pair stays in use.

use std::path::Path;

use lockstep_certs::Ca;
use lockstep_sdk::{ConnectError, ReloadingClientCert};
use rustls::client::ResolvesClientCert;

fn write(dir: &Path, cert: &str, key: &str) {
    std::fs::write(dir.join("client.pem"), cert).unwrap();
    std::fs::write(dir.join("client-key.pem"), key).unwrap();
}

fn presented(resolver: &ReloadingClientCert) -> Vec<u8> {
    let certified = resolver.resolve(&[], &[]).expect("a certificate");
    certified.end_entity_cert().unwrap().to_vec()
}

fn der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[test]
fn the_presented_certificate_follows_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate("rotation CA", 1).unwrap();
    let first = ca.issue_client("worker", 1).unwrap();
    let second = ca.issue_client("worker", 1).unwrap();
    let other = ca.issue_client("other", 1).unwrap();
    write(dir.path(), &first.cert_pem, first.key_pem());

    let resolver = ReloadingClientCert::new(
        dir.path().join("client.pem"),
        dir.path().join("client-key.pem"),
    )
    .unwrap();
    assert!(resolver.has_certs());
    assert_eq!(presented(&resolver), der(&first.cert_pem));

    // Renewed on disk: the next handshake presents the new certificate.
    write(dir.path(), &second.cert_pem, second.key_pem());
    assert_eq!(presented(&resolver), der(&second.cert_pem));

    // Half-way through a rotation (new certificate, old key): keep the last good pair.
    write(dir.path(), &other.cert_pem, second.key_pem());
    assert_eq!(presented(&resolver), der(&second.cert_pem));

    // Garbage or a missing file: keep the last good pair.
    write(dir.path(), "not a certificate", "not a key");
    assert_eq!(presented(&resolver), der(&second.cert_pem));
    std::fs::remove_file(dir.path().join("client-key.pem")).unwrap();
    assert_eq!(presented(&resolver), der(&second.cert_pem));

    // The rotation completes.
    write(dir.path(), &other.cert_pem, other.key_pem());
    assert_eq!(presented(&resolver), der(&other.cert_pem));
}

#[test]
fn unusable_files_are_refused_at_start_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate("rotation CA", 1).unwrap();
    let a = ca.issue_client("a", 1).unwrap();
    let b = ca.issue_client("b", 1).unwrap();
    let new = || {
        ReloadingClientCert::new(
            dir.path().join("client.pem"),
            dir.path().join("client-key.pem"),
        )
    };

    let error = new().unwrap_err();
    assert!(
        matches!(&error, ConnectError::TlsFile { path, .. } if path.ends_with("client.pem")),
        "{error}"
    );

    write(dir.path(), &a.cert_pem, b.key_pem());
    let error = new().unwrap_err();
    assert!(error.to_string().contains("client-key.pem"), "{error}");
    assert!(!error.to_string().contains("PRIVATE KEY"), "{error}");

    write(dir.path(), "", a.key_pem());
    let error = new().unwrap_err();
    assert!(error.to_string().contains("no certificate"), "{error}");
}
