//! Custom search attributes through the real `temporal` CLI (`operator search-attribute
//! create|list|remove`) and the OperatorService over mTLS: registered attributes are typed,
//! survive a SIGKILL and restart, and every OperatorService call is authorized (admin changes,
//! reader lists; the other methods answer Unimplemented).

use lockstep_tests::{
    DevServer,
    clients::{dev_client, dev_operator_client},
};
use temporalio_protos::temporal::api::{
    enums::v1::IndexedValueType,
    operatorservice::v1::{
        AddSearchAttributesRequest, DeleteNamespaceRequest, ListClustersRequest,
        ListSearchAttributesRequest, RemoveSearchAttributesRequest,
    },
    workflowservice::v1::GetSearchAttributesRequest,
};
use tonic::Code;

use super::clients::temporal;

/// Runs the CLI as the dev admin and returns (success, stdout + stderr).
fn cli(server: &DevServer, args: &[&str]) -> (bool, String) {
    let output = temporal(server, true, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The `Name Type` rows of `temporal operator search-attribute list` for custom names.
fn listed_type(listing: &str, name: &str) -> Option<String> {
    listing.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(name)).then(|| words.next().unwrap_or_default().to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_temporal_cli_registers_lists_and_removes_typed_attributes_durably() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = DevServer::start_in(&dir.path().join("data"), &[]);
    let create = [
        "operator",
        "search-attribute",
        "create",
        "--name",
        "CustomerId",
        "--type",
        "Keyword",
        "--name",
        "Priority",
        "--type",
        "Int",
        "--name",
        "DueAt",
        "--type",
        "Datetime",
    ];
    let (ok, out) = cli(&server, &create);
    assert!(ok, "create: {out}");
    let (ok, out) = cli(&server, &create);
    assert!(
        ok,
        "creating again with the same types changes nothing: {out}"
    );

    for (args, needle) in [
        (
            ["--name", "Priority", "--type", "Text"],
            "already exists and has different type Int",
        ),
        (
            ["--name", "WorkflowId", "--type", "Keyword"],
            "Search attribute WorkflowId is reserved by system.",
        ),
        (
            ["--name", "TemporalMine", "--type", "Keyword"],
            "reserved by system",
        ),
    ] {
        let mut full = vec!["operator", "search-attribute", "create"];
        full.extend(args);
        let (ok, out) = cli(&server, &full);
        assert!(!ok && out.contains(needle), "{args:?}: {out}");
    }

    // Acknowledged means durable: SIGKILL, then the registry is read back from the store.
    server.restart();
    let (ok, listing) = cli(&server, &["operator", "search-attribute", "list"]);
    assert!(ok, "list: {listing}");
    assert_eq!(
        listed_type(&listing, "CustomerId").as_deref(),
        Some("Keyword")
    );
    assert_eq!(listed_type(&listing, "Priority").as_deref(), Some("Int"));
    assert_eq!(listed_type(&listing, "DueAt").as_deref(), Some("Datetime"));
    assert_eq!(
        listed_type(&listing, "StartTime").as_deref(),
        Some("Datetime")
    );

    let remove = |name: &str| {
        cli(
            &server,
            &[
                "operator",
                "search-attribute",
                "remove",
                "--name",
                name,
                "--yes",
            ],
        )
    };
    let (ok, out) = remove("Priority");
    assert!(ok, "remove: {out}");
    let (ok, out) = remove("WorkflowId");
    assert!(
        !ok && out.contains("Unable to remove non-custom search attributes: WorkflowId"),
        "{out}"
    );
    let (_, listing) = cli(&server, &["operator", "search-attribute", "list"]);
    assert_eq!(listed_type(&listing, "Priority"), None, "{listing}");
    assert_eq!(
        listed_type(&listing, "CustomerId").as_deref(),
        Some("Keyword")
    );

    // GetSearchAttributes lists the custom attributes next to the system ones.
    let keys = dev_client(&server, "viewer")
        .await
        .get_search_attributes(GetSearchAttributesRequest {})
        .await
        .expect("GetSearchAttributes")
        .into_inner()
        .keys;
    assert_eq!(
        keys.get("CustomerId"),
        Some(&(IndexedValueType::Keyword as i32))
    );
    assert_eq!(
        keys.get("WorkflowId"),
        Some(&(IndexedValueType::Keyword as i32))
    );
    assert_eq!(keys.get("Priority"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_calls_are_authorized_and_the_rest_is_unimplemented() {
    let server = DevServer::start();
    let add = || AddSearchAttributesRequest {
        search_attributes: [("Region".to_string(), IndexedValueType::Keyword as i32)].into(),
        namespace: "default".into(),
    };
    let list = || ListSearchAttributesRequest {
        namespace: "default".into(),
    };

    let mut viewer = dev_operator_client(&server, "viewer").await;
    let denied = viewer.add_search_attributes(add()).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("lacks role admin"), "{denied:?}");
    let denied = viewer
        .remove_search_attributes(RemoveSearchAttributesRequest {
            search_attributes: vec!["Region".into()],
            namespace: "default".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let mut worker = dev_operator_client(&server, "worker").await;
    let denied = worker.list_search_attributes(list()).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("lacks role reader"), "{denied:?}");

    let mut admin = dev_operator_client(&server, "admin").await;
    admin
        .add_search_attributes(add())
        .await
        .expect("admin adds");
    let listed = viewer
        .list_search_attributes(list())
        .await
        .expect("a reader lists")
        .into_inner();
    assert_eq!(
        listed.custom_attributes.get("Region"),
        Some(&(IndexedValueType::Keyword as i32))
    );

    for (attributes, code, what) in [
        (
            vec![("Bad", 0)],
            Code::InvalidArgument,
            "an unspecified type",
        ),
        (vec![], Code::InvalidArgument, "no attributes"),
        (
            vec![("Region", IndexedValueType::Int as i32)],
            Code::AlreadyExists,
            "another type",
        ),
    ] {
        let status = admin
            .add_search_attributes(AddSearchAttributesRequest {
                search_attributes: attributes
                    .into_iter()
                    .map(|(name, kind)| (name.to_string(), kind))
                    .collect(),
                namespace: "default".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{what}: {status:?}");
    }
    let missing = admin
        .list_search_attributes(ListSearchAttributesRequest {
            namespace: "no-such-namespace".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");

    let unimplemented = admin
        .delete_namespace(DeleteNamespaceRequest {
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unimplemented.code(), Code::Unimplemented);
    let unimplemented = admin
        .list_clusters(ListClustersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(unimplemented.code(), Code::Unimplemented);
    let denied = viewer
        .list_clusters(ListClustersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
}
