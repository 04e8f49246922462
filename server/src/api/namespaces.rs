//! Namespace RPCs.

use std::{collections::HashMap, time::Duration};

use temporalio_protos::temporal::api::{
    enums::v1::NamespaceState,
    namespace::v1::{NamespaceConfig, NamespaceInfo, namespace_info::Capabilities},
    replication::v1::{ClusterReplicationConfig, NamespaceReplicationConfig},
    workflowservice::v1::{
        DescribeNamespaceRequest, DescribeNamespaceResponse, ListNamespacesRequest,
        ListNamespacesResponse, RegisterNamespaceRequest, RegisterNamespaceResponse,
        UpdateNamespaceRequest, UpdateNamespaceResponse,
    },
};
use tonic::{Request, Status};

use super::ApiState;
use crate::namespaces::{
    NamespaceError, NamespaceRecord, NamespaceUpdate, NewNamespace, PAYLOAD_POLICY_KEY,
};

const CLUSTER: &str = "active";
const DEFAULT_PAGE_SIZE: usize = 100;

pub(crate) async fn register(
    state: &ApiState,
    request: RegisterNamespaceRequest,
) -> Result<RegisterNamespaceResponse, Status> {
    let retention = request
        .workflow_execution_retention_period
        .map(to_duration)
        .transpose()?;
    state
        .namespaces
        .register(NewNamespace {
            name: request.namespace,
            description: request.description,
            owner_email: request.owner_email,
            retention,
            data: request.data,
        })
        .await?;
    Ok(RegisterNamespaceResponse {})
}

pub(crate) fn describe(
    state: &ApiState,
    request: Request<DescribeNamespaceRequest>,
) -> Result<DescribeNamespaceResponse, Status> {
    let request = request.into_inner();
    let found = if request.namespace.is_empty() {
        state.namespaces.get_by_id(&request.id)
    } else {
        state.namespaces.get(&request.namespace)
    };
    let Some(record) = found else {
        let wanted = if request.namespace.is_empty() {
            request.id
        } else {
            request.namespace
        };
        return Err(NamespaceError::NotFound(wanted).into());
    };
    Ok(describe_record(&record))
}

pub(crate) fn list(
    state: &ApiState,
    request: Request<ListNamespacesRequest>,
) -> Result<ListNamespacesResponse, Status> {
    let principal = super::caller(&request)?;
    let request = request.into_inner();
    let after = String::from_utf8(request.next_page_token)
        .map_err(|_| Status::invalid_argument("next_page_token is not one this server issued"))?;
    let page_size = match usize::try_from(request.page_size) {
        Ok(0) | Err(_) => DEFAULT_PAGE_SIZE,
        Ok(n) => n.min(1000),
    };
    // Only the namespaces the caller holds a role in: listing must not reveal the others.
    let visible: Vec<_> = state
        .namespaces
        .list()
        .into_iter()
        .filter(|ns| after.is_empty() || ns.name > after)
        .filter(|ns| state.policy.has_any_role(&principal, &ns.name))
        .take(page_size + 1)
        .collect();
    let next_page_token = if visible.len() > page_size {
        visible[page_size - 1].name.clone().into_bytes()
    } else {
        Vec::new()
    };
    Ok(ListNamespacesResponse {
        namespaces: visible
            .iter()
            .take(page_size)
            .map(|ns| describe_record(ns))
            .collect(),
        next_page_token,
    })
}

pub(crate) async fn update(
    state: &ApiState,
    request: UpdateNamespaceRequest,
) -> Result<UpdateNamespaceResponse, Status> {
    let mut update = NamespaceUpdate::default();
    if let Some(info) = request.update_info {
        update.description = Some(info.description).filter(|d| !d.is_empty());
        update.owner_email = Some(info.owner_email).filter(|e| !e.is_empty());
        update.data = info.data;
    }
    if let Some(config) = request.config {
        update.retention = config
            .workflow_execution_retention_ttl
            .map(to_duration)
            .transpose()?;
    }
    let record = state.namespaces.update(&request.namespace, update).await?;
    let described = describe_record(&record);
    Ok(UpdateNamespaceResponse {
        namespace_info: described.namespace_info,
        config: described.config,
        replication_config: described.replication_config,
        failover_version: 0,
        is_global_namespace: false,
    })
}

fn describe_record(record: &NamespaceRecord) -> DescribeNamespaceResponse {
    let mut data: HashMap<String, String> = record.data.clone();
    data.insert(
        PAYLOAD_POLICY_KEY.into(),
        record.payload_policy().as_str().into(),
    );
    DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            name: record.name.clone(),
            state: NamespaceState::Registered.into(),
            description: record.description.clone(),
            owner_email: record.owner_email.clone(),
            data,
            id: record.id.clone(),
            // Nothing optional is advertised until it is implemented.
            capabilities: Some(Capabilities::default()),
            ..Default::default()
        }),
        config: Some(NamespaceConfig {
            workflow_execution_retention_ttl: Some(prost_wkt_types::Duration {
                seconds: record.retention_seconds,
                nanos: 0,
            }),
            ..Default::default()
        }),
        replication_config: Some(NamespaceReplicationConfig {
            active_cluster_name: CLUSTER.into(),
            clusters: vec![ClusterReplicationConfig {
                cluster_name: CLUSTER.into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn to_duration(duration: prost_wkt_types::Duration) -> Result<Duration, Status> {
    let seconds = u64::try_from(duration.seconds)
        .map_err(|_| Status::invalid_argument("durations must not be negative"))?;
    let nanos = u32::try_from(duration.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| Status::invalid_argument("duration nanos must be 0..1e9"))?;
    Ok(Duration::new(seconds, nanos))
}
