//! The certificates this crate issues, checked by the verifiers the server really uses
//! (rustls/webpki with ring), and in a real in-memory TLS 1.3 handshake with client auth.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use lockstep_certs::{Ca, CertifiedKey, DEV_PRINCIPALS, DevPki, inspect_pem, principal_from_der};
use proptest::prelude::*;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{
    ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig, ServerConnection,
};
use time::{Duration, OffsetDateTime};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn roots(ca: &Ca) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(der(ca.cert_pem())).unwrap();
    Arc::new(roots)
}

fn client_verifier(ca: &Ca) -> Arc<dyn ClientCertVerifier> {
    WebPkiClientVerifier::builder_with_provider(roots(ca), provider())
        .build()
        .unwrap()
}

fn server_verifier(ca: &Ca) -> Arc<WebPkiServerVerifier> {
    WebPkiServerVerifier::builder_with_provider(roots(ca), provider())
        .build()
        .unwrap()
}

fn verify_client(ca: &Ca, leaf: &CertifiedKey) -> Result<(), rustls::Error> {
    client_verifier(ca)
        .verify_client_cert(&der(&leaf.cert_pem), &[], UnixTime::now())
        .map(drop)
}

fn verify_server(ca: &Ca, leaf: &CertifiedKey, name: &str) -> Result<(), rustls::Error> {
    let name = ServerName::try_from(name.to_owned()).unwrap();
    server_verifier(ca)
        .verify_server_cert(&der(&leaf.cert_pem), &[], &name, &[], UnixTime::now())
        .map(drop)
}

#[test]
fn client_certificates_chain_to_their_ca_only() {
    let ca = Ca::generate("CA", 30).unwrap();
    let other = Ca::generate("Other CA", 30).unwrap();
    let worker = ca.issue_client("worker", 1).unwrap();
    verify_client(&ca, &worker).unwrap();
    verify_client(&other, &worker).unwrap_err();
    verify_client(&other, &other.issue_client("worker", 1).unwrap()).unwrap();
}

#[test]
fn expired_and_not_yet_valid_client_certificates_are_refused() {
    let ca = Ca::generate("CA", 30).unwrap();
    let now = OffsetDateTime::now_utc();
    let expired = ca
        .issue_client_with_validity("worker", now - Duration::days(2), now - Duration::days(1))
        .unwrap();
    let future = ca
        .issue_client_with_validity("worker", now + Duration::days(1), now + Duration::days(2))
        .unwrap();
    let expired_err = verify_client(&ca, &expired).unwrap_err().to_string();
    let future_err = verify_client(&ca, &future).unwrap_err().to_string();
    assert!(expired_err.contains("expired"), "{expired_err}");
    assert!(
        future_err.contains("not valid yet") || future_err.contains("NotValidYet"),
        "{future_err}"
    );
}

#[test]
fn server_certificates_verify_for_their_names_only() {
    let ca = Ca::generate("CA", 30).unwrap();
    let ips = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let server = ca.issue_server(&["localhost".to_owned()], &ips, 1).unwrap();
    for name in ["localhost", "127.0.0.1", "::1"] {
        verify_server(&ca, &server, name).unwrap();
    }
    verify_server(&ca, &server, "example.com").unwrap_err();
    verify_server(&ca, &server, "10.0.0.1").unwrap_err();
}

#[test]
fn extended_key_usage_keeps_roles_apart() {
    let ca = Ca::generate("CA", 30).unwrap();
    let server = ca.issue_server(&["localhost".to_owned()], &[], 1).unwrap();
    let client = ca.issue_client("localhost", 1).unwrap();
    verify_client(&ca, &server).unwrap_err();
    verify_server(&ca, &client, "localhost").unwrap_err();
}

#[test]
fn a_loaded_ca_issues_certificates_the_original_trusts() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = Ca::generate("CA", 30).unwrap();
    ca.write(&tmp.path().join("ca.pem"), &tmp.path().join("ca-key.pem"))
        .unwrap();
    let loaded = Ca::load(&tmp.path().join("ca.pem"), &tmp.path().join("ca-key.pem")).unwrap();
    verify_client(&ca, &loaded.issue_client("worker", 1).unwrap()).unwrap();
    verify_server(
        &ca,
        &loaded
            .issue_server(&["localhost".to_owned()], &[], 1)
            .unwrap(),
        "localhost",
    )
    .unwrap();
}

