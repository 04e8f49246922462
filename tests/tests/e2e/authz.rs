//! The authorization matrix: roles from the dev policy, deny by default.

use lockstep_certs::Ca;
use lockstep_tests::{DevServer, Identity, workflow_client};
use temporalio_protos::temporal::api::{
    common::v1::WorkflowType,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        DescribeNamespaceRequest, GetSystemInfoRequest, ListNamespacesRequest,
        PollActivityTaskQueueRequest, RegisterNamespaceRequest, StartWorkflowExecutionRequest,
        UpdateNamespaceRequest, workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::{Code, transport::Channel};

async fn client_as(server: &DevServer, identity: &Identity) -> WorkflowServiceClient<Channel> {
    let ca = std::fs::read(server.certs_dir().join("ca.pem")).unwrap();
    workflow_client(server.addr(), &ca, Some(identity))
        .await
        .unwrap()
}

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

fn start(namespace: &str) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: namespace.into(),
        workflow_id: "authz".into(),
        workflow_type: Some(WorkflowType { name: "wf".into() }),
        task_queue: Some(TaskQueue {
            name: "q".into(),
            ..Default::default()
        }),
        request_id: "r1".into(),
        ..Default::default()
    }
}

fn assert_denied<T: std::fmt::Debug>(result: Result<T, tonic::Status>, needle: &str) {
    let status = result.expect_err("must be denied");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains(needle),
        "message {:?} should mention {needle:?}",
        status.message()
    );
}

#[tokio::test]
async fn roles_are_enforced_before_any_handler() {
    let server = DevServer::start();
    let certs = server.certs_dir();

    // A worker cannot register namespaces; the message names principal, namespace and role.
    let mut worker = client_as(&server, &Identity::from_dir(&certs, "worker")).await;
    let denied = worker.register_namespace(register("orders")).await;
    assert_denied(denied, "spiffe://lockstep/worker");
    let denied = worker
        .register_namespace(register("orders"))
        .await
        .unwrap_err();
    assert!(denied.message().contains("\"orders\"") && denied.message().contains("admin"));
    // ... but it may describe the namespace it works in (the SDK does at start).
    worker
        .describe_namespace(DescribeNamespaceRequest {
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .expect("a worker describes its namespace");

    // A reader cannot start workflows.
    let mut viewer = client_as(&server, &Identity::from_dir(&certs, "viewer")).await;
    assert_denied(
        viewer.start_workflow_execution(start("default")).await,
        "client",
    );
    // A request without a namespace is refused with a clear message.
    let status = viewer
        .start_workflow_execution(start(""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("namespace"));

    // A principal the policy does not know is denied everything.
    let dev_ca = Ca::load(&certs.join("ca.pem"), &certs.join("ca-key.pem")).unwrap();
    let stranger = Identity::from_issued(&dev_ca.issue_client("stranger", 1).unwrap());
    let mut stranger = client_as(&server, &stranger).await;
    assert_denied(
        stranger
            .get_system_info(GetSystemInfoRequest::default())
            .await,
        "stranger",
    );
    assert_denied(
        stranger
            .describe_namespace(DescribeNamespaceRequest {
                namespace: "default".into(),
                ..Default::default()
            })
            .await,
        "stranger",
    );
    assert_denied(
        stranger
            .list_namespaces(ListNamespacesRequest::default())
            .await,
        "stranger",
    );
    assert_denied(
        stranger.start_workflow_execution(start("default")).await,
        "stranger",
    );
    assert_denied(
        stranger
            .poll_activity_task_queue(PollActivityTaskQueueRequest {
                namespace: "default".into(),
                task_queue: Some(TaskQueue {
                    name: "q".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        "stranger",
    );
    assert_denied(
        stranger.register_namespace(register("mine")).await,
        "stranger",
    );

    // Admin can do everything.
    let mut admin = client_as(&server, &Identity::from_dir(&certs, "admin")).await;
    admin
        .register_namespace(register("orders"))
        .await
        .expect("admin registers");
    let again = admin
        .register_namespace(register("orders"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    admin
        .update_namespace(UpdateNamespaceRequest {
            namespace: "orders".into(),
            update_info: Some(
                temporalio_protos::temporal::api::namespace::v1::UpdateNamespaceInfo {
                    description: "order processing".into(),
                    ..Default::default()
                },
            ),
            ..Default::default()
        })
        .await
        .expect("admin updates");
    let listed = admin
        .list_namespaces(ListNamespacesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.namespaces.len(), 2);
    let info = admin
        .get_system_info(GetSystemInfoRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!info.server_version.is_empty());
    // Denials are logged with principal and method, never with payloads.
    let log = server.stderr();
    assert!(
        log.contains("permission denied") && log.contains("RegisterNamespace"),
        "{log}"
    );
}
