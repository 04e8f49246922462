//! The one place where domain errors become gRPC statuses. Internal causes are logged, not
//! sent to clients.

use tonic::Status;

use temporalio_protos::{
    google::rpc::Status as RpcStatus,
    temporal::api::errordetails::v1::WorkflowExecutionAlreadyStartedFailure, utilities::pack_any,
};
use tonic::Code;

use crate::{
    engine::EngineError, executions::ExecutionError, namespaces::NamespaceError,
    search_attributes::SearchAttributeError, store::StoreError,
};

const ALREADY_STARTED_TYPE: &str =
    "type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure";

impl From<ExecutionError> for Status {
    fn from(err: ExecutionError) -> Self {
        match err {
            ExecutionError::Engine(engine) => engine.into(),
            ExecutionError::NotFound(_) | ExecutionError::BadToken => {
                Status::not_found(err.to_string())
            }
            ExecutionError::InvalidArgument(message) => Status::invalid_argument(message),
            ExecutionError::AlreadyStarted {
                ref run_id,
                ref start_request_id,
                ..
            } => already_started(&err.to_string(), run_id, start_request_id),
            ExecutionError::Store(store) => store.into(),
            ExecutionError::QueryFailed(_) => Status::invalid_argument(err.to_string()),
            ExecutionError::QueryTimedOut => Status::deadline_exceeded(err.to_string()),
            ExecutionError::ShuttingDown => Status::unavailable(err.to_string()),
            ExecutionError::WorkflowNotReady(message) => Status::failed_precondition(message),
        }
    }
}

impl From<EngineError> for Status {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::NotFound(message) => Status::not_found(message),
            EngineError::InvalidArgument(message) => Status::invalid_argument(message),
            // Core evicts the workflow on exactly this message.
            EngineError::CommandRejected { message, .. } => Status::invalid_argument(message),
            EngineError::WorkflowClosed => {
                Status::not_found("workflow execution already completed")
            }
            EngineError::ResourceExhausted(message) => Status::resource_exhausted(message),
            EngineError::FailedPrecondition(message) => Status::failed_precondition(message),
        }
    }
}

/// ALREADY_EXISTS with the `WorkflowExecutionAlreadyStartedFailure` detail the clients decode.
fn already_started(message: &str, run_id: &str, start_request_id: &str) -> Status {
    let detail = WorkflowExecutionAlreadyStartedFailure {
        start_request_id: start_request_id.to_string(),
        run_id: run_id.to_string(),
        first_execution_run_id: run_id.to_string(),
    };
    let Ok(any) = pack_any(ALREADY_STARTED_TYPE.to_string(), &detail) else {
        return Status::already_exists(message);
    };
    let details = RpcStatus {
        code: Code::AlreadyExists as i32,
        message: message.to_string(),
        details: vec![any],
    };
    Status::with_details(
        Code::AlreadyExists,
        message,
        prost::Message::encode_to_vec(&details).into(),
    )
}

impl From<NamespaceError> for Status {
    fn from(err: NamespaceError) -> Self {
        match err {
            NamespaceError::NotFound(_) => Status::not_found(err.to_string()),
            NamespaceError::AlreadyExists(_) => Status::already_exists(err.to_string()),
            NamespaceError::Invalid(_) => Status::invalid_argument(err.to_string()),
            NamespaceError::Store(store) => store.into(),
        }
    }
}

impl From<SearchAttributeError> for Status {
    fn from(err: SearchAttributeError) -> Self {
        match err {
            SearchAttributeError::AlreadyExists { .. } => Status::already_exists(err.to_string()),
            SearchAttributeError::Invalid(_) => Status::invalid_argument(err.to_string()),
        }
    }
}

impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store failure");
        Status::unavailable("the server could not persist the change; retry later")
    }
}
