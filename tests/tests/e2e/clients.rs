//! Official clients work unchanged: the Temporal Rust client and the real `temporal` CLI.

use std::process::Command;

use lockstep_tests::{DevServer, tools::temporal_cli};
use temporalio_client::{ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url};
use temporalio_protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;

#[tokio::test]
async fn official_rust_client_describes_the_namespace_over_mtls() {
    let server = DevServer::start();
    let certs = server.certs_dir();
    let client_tls = ClientTlsOptions::builder()
        .client_cert(std::fs::read(certs.join("worker.pem")).unwrap())
        .client_private_key(std::fs::read(certs.join("worker-key.pem")).unwrap())
        .build();
    let tls = TlsOptions::builder()
        .server_root_ca_cert(std::fs::read(certs.join("ca.pem")).unwrap())
        .domain("localhost".to_string())
        .client_tls_options(client_tls)
        .build();
    let url = Url::parse(&format!("https://{}", server.addr())).unwrap();
    let options = ConnectionOptions::new(url)
        .identity("lockstep-e2e".to_string())
        .tls_options(tls)
        .build();
    let connection = Connection::connect(options)
        .await
        .expect("the official client connects");
    let mut service = connection.workflow_service();
    let described = service
        .describe_namespace(tonic::Request::new(DescribeNamespaceRequest {
            namespace: "default".into(),
            ..Default::default()
        }))
        .await
        .expect("DescribeNamespace succeeds")
        .into_inner();
    let info = described.namespace_info.expect("namespace info");
    assert_eq!(info.name, "default");
    assert_eq!(info.state, 1, "REGISTERED");
}

/// Runs the real `temporal` CLI against `server` (as the dev admin when `with_cert`).
pub(super) fn temporal(server: &DevServer, with_cert: bool, args: &[&str]) -> std::process::Output {
    let certs = server.certs_dir();
    let mut command = Command::new(temporal_cli());
    command
        .args(args)
        .arg("--address")
        .arg(server.addr().to_string())
        .arg("--tls-ca-path")
        .arg(certs.join("ca.pem"))
        .args(["--command-timeout", "10s"])
        .env_remove("TEMPORAL_ADDRESS")
        .env("TEMPORAL_CONFIG_FILE", "/nonexistent/temporal.toml");
    if with_cert {
        command
            .arg("--tls-cert-path")
            .arg(certs.join("admin.pem"))
            .arg("--tls-key-path")
            .arg(certs.join("admin-key.pem"));
    }
    command.output().expect("run the temporal CLI")
}

#[test]
fn temporal_cli_manages_namespaces_with_a_certificate_and_fails_without() {
    let server = DevServer::start();
    let describe = temporal(
        &server,
        true,
        &["operator", "namespace", "describe", "default", "-o", "json"],
    );
    let stdout = String::from_utf8_lossy(&describe.stdout);
    assert!(
        describe.status.success(),
        "describe failed: {}",
        String::from_utf8_lossy(&describe.stderr)
    );
    assert!(stdout.contains("\"name\": \"default\""), "{stdout}");

    let list = temporal(
        &server,
        true,
        &["operator", "namespace", "list", "-o", "json"],
    );
    let stdout = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success(),
        "list failed: {}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(stdout.contains("\"default\""), "{stdout}");

    let create = temporal(
        &server,
        true,
        &[
            "operator",
            "namespace",
            "create",
            "--namespace",
            "cli-made",
            "--retention",
            "48h",
        ],
    );
    assert!(
        create.status.success(),
        "create failed: {}",
        String::from_utf8_lossy(&create.stderr)
    );
    let described = temporal(
        &server,
        true,
        &[
            "operator",
            "namespace",
            "describe",
            "cli-made",
            "-o",
            "json",
        ],
    );
    assert!(String::from_utf8_lossy(&described.stdout).contains("cli-made"));

    let refused = temporal(
        &server,
        false,
        &["operator", "namespace", "describe", "default"],
    );
    assert!(
        !refused.status.success(),
        "without a client certificate the CLI must fail"
    );
}

#[test]
fn temporal_cli_starts_lists_and_counts_workflows() {
    let server = DevServer::start();
    for (id, workflow_type) in [("list-a", "Alpha"), ("list-b", "Beta"), ("list-c", "Alpha")] {
        let started = temporal(
            &server,
            true,
            &[
                "workflow",
                "start",
                "--type",
                workflow_type,
                "--task-queue",
                "nobody",
                "--workflow-id",
                id,
                "--input",
                "\"x\"",
            ],
        );
        assert!(
            started.status.success(),
            "start failed: {}",
            String::from_utf8_lossy(&started.stderr)
        );
    }
    let terminated = temporal(
        &server,
        true,
        &[
            "workflow",
            "terminate",
            "--workflow-id",
            "list-b",
            "--reason",
            "test",
        ],
    );
    assert!(
        terminated.status.success(),
        "{}",
        String::from_utf8_lossy(&terminated.stderr)
    );

    let listed = temporal(
        &server,
        true,
        &[
            "workflow",
            "list",
            "--query",
            "WorkflowType = 'Alpha'",
            "-o",
            "json",
        ],
    );
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "list failed: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(
        stdout.contains("list-a") && stdout.contains("list-c") && !stdout.contains("list-b"),
        "{stdout}"
    );

    let running = temporal(
        &server,
        true,
        &[
            "workflow",
            "count",
            "--query",
            "ExecutionStatus = 'Running'",
        ],
    );
    let stdout = String::from_utf8_lossy(&running.stdout);
    assert!(
        running.status.success(),
        "count failed: {}",
        String::from_utf8_lossy(&running.stderr)
    );
    assert!(stdout.contains('2'), "two running: {stdout}");

    let unsupported = temporal(
        &server,
        true,
        &["workflow", "list", "--query", "WorkflowId LIKE 'list-%'"],
    );
    assert!(!unsupported.status.success());
    assert!(
        String::from_utf8_lossy(&unsupported.stderr).contains("LIKE"),
        "the error names the unsupported part"
    );
}
