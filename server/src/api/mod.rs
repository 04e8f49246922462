//! The gRPC front: decode, validate, call the domain, map errors to `tonic::Status`. No
//! business logic lives here, and nothing here runs before the authorization layer.
//!
//! - `namespaces`: Register/Describe/List/UpdateNamespace.
//! - `operator`: the OperatorService search attribute methods, and GetSearchAttributes.
//! - `system`: GetSystemInfo.
//! - `workflows`: starting, signalling, reading workflows; polling and answering tasks.
//! - `updates`: workflow updates and update-with-start (ExecuteMultiOperation).
//! - `payload_policy`: refuses cleartext payloads in `encrypted-only` namespaces.
//! - `status`: the one mapping from domain errors to gRPC status codes.
//! - `compression`: which responses are worth gzip.

mod compression;
mod namespaces;
mod operator;
mod payload_policy;
mod status;
mod system;
mod updates;
mod workflows;

use std::sync::Arc;

use temporalio_protos::temporal::api::workflowservice::v1::*;
use tonic::{Request, Response, Status};

use compression::reply;
pub use operator::OperatorApi;
pub use payload_policy::ENCRYPTED_ENCODING;
use payload_policy::PayloadGuard;

use crate::{
    auth::Policy, executions::Executions, grpc::workflow_service_server::WorkflowService,
    namespaces::Namespaces,
};

/// What the handlers share.
pub struct ApiState {
    /// The namespace registry.
    pub namespaces: Arc<Namespaces>,
    /// The authorization policy (handlers use it to filter lists).
    pub policy: Arc<Policy>,
    /// Workflow executions.
    pub executions: Arc<Executions>,
    payloads: PayloadGuard,
}

impl ApiState {
    /// State over the given registries.
    pub fn new(
        namespaces: Arc<Namespaces>,
        policy: Arc<Policy>,
        executions: Arc<Executions>,
    ) -> Self {
        Self {
            payloads: PayloadGuard::new(namespaces.clone()),
            namespaces,
            policy,
            executions,
        }
    }
}

