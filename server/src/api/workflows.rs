//! Workflow and task RPCs: thin adapters from requests to [`Executions`].

use temporalio_protos::temporal::api::workflowservice::v1::*;
use tonic::Status;

use super::{ApiState, operator::check_start_attributes};
use crate::executions::workflow_tasks_long_poll;

pub(crate) async fn start(
    state: &ApiState,
    request: StartWorkflowExecutionRequest,
) -> Result<StartWorkflowExecutionResponse, Status> {
    state.payloads.check_start(&request)?;
    check_start_attributes(
        state,
        &request.namespace,
        request.search_attributes.as_ref(),
    )?;
    Ok(state.executions.start_workflow(&request).await?)
}

pub(crate) async fn signal_with_start(
    state: &ApiState,
    request: SignalWithStartWorkflowExecutionRequest,
) -> Result<SignalWithStartWorkflowExecutionResponse, Status> {
    state.payloads.check_signal_with_start(&request)?;
    check_start_attributes(
        state,
        &request.namespace,
        request.search_attributes.as_ref(),
    )?;
    Ok(state.executions.signal_with_start(&request).await?)
}

pub(crate) async fn request_cancel(
    state: &ApiState,
    request: RequestCancelWorkflowExecutionRequest,
) -> Result<RequestCancelWorkflowExecutionResponse, Status> {
    state.executions.request_cancel(&request).await?;
    Ok(RequestCancelWorkflowExecutionResponse::default())
}

pub(crate) async fn terminate(
    state: &ApiState,
    request: TerminateWorkflowExecutionRequest,
) -> Result<TerminateWorkflowExecutionResponse, Status> {
    state
        .payloads
        .check_payloads(&request.namespace, request.details.as_ref())?;
    state.executions.terminate(&request).await?;
    Ok(TerminateWorkflowExecutionResponse::default())
}

pub(crate) async fn signal(
    state: &ApiState,
    request: SignalWorkflowExecutionRequest,
) -> Result<SignalWorkflowExecutionResponse, Status> {
    state.payloads.check_signal(&request)?;
    state.executions.signal(&request).await?;
    Ok(SignalWorkflowExecutionResponse::default())
}

pub(crate) async fn query(
    state: &ApiState,
    request: QueryWorkflowRequest,
) -> Result<QueryWorkflowResponse, Status> {
    state.payloads.check_payloads(
        &request.namespace,
        request.query.as_ref().and_then(|q| q.query_args.as_ref()),
    )?;
    Ok(state.executions.query(&request).await?)
}

pub(crate) fn respond_query(
    state: &ApiState,
    request: RespondQueryTaskCompletedRequest,
) -> Result<RespondQueryTaskCompletedResponse, Status> {
    state
        .payloads
        .check_payloads(&request.namespace, request.query_result.as_ref())?;
    state.executions.respond_query(&request)?;
    Ok(RespondQueryTaskCompletedResponse::default())
}

pub(crate) async fn poll_workflow_task(
    state: &ApiState,
    request: PollWorkflowTaskQueueRequest,
) -> Result<PollWorkflowTaskQueueResponse, Status> {
    Ok(state.executions.poll_workflow_task(&request).await?)
}

pub(crate) async fn complete_workflow_task(
    state: &ApiState,
    request: RespondWorkflowTaskCompletedRequest,
) -> Result<RespondWorkflowTaskCompletedResponse, Status> {
    state.payloads.check_workflow_task_completed(&request)?;
    Ok(state.executions.complete_workflow_task(&request).await?)
}

pub(crate) async fn fail_workflow_task(
    state: &ApiState,
    request: RespondWorkflowTaskFailedRequest,
) -> Result<RespondWorkflowTaskFailedResponse, Status> {
    state
        .payloads
        .check_failure(&request.namespace, request.failure.as_ref())?;
    state.executions.fail_workflow_task(&request).await?;
    Ok(RespondWorkflowTaskFailedResponse::default())
}

