//! Operating the server: certificate hot reload, restarts keep state, bad data dirs and bad
//! configuration give clear errors instead of panics.

use std::time::{Duration, Instant};

use lockstep_certs::Ca;
use lockstep_tests::{
    DevServer, Identity,
    clients::{handshake, rustls_config},
    server::run_lockstep,
    workflow_client,
};
use rustls_pki_types::pem::PemObject;
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, RegisterNamespaceRequest,
};

#[tokio::test]
async fn replaced_server_certificate_is_served_without_restart() {
    let server = DevServer::start();
    let certs = server.certs_dir();
    let ca_pem = std::fs::read(certs.join("ca.pem")).unwrap();
    let admin = Identity::from_dir(&certs, "admin");
    let config = || rustls_config(&ca_pem, Some(&admin), &[&rustls::version::TLS13]);
    let before = handshake(server.addr(), config())
        .await
        .expect("first handshake");

    let ca = Ca::load(&certs.join("ca.pem"), &certs.join("ca-key.pem")).unwrap();
    let fresh = ca
        .issue_server(&["localhost".into()], &["127.0.0.1".parse().unwrap()], 30)
        .unwrap();
    fresh
        .write(&certs.join("server.pem"), &certs.join("server-key.pem"))
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now_served = handshake(server.addr(), config())
            .await
            .expect("handshake during reload");
        if now_served != before {
            let fresh_der =
                rustls_pki_types::CertificateDer::pem_slice_iter(fresh.cert_pem.as_bytes())
                    .next()
                    .unwrap()
                    .unwrap();
            assert_eq!(
                now_served,
                fresh_der.as_ref(),
                "the new certificate is served"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pid = server.pid().expect("still running");
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the same process serves the new certificate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_keep_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = DevServer::start_in(&data, &[]);
    let ca = std::fs::read(server.certs_dir().join("ca.pem")).unwrap();
    let admin = Identity::from_dir(&server.certs_dir(), "admin");
    let mut client = workflow_client(server.addr(), &ca, Some(&admin))
        .await
        .unwrap();
    client
        .register_namespace(RegisterNamespaceRequest {
            namespace: "survives".into(),
            workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                seconds: 86400,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    // Acknowledged means durable: SIGKILL, no chance to flush on the way out.
    server.kill();

    let mut server = DevServer::start_in(&data, &[]);
    let mut client = workflow_client(server.addr(), &ca, Some(&admin))
        .await
        .unwrap();
    let described = client
        .describe_namespace(DescribeNamespaceRequest {
            namespace: "survives".into(),
            ..Default::default()
        })
        .await
        .expect("namespace survives SIGKILL and restart")
        .into_inner();
    assert_eq!(described.namespace_info.unwrap().name, "survives");
    // The same dev CA is reused, so the old client certificate still works; SIGTERM is clean.
    drop(client);
    assert!(server.terminate(), "SIGTERM exits cleanly");
}

fn assert_clear_failure(output: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "must fail");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert!(
        stderr.contains(needle),
        "stderr should mention {needle:?}: {stderr}"
    );
}

#[test]
fn corrupt_or_unusable_data_dirs_are_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    // A data dir whose database files are garbage.
    let data = dir.path().join("corrupt");
    std::fs::create_dir_all(data.join("db")).unwrap();
    std::fs::write(
        data.join("db").join("conf"),
        b"\xde\xad\xbe\xef not a sled config",
    )
    .unwrap();
    std::fs::write(data.join("db").join("db"), vec![0xAB; 4096]).unwrap();
    let port = lockstep_tests::server::free_port().to_string();
    let output = run_lockstep(&[
        "server",
        "start-dev",
        "--port",
        &port,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_clear_failure(&output, "data dir");

    // A data dir that is a file.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let output = run_lockstep(&[
        "server",
        "start-dev",
        "--port",
        &port,
        "--data-dir",
        file.to_str().unwrap(),
    ]);
    assert_clear_failure(&output, "a-file");
}

#[test]
fn bad_configuration_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = run_lockstep(&["server", "start", "--config", "/nonexistent/lockstep.toml"]);
    assert_clear_failure(&missing, "/nonexistent/lockstep.toml");

    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{d}/data\"\npolicy = \"{d}/policy.toml\"\n\
             [tls]\ncert = \"{d}/server.pem\"\nkey = \"{d}/server-key.pem\"\nclient_ca = \"{d}/ca.pem\"\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let no_certs = run_lockstep(&["server", "start", "--config", config.to_str().unwrap()]);
    assert_clear_failure(&no_certs, "server.pem");

    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nplaintext = true\n").unwrap();
    let unknown = run_lockstep(&["server", "start", "--config", config.to_str().unwrap()]);
    assert_clear_failure(&unknown, "plaintext");
}
