//! The gRPC front: decode, validate, call the domain, map errors to `tonic::Status`. No
//! business logic lives here, and nothing here runs before the authorization layer.
//!
//! - `namespaces`: Register/Describe/List/UpdateNamespace.
//! - `system`: GetSystemInfo.
//! - `status`: the one mapping from domain errors to gRPC status codes.

mod namespaces;
mod status;
mod system;

use std::sync::Arc;

use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, DescribeNamespaceResponse, GetSystemInfoRequest,
    GetSystemInfoResponse, ListNamespacesRequest, ListNamespacesResponse, RegisterNamespaceRequest,
    RegisterNamespaceResponse, UpdateNamespaceRequest, UpdateNamespaceResponse,
};
use tonic::{Request, Response, Status};

use crate::{auth::Policy, grpc::workflow_service_server::WorkflowService, namespaces::Namespaces};

/// What the handlers share.
pub struct ApiState {
    /// The namespace registry.
    pub namespaces: Namespaces,
    /// The authorization policy (handlers use it to filter lists).
    pub policy: Arc<Policy>,
}

/// The WorkflowService implementation. Methods not implemented here answer Unimplemented.
#[derive(Clone)]
pub struct WorkflowApi {
    state: Arc<ApiState>,
}

impl WorkflowApi {
    /// An API over `state`.
    pub fn new(state: Arc<ApiState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl WorkflowService for WorkflowApi {
    async fn get_system_info(
        &self,
        _request: Request<GetSystemInfoRequest>,
    ) -> Result<Response<GetSystemInfoResponse>, Status> {
        Ok(Response::new(system::system_info()))
    }

    async fn register_namespace(
        &self,
        request: Request<RegisterNamespaceRequest>,
    ) -> Result<Response<RegisterNamespaceResponse>, Status> {
        namespaces::register(&self.state, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn describe_namespace(
        &self,
        request: Request<DescribeNamespaceRequest>,
    ) -> Result<Response<DescribeNamespaceResponse>, Status> {
        namespaces::describe(&self.state, request).map(Response::new)
    }

    async fn list_namespaces(
        &self,
        request: Request<ListNamespacesRequest>,
    ) -> Result<Response<ListNamespacesResponse>, Status> {
        namespaces::list(&self.state, request).map(Response::new)
    }

    async fn update_namespace(
        &self,
        request: Request<UpdateNamespaceRequest>,
    ) -> Result<Response<UpdateNamespaceResponse>, Status> {
        namespaces::update(&self.state, request.into_inner())
            .await
            .map(Response::new)
    }
}