/// The principal of the verified client certificate that sent `request`.
fn caller<T>(request: &Request<T>) -> Result<String, Status> {
    request
        .extensions()
        .get::<crate::auth::Peer>()
        .map(|peer| peer.principal().to_string())
        .ok_or_else(|| Status::unauthenticated("no verified client certificate"))
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
        Ok(reply(system::system_info()))
    }

    async fn register_namespace(
        &self,
        request: Request<RegisterNamespaceRequest>,
    ) -> Result<Response<RegisterNamespaceResponse>, Status> {
        namespaces::register(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn describe_namespace(
        &self,
        request: Request<DescribeNamespaceRequest>,
    ) -> Result<Response<DescribeNamespaceResponse>, Status> {
        namespaces::describe(&self.state, request).map(reply)
    }

    async fn list_namespaces(
        &self,
        request: Request<ListNamespacesRequest>,
    ) -> Result<Response<ListNamespacesResponse>, Status> {
        namespaces::list(&self.state, request).map(reply)
    }

    async fn update_namespace(
        &self,
        request: Request<UpdateNamespaceRequest>,
    ) -> Result<Response<UpdateNamespaceResponse>, Status> {
        namespaces::update(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn start_workflow_execution(
        &self,
        request: Request<StartWorkflowExecutionRequest>,
    ) -> Result<Response<StartWorkflowExecutionResponse>, Status> {
        workflows::start(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn signal_with_start_workflow_execution(
        &self,
        request: Request<SignalWithStartWorkflowExecutionRequest>,
    ) -> Result<Response<SignalWithStartWorkflowExecutionResponse>, Status> {
        workflows::signal_with_start(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn request_cancel_workflow_execution(
        &self,
        request: Request<RequestCancelWorkflowExecutionRequest>,
    ) -> Result<Response<RequestCancelWorkflowExecutionResponse>, Status> {
        workflows::request_cancel(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn terminate_workflow_execution(
        &self,
        request: Request<TerminateWorkflowExecutionRequest>,
    ) -> Result<Response<TerminateWorkflowExecutionResponse>, Status> {
        workflows::terminate(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn signal_workflow_execution(
        &self,
        request: Request<SignalWorkflowExecutionRequest>,
    ) -> Result<Response<SignalWorkflowExecutionResponse>, Status> {
        workflows::signal(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn poll_workflow_task_queue(
        &self,
        request: Request<PollWorkflowTaskQueueRequest>,
    ) -> Result<Response<PollWorkflowTaskQueueResponse>, Status> {
        workflows::poll_workflow_task(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn respond_workflow_task_completed(
        &self,
        request: Request<RespondWorkflowTaskCompletedRequest>,
    ) -> Result<Response<RespondWorkflowTaskCompletedResponse>, Status> {
        workflows::complete_workflow_task(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn respond_workflow_task_failed(
        &self,
        request: Request<RespondWorkflowTaskFailedRequest>,
    ) -> Result<Response<RespondWorkflowTaskFailedResponse>, Status> {
        workflows::fail_workflow_task(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn poll_activity_task_queue(
        &self,
        request: Request<PollActivityTaskQueueRequest>,
    ) -> Result<Response<PollActivityTaskQueueResponse>, Status> {
        workflows::poll_activity_task(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn respond_activity_task_completed(
        &self,
        request: Request<RespondActivityTaskCompletedRequest>,
    ) -> Result<Response<RespondActivityTaskCompletedResponse>, Status> {
        workflows::complete_activity(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn respond_activity_task_failed(
        &self,
        request: Request<RespondActivityTaskFailedRequest>,
    ) -> Result<Response<RespondActivityTaskFailedResponse>, Status> {
        workflows::fail_activity(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn respond_activity_task_canceled(
        &self,
        request: Request<RespondActivityTaskCanceledRequest>,
    ) -> Result<Response<RespondActivityTaskCanceledResponse>, Status> {
        workflows::cancel_activity(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn record_activity_task_heartbeat(
        &self,
        request: Request<RecordActivityTaskHeartbeatRequest>,
    ) -> Result<Response<RecordActivityTaskHeartbeatResponse>, Status> {
        workflows::heartbeat(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn get_workflow_execution_history(
        &self,
        request: Request<GetWorkflowExecutionHistoryRequest>,
    ) -> Result<Response<GetWorkflowExecutionHistoryResponse>, Status> {
        workflows::history(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn describe_workflow_execution(
        &self,
        request: Request<DescribeWorkflowExecutionRequest>,
    ) -> Result<Response<DescribeWorkflowExecutionResponse>, Status> {
        workflows::describe(&self.state, request.into_inner()).map(reply)
    }

    async fn list_workflow_executions(
        &self,
        request: Request<ListWorkflowExecutionsRequest>,
    ) -> Result<Response<ListWorkflowExecutionsResponse>, Status> {
        workflows::list(&self.state, request.into_inner()).map(reply)
    }

    async fn count_workflow_executions(
        &self,
        request: Request<CountWorkflowExecutionsRequest>,
    ) -> Result<Response<CountWorkflowExecutionsResponse>, Status> {
        workflows::count(&self.state, request.into_inner()).map(reply)
    }

    async fn delete_workflow_execution(
        &self,
        request: Request<DeleteWorkflowExecutionRequest>,
    ) -> Result<Response<DeleteWorkflowExecutionResponse>, Status> {
        workflows::delete(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn get_workflow_execution_history_reverse(
        &self,
        request: Request<GetWorkflowExecutionHistoryReverseRequest>,
    ) -> Result<Response<GetWorkflowExecutionHistoryReverseResponse>, Status> {
        workflows::history_reverse(&self.state, request.into_inner()).map(reply)
    }

    async fn get_search_attributes(
        &self,
        request: Request<GetSearchAttributesRequest>,
    ) -> Result<Response<GetSearchAttributesResponse>, Status> {
        operator::get_search_attributes(&self.state, &request).map(reply)
    }

    async fn poll_nexus_task_queue(
        &self,
        request: Request<PollNexusTaskQueueRequest>,
    ) -> Result<Response<PollNexusTaskQueueResponse>, Status> {
        workflows::poll_nexus(request.into_inner()).await.map(reply)
    }

    async fn query_workflow(
        &self,
        request: Request<QueryWorkflowRequest>,
    ) -> Result<Response<QueryWorkflowResponse>, Status> {
        workflows::query(&self.state, request.into_inner())
            .await
            .map(reply)
    }

    async fn respond_query_task_completed(
        &self,
        request: Request<RespondQueryTaskCompletedRequest>,
    ) -> Result<Response<RespondQueryTaskCompletedResponse>, Status> {
        workflows::respond_query(&self.state, request.into_inner()).map(reply)
    }

    async fn reset_workflow_execution(
        &self,
        request: Request<ResetWorkflowExecutionRequest>,
    ) -> Result<Response<ResetWorkflowExecutionResponse>, Status> {
        let request = request.into_inner();
        Ok(reply(self.state.executions.reset_workflow(&request).await?))
    }

    async fn reset_sticky_task_queue(
        &self,
        request: Request<ResetStickyTaskQueueRequest>,
    ) -> Result<Response<ResetStickyTaskQueueResponse>, Status> {
        self.state
            .executions
            .reset_sticky_task_queue(&request.into_inner())
            .await?;
        Ok(reply(ResetStickyTaskQueueResponse::default()))
    }

    async fn update_workflow_execution(
        &self,
        request: Request<UpdateWorkflowExecutionRequest>,
    ) -> Result<Response<UpdateWorkflowExecutionResponse>, Status> {
        updates::update(&self.state, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn poll_workflow_execution_update(
        &self,
        request: Request<PollWorkflowExecutionUpdateRequest>,
    ) -> Result<Response<PollWorkflowExecutionUpdateResponse>, Status> {
        updates::poll(&self.state, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn execute_multi_operation(
        &self,
        request: Request<ExecuteMultiOperationRequest>,
    ) -> Result<Response<ExecuteMultiOperationResponse>, Status> {
        updates::execute_multi_operation(&self.state, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn shutdown_worker(
        &self,
        request: Request<ShutdownWorkerRequest>,
    ) -> Result<Response<ShutdownWorkerResponse>, Status> {
        Ok(reply(
            workflows::shutdown_worker(&self.state, request.into_inner()).await,
        ))
    }
}