pub(crate) async fn poll_activity_task(
    state: &ApiState,
    request: PollActivityTaskQueueRequest,
) -> Result<PollActivityTaskQueueResponse, Status> {
    Ok(state.executions.poll_activity_task(&request).await?)
}

pub(crate) async fn complete_activity(
    state: &ApiState,
    request: RespondActivityTaskCompletedRequest,
) -> Result<RespondActivityTaskCompletedResponse, Status> {
    state
        .payloads
        .check_payloads(&request.namespace, request.result.as_ref())?;
    state.executions.complete_activity(&request).await?;
    Ok(RespondActivityTaskCompletedResponse::default())
}

pub(crate) async fn fail_activity(
    state: &ApiState,
    request: RespondActivityTaskFailedRequest,
) -> Result<RespondActivityTaskFailedResponse, Status> {
    state
        .payloads
        .check_failure(&request.namespace, request.failure.as_ref())?;
    state
        .payloads
        .check_payloads(&request.namespace, request.last_heartbeat_details.as_ref())?;
    state.executions.fail_activity(&request).await?;
    Ok(RespondActivityTaskFailedResponse::default())
}

pub(crate) async fn cancel_activity(
    state: &ApiState,
    request: RespondActivityTaskCanceledRequest,
) -> Result<RespondActivityTaskCanceledResponse, Status> {
    state
        .payloads
        .check_payloads(&request.namespace, request.details.as_ref())?;
    state.executions.cancel_activity(&request).await?;
    Ok(RespondActivityTaskCanceledResponse::default())
}

pub(crate) async fn heartbeat(
    state: &ApiState,
    request: RecordActivityTaskHeartbeatRequest,
) -> Result<RecordActivityTaskHeartbeatResponse, Status> {
    state
        .payloads
        .check_payloads(&request.namespace, request.details.as_ref())?;
    Ok(state.executions.heartbeat(&request).await?)
}

pub(crate) async fn history(
    state: &ApiState,
    request: GetWorkflowExecutionHistoryRequest,
) -> Result<GetWorkflowExecutionHistoryResponse, Status> {
    Ok(state.executions.history(&request).await?)
}

pub(crate) fn list(
    state: &ApiState,
    request: ListWorkflowExecutionsRequest,
) -> Result<ListWorkflowExecutionsResponse, Status> {
    Ok(state.executions.list(&request)?)
}

pub(crate) fn count(
    state: &ApiState,
    request: CountWorkflowExecutionsRequest,
) -> Result<CountWorkflowExecutionsResponse, Status> {
    Ok(state.executions.count(&request)?)
}

pub(crate) async fn delete(
    state: &ApiState,
    request: DeleteWorkflowExecutionRequest,
) -> Result<DeleteWorkflowExecutionResponse, Status> {
    state.executions.delete(&request).await?;
    Ok(DeleteWorkflowExecutionResponse::default())
}

pub(crate) fn history_reverse(
    state: &ApiState,
    request: GetWorkflowExecutionHistoryReverseRequest,
) -> Result<GetWorkflowExecutionHistoryReverseResponse, Status> {
    Ok(state.executions.history_reverse(&request)?)
}

pub(crate) fn describe(
    state: &ApiState,
    request: DescribeWorkflowExecutionRequest,
) -> Result<DescribeWorkflowExecutionResponse, Status> {
    Ok(state.executions.describe(&request)?)
}

/// Nexus is not offered; pollers get an empty answer at the long-poll deadline (an error would
/// make the worker fail after its retries).
pub(crate) async fn poll_nexus(
    _request: PollNexusTaskQueueRequest,
) -> Result<PollNexusTaskQueueResponse, Status> {
    tokio::time::sleep(workflow_tasks_long_poll()).await;
    Ok(PollNexusTaskQueueResponse::default())
}

/// The worker's sticky queue goes away: its waiting tasks move to the normal queue.
pub(crate) async fn shutdown_worker(
    state: &ApiState,
    request: ShutdownWorkerRequest,
) -> ShutdownWorkerResponse {
    state.executions.shutdown_worker(&request).await;
    ShutdownWorkerResponse::default()
}