/// Moves TLS records from one side to the other until neither has anything to say.
fn pump(client: &mut Connection, server: &mut Connection) -> Result<(), rustls::Error> {
    for _ in 0..20 {
        let moved = transfer(client, server)? | transfer(server, client)?;
        if !moved {
            return Ok(());
        }
    }
    panic!("handshake did not settle");
}

/// Sends everything `from` wants to write to `to`; whether anything was sent.
fn transfer(from: &mut Connection, to: &mut Connection) -> Result<bool, rustls::Error> {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).unwrap();
        to.process_new_packets()?;
    }
    Ok(!buf.is_empty())
}

/// A TLS 1.3 handshake between a server using the dev PKI's server certificate and CA, and a
/// client presenting `cert`/`key` (PEM); returns the principal the server sees.
fn handshake(pki: &DevPki, cert: &[u8], key: &[u8]) -> Result<Option<String>, rustls::Error> {
    let read = |path: &std::path::Path| std::fs::read(path).unwrap();
    let ca = pki.ca().unwrap();
    let server_config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(client_verifier(&ca))
        .with_single_cert(
            CertificateDer::pem_slice_iter(&read(&pki.server_cert()))
                .collect::<Result<_, _>>()
                .unwrap(),
            PrivateKeyDer::from_pem_slice(&read(&pki.server_key())).unwrap(),
        )
        .unwrap();
    let client_config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots(&ca))
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(cert).unwrap()],
            PrivateKeyDer::from_pem_slice(key).unwrap(),
        )
        .unwrap();
    let mut client = Connection::Client(
        ClientConnection::new(
            Arc::new(client_config),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap(),
    );
    let mut server = Connection::Server(ServerConnection::new(Arc::new(server_config)).unwrap());
    pump(&mut client, &mut server)?;
    assert!(!server.is_handshaking() && !client.is_handshaking());
    let peer = server.peer_certificates().unwrap()[0].clone();
    Ok(principal_from_der(&peer).unwrap())
}

#[test]
fn dev_pki_works_in_a_real_mtls_handshake() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = DevPki::ensure(tmp.path(), &DEV_PRINCIPALS).unwrap();
    for name in DEV_PRINCIPALS {
        let cert = std::fs::read(pki.client_cert(name)).unwrap();
        let key = std::fs::read(pki.client_key(name)).unwrap();
        let principal = handshake(&pki, &cert, &key).unwrap();
        assert_eq!(principal, Some(format!("spiffe://lockstep/{name}")));
    }
    // Refused in the handshake: a client certificate from another CA, an expired one.
    let stranger = Ca::generate("Stranger", 1)
        .unwrap()
        .issue_client("worker", 1)
        .unwrap();
    handshake(
        &pki,
        stranger.cert_pem.as_bytes(),
        stranger.key_pem().as_bytes(),
    )
    .unwrap_err();
    let now = OffsetDateTime::now_utc();
    let expired = pki
        .ca()
        .unwrap()
        .issue_client_with_validity("worker", now - Duration::days(2), now - Duration::days(1))
        .unwrap();
    handshake(
        &pki,
        expired.cert_pem.as_bytes(),
        expired.key_pem().as_bytes(),
    )
    .unwrap_err();
}

proptest! {
    /// Corrupting any bytes of a real certificate never makes parsing panic.
    #[test]
    fn corrupted_certificates_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        static LEAF: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let leaf = LEAF.get_or_init(|| {
            let ca = Ca::generate("CA", 1).unwrap();
            der(&ca.issue_client("worker", 1).unwrap().cert_pem).to_vec()
        });
        let mut bytes = leaf.clone();
        for (at, value) in flips {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        let _ = principal_from_der(&bytes);
        let _ = principal_from_der(&bytes[..cut % (bytes.len() + 1)]);
        let pem = pem::encode(&pem::Pem::new("CERTIFICATE", bytes));
        let _ = inspect_pem(pem.as_bytes());
    }
}
