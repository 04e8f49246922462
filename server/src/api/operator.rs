//! The OperatorService subset the `temporal` CLI's `operator search-attribute create|list|remove`
//! uses: AddSearchAttributes, RemoveSearchAttributes, ListSearchAttributes. Every other
//! OperatorService method answers Unimplemented (generated defaults). The authorization layer
//! has already checked the caller (admin for changes, reader for the list) before these run.
//! Also GetSearchAttributes (WorkflowService), which lists the custom attributes next to the
//! system ones.

use std::{collections::HashMap, sync::Arc};

use temporalio_protos::temporal::api::{
    common::v1::SearchAttributes,
    operatorservice::v1::{
        AddSearchAttributesRequest, AddSearchAttributesResponse, ListSearchAttributesRequest,
        ListSearchAttributesResponse, RemoveSearchAttributesRequest,
        RemoveSearchAttributesResponse,
    },
    workflowservice::v1::{GetSearchAttributesRequest, GetSearchAttributesResponse},
};
use tonic::{Request, Response, Status};

use super::ApiState;
use crate::{
    namespaces::NamespaceError,
    operator_grpc::operator_service_server::OperatorService,
    search_attributes::{Schema, add_custom, check_set, remove_custom, system_attributes},
};

/// The OperatorService implementation.
#[derive(Clone)]
pub struct OperatorApi {
    state: Arc<ApiState>,
}

impl OperatorApi {
    /// An API over `state` (the same state as the [`WorkflowApi`](super::WorkflowApi)).
    pub fn new(state: Arc<ApiState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl OperatorService for OperatorApi {
    async fn add_search_attributes(
        &self,
        request: Request<AddSearchAttributesRequest>,
    ) -> Result<Response<AddSearchAttributesResponse>, Status> {
        let request = request.into_inner();
        let namespace = request.namespace.as_str();
        let record = self
            .state
            .namespaces
            .modify::<Status>(namespace, |record| {
                Ok(add_custom(
                    &mut record.search_attributes,
                    &request.search_attributes,
                    namespace,
                )?)
            })
            .await?;
        tracing::info!(namespace, attributes = ?request.search_attributes.keys().collect::<Vec<_>>(), total = record.search_attributes.len(), "search attributes added");
        Ok(super::compression::reply(AddSearchAttributesResponse {}))
    }

    async fn remove_search_attributes(
        &self,
        request: Request<RemoveSearchAttributesRequest>,
    ) -> Result<Response<RemoveSearchAttributesResponse>, Status> {
        let request = request.into_inner();
        let namespace = request.namespace.as_str();
        self.state
            .namespaces
            .modify::<Status>(namespace, |record| {
                Ok(remove_custom(
                    &mut record.search_attributes,
                    &request.search_attributes,
                )?)
            })
            .await?;
        tracing::info!(namespace, attributes = ?request.search_attributes, "search attributes removed");
        Ok(super::compression::reply(RemoveSearchAttributesResponse {}))
    }

    async fn list_search_attributes(
        &self,
        request: Request<ListSearchAttributesRequest>,
    ) -> Result<Response<ListSearchAttributesResponse>, Status> {
        let namespace = request.into_inner().namespace;
        let record = self
            .state
            .namespaces
            .get(&namespace)
            .ok_or(NamespaceError::NotFound(namespace))?;
        Ok(super::compression::reply(ListSearchAttributesResponse {
            custom_attributes: record.search_attributes.clone(),
            system_attributes: system_attributes(),
            storage_schema: HashMap::new(),
        }))
    }
}

/// Refuses (InvalidArgument, naming the attribute) search attributes a start sets that the
/// namespace does not define or whose value is not of the attribute's type.
pub(crate) fn check_start_attributes(
    state: &ApiState,
    namespace: &str,
    attributes: Option<&SearchAttributes>,
) -> Result<(), Status> {
    let record = state
        .namespaces
        .get(namespace)
        .ok_or_else(|| NamespaceError::NotFound(namespace.to_string()))?;
    check_set(&Schema::of(&record), attributes).map_err(Status::invalid_argument)
}

/// GetSearchAttributes: the system attributes and the custom attributes of every namespace the
/// caller holds a role in (the request names no namespace). A name registered with different
/// types in two namespaces is listed with the type of the first namespace by name.
pub(crate) fn get_search_attributes(
    state: &ApiState,
    request: &Request<GetSearchAttributesRequest>,
) -> Result<GetSearchAttributesResponse, Status> {
    let principal = super::caller(request)?;
    let mut keys = system_attributes();
    for namespace in state.namespaces.list() {
        if !state.policy.has_any_role(&principal, &namespace.name) {
            continue;
        }
        for (name, kind) in &namespace.search_attributes {
            keys.entry(name.clone()).or_insert(*kind);
        }
    }
    Ok(GetSearchAttributesResponse { keys })
}
