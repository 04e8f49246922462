//! The mTLS matrix: every way in without a valid client certificate is refused in the
//! handshake and changes nothing; a valid certificate works.

use lockstep_certs::Ca;
use lockstep_tests::{
    DevServer, Identity,
    clients::{handshake, plaintext_client, rustls_config},
    workflow_client,
};
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, RegisterNamespaceRequest,
};
use time::{Duration, OffsetDateTime};

fn register(name: &str) -> RegisterNamespaceRequest {
    RegisterNamespaceRequest {
        namespace: name.into(),
        workflow_execution_retention_period: Some(prost_wkt_types::Duration {
            seconds: 86400,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// Tries to register a namespace with `identity` and asserts it fails at the TLS level.
async fn assert_refused(
    server: &DevServer,
    ca_pem: &[u8],
    identity: Option<&Identity>,
    case: &str,
) {
    // Raw handshake: refused before any HTTP/2 frame is answered.
    let raw = handshake(
        server.addr(),
        rustls_config(ca_pem, identity, &[&rustls::version::TLS13]),
    )
    .await;
    assert!(raw.is_err(), "{case}: handshake unexpectedly accepted");
    // gRPC: the call cannot go through.
    if let Ok(mut client) = workflow_client(server.addr(), ca_pem, identity).await {
        let result = client
            .register_namespace(register(&format!("ns-{}", case.replace(' ', "-"))))
            .await;
        let status = result.expect_err(case);
        assert_ne!(
            status.code(),
            tonic::Code::PermissionDenied,
            "{case}: reached the authorization layer"
        );
    }
}

#[tokio::test]
async fn only_valid_client_certificates_get_in() {
    let server = DevServer::start();
    let certs = server.certs_dir();
    let ca_pem = std::fs::read(certs.join("ca.pem")).unwrap();
    let dev_ca = Ca::load(&certs.join("ca.pem"), &certs.join("ca-key.pem")).unwrap();
    let now = OffsetDateTime::now_utc();

    assert_refused(&server, &ca_pem, None, "no client certificate").await;

    let other_ca = Ca::generate("Some Other CA", 30).unwrap();
    let foreign = Identity::from_issued(&other_ca.issue_client("admin", 30).unwrap());
    assert_refused(&server, &ca_pem, Some(&foreign), "another CA").await;

    let expired = dev_ca
        .issue_client_with_validity("admin", now - Duration::days(10), now - Duration::days(1))
        .unwrap();
    assert_refused(
        &server,
        &ca_pem,
        Some(&Identity::from_issued(&expired)),
        "expired",
    )
    .await;

    let future = dev_ca
        .issue_client_with_validity("admin", now + Duration::days(1), now + Duration::days(10))
        .unwrap();
    assert_refused(
        &server,
        &ca_pem,
        Some(&Identity::from_issued(&future)),
        "not yet valid",
    )
    .await;

    let ca_as_client = Identity {
        cert_pem: ca_pem.clone(),
        key_pem: std::fs::read(certs.join("ca-key.pem")).unwrap(),
    };
    assert_refused(&server, &ca_pem, Some(&ca_as_client), "CA as client").await;

    // TLS 1.2 only, with a perfectly valid certificate.
    let admin = Identity::from_dir(&certs, "admin");
    let tls12 = handshake(
        server.addr(),
        rustls_config(&ca_pem, Some(&admin), &[&rustls::version::TLS12]),
    )
    .await;
    let err = tls12.expect_err("TLS 1.2 must be refused");
    assert!(
        err.contains("handshake"),
        "TLS 1.2 refused during the handshake: {err}"
    );

    // Plaintext HTTP/2.
    if let Ok(mut client) = plaintext_client(server.addr()).await {
        let result = client.register_namespace(register("plaintext")).await;
        assert!(result.is_err(), "plaintext HTTP/2 must be refused");
    }

    // A valid certificate works, over TLS 1.3, and nothing above changed anything.
    handshake(
        server.addr(),
        rustls_config(&ca_pem, Some(&admin), &[&rustls::version::TLS13]),
    )
    .await
    .expect("a valid client certificate is accepted");
    let mut client = workflow_client(server.addr(), &ca_pem, Some(&admin))
        .await
        .unwrap();
    let namespaces = client
        .list_namespaces(
            temporalio_protos::temporal::api::workflowservice::v1::ListNamespacesRequest::default(),
        )
        .await
        .unwrap()
        .into_inner()
        .namespaces;
    let names: Vec<_> = namespaces
        .iter()
        .filter_map(|ns| ns.namespace_info.as_ref().map(|i| i.name.clone()))
        .collect();
    assert_eq!(
        names,
        vec!["default".to_string()],
        "refused clients changed nothing"
    );
    let described = client
        .describe_namespace(DescribeNamespaceRequest {
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(described.into_inner().namespace_info.is_some());
}

/// Connects with `config`, sends the HTTP/2 preface and reads the server's answer (which also
/// delivers any session tickets); returns how the handshake went.
async fn handshake_kind(
    addr: std::net::SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> rustls::HandshakeKind {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), tls.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(n)) if n > 0),
        "the server answers: {read:?}"
    );
    tls.get_ref().1.handshake_kind().expect("handshake done")
}

/// Sessions are never resumed: every connection's client certificate is checked again, so a
/// certificate that expired (or whose CA was rotated out) cannot ride on an earlier session.
#[tokio::test]
async fn sessions_are_not_resumed() {
    let server = DevServer::start();
    let certs = server.certs_dir();
    let ca_pem = std::fs::read(certs.join("ca.pem")).unwrap();
    let admin = Identity::from_dir(&certs, "admin");
    // One client config, so its session cache carries over from one connection to the next.
    let config = rustls_config(&ca_pem, Some(&admin), &[&rustls::version::TLS13]);
    for _ in 0..3 {
        assert_eq!(
            handshake_kind(server.addr(), config.clone()).await,
            rustls::HandshakeKind::Full
        );
    }
}
