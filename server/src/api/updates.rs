//! Update RPCs: UpdateWorkflowExecution, PollWorkflowExecutionUpdate and ExecuteMultiOperation
//! (update-with-start). Payloads are checked against the namespace's policy before anything
//! is stored; a refused multi-operation is answered as Temporal does: the status of the
//! operation that failed, with a `MultiOperationExecutionFailure` detail holding one status per
//! operation (the other one `MultiOperationExecutionAborted`), which the SDKs unpack.

use prost::Message;
use temporalio_protos::{
    google::rpc::Status as RpcStatus,
    temporal::api::{
        errordetails::v1::{
            MultiOperationExecutionFailure,
            multi_operation_execution_failure::OperationStatus as RpcOperationStatus,
        },
        failure::v1::MultiOperationExecutionAborted,
        workflowservice::v1::{
            ExecuteMultiOperationRequest, ExecuteMultiOperationResponse,
            PollWorkflowExecutionUpdateRequest, PollWorkflowExecutionUpdateResponse,
            UpdateWorkflowExecutionRequest, UpdateWorkflowExecutionResponse,
            execute_multi_operation_request::operation::Operation,
        },
    },
};
use tonic::{Code, Status};

use super::ApiState;
use crate::executions::{MultiOperationError, OperationStatus};

const MULTI_OPERATION_FAILURE_TYPE: &str =
    "type.googleapis.com/temporal.api.errordetails.v1.MultiOperationExecutionFailure";
const ABORTED_TYPE: &str =
    "type.googleapis.com/temporal.api.failure.v1.MultiOperationExecutionAborted";

pub(crate) async fn update(
    state: &ApiState,
    request: UpdateWorkflowExecutionRequest,
) -> Result<UpdateWorkflowExecutionResponse, Status> {
    check_update_payloads(state, &request.namespace, &request)?;
    Ok(state.executions.update_workflow(&request).await?)
}

pub(crate) async fn poll(
    state: &ApiState,
    request: PollWorkflowExecutionUpdateRequest,
) -> Result<PollWorkflowExecutionUpdateResponse, Status> {
    Ok(state.executions.poll_update(&request).await?)
}

pub(crate) async fn execute_multi_operation(
    state: &ApiState,
    request: ExecuteMultiOperationRequest,
) -> Result<ExecuteMultiOperationResponse, Status> {
    for operation in request
        .operations
        .iter()
        .filter_map(|op| op.operation.as_ref())
    {
        match operation {
            Operation::StartWorkflow(start) => {
                let mut start = start.clone();
                start.namespace.clone_from(&request.namespace);
                state.payloads.check_start(&start)?;
            }
            Operation::UpdateWorkflow(update) => {
                check_update_payloads(state, &request.namespace, update)?;
            }
        }
    }
    state
        .executions
        .execute_multi_operation(&request)
        .await
        .map_err(multi_operation_status)
}

fn check_update_payloads(
    state: &ApiState,
    namespace: &str,
    request: &UpdateWorkflowExecutionRequest,
) -> Result<(), Status> {
    let args = request
        .request
        .as_ref()
        .and_then(|r| r.input.as_ref())
        .and_then(|i| i.args.as_ref());
    state.payloads.check_payloads(namespace, args)
}

/// The status of a refused multi-operation (see the module docs).
fn multi_operation_status(err: MultiOperationError) -> Status {
    let (start, update) = match err {
        MultiOperationError::Request(err) => return (*err).into(),
        MultiOperationError::Operations { start, update } => (start, update),
    };
    let statuses: Vec<RpcOperationStatus> =
        [start, update].into_iter().map(operation_status).collect();
    let culprit = statuses
        .iter()
        .find(|s| s.code != Code::Ok as i32 && s.code != Code::Aborted as i32)
        .or_else(|| statuses.iter().find(|s| s.code != Code::Ok as i32));
    let code = culprit.map_or(Code::Aborted, |s| Code::from(s.code));
    let message = "Update-with-Start could not be executed.";
    let failure = MultiOperationExecutionFailure { statuses };
    let detail = prost_wkt_types::Any {
        type_url: MULTI_OPERATION_FAILURE_TYPE.to_string(),
        value: failure.encode_to_vec(),
    };
    let details = RpcStatus {
        code: code as i32,
        message: message.to_string(),
        details: vec![detail],
    };
    Status::with_details(code, message, details.encode_to_vec().into())
}

/// One operation's status, with the details its own error carries (e.g. the start's
/// `WorkflowExecutionAlreadyStartedFailure`).
fn operation_status(status: OperationStatus) -> RpcOperationStatus {
    match status {
        OperationStatus::Succeeded => RpcOperationStatus {
            code: Code::Ok as i32,
            message: String::new(),
            details: Vec::new(),
        },
        OperationStatus::Aborted => RpcOperationStatus {
            code: Code::Aborted as i32,
            message: "Operation was aborted.".to_string(),
            details: vec![prost_wkt_types::Any {
                type_url: ABORTED_TYPE.to_string(),
                value: MultiOperationExecutionAborted {}.encode_to_vec(),
            }],
        },
        OperationStatus::Failed(err) => {
            let status: Status = (*err).into();
            let details = RpcStatus::decode(status.details())
                .map(|s| s.details)
                .unwrap_or_default();
            RpcOperationStatus {
                code: status.code() as i32,
                message: status.message().to_string(),
                details,
            }
        }
    }
}
