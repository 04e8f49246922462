//! `workflow list`: ListWorkflowExecutions. Lockstep does not implement listing yet; the call is
//! made anyway (so the command works once it does) and Unimplemented becomes a clear message.

use clap::Args;
use serde_json::json;
use temporalio_protos::temporal::api::{
    enums::v1::WorkflowExecutionStatus, workflowservice::v1::ListWorkflowExecutionsRequest,
};
use tonic::Code;

use super::{Context, OutputFormat, explain, output};

/// Rows per page asked of the server.
const PAGE_SIZE: i32 = 100;

/// Options of `list`.
#[derive(Args)]
pub(crate) struct ListArgs {
    /// A list filter (the server's query language).
    #[arg(long, short = 'q')]
    query: Option<String>,
    /// At most this many executions [default: all].
    #[arg(long)]
    limit: Option<usize>,
}

/// `workflow list`.
pub(crate) async fn run(ctx: &mut Context, args: &ListArgs) -> anyhow::Result<()> {
    let limit = args.limit.unwrap_or(usize::MAX);
    let mut token = Vec::new();
    let mut shown = 0;
    let mut collected = Vec::new();
    if ctx.output == OutputFormat::Text {
        output::line(&format!(
            "{:<14}  {:<36}  {:<36}  {:<24}  TYPE",
            "STATUS", "WORKFLOW ID", "RUN ID", "START TIME"
        ));
    }
    loop {
        let request = ListWorkflowExecutionsRequest {
            namespace: ctx.namespace.clone(),
            page_size: PAGE_SIZE,
            next_page_token: std::mem::take(&mut token),
            query: args.query.clone().unwrap_or_default(),
        };
        let response = ctx
            .client
            .list_workflow_executions(request)
            .await
            .map_err(list_error)?
            .into_inner();
        for info in response.executions {
            if shown == limit {
                break;
            }
            shown += 1;
            let execution = info.execution.clone().unwrap_or_default();
            let status = WorkflowExecutionStatus::try_from(info.status).unwrap_or_default();
            let type_name = info.r#type.map(|t| t.name).unwrap_or_default();
            match ctx.output {
                OutputFormat::Text => output::line(&format!(
                    "{:<14}  {:<36}  {:<36}  {:<24}  {}",
                    output::short_enum(status.as_str_name(), "WORKFLOW_EXECUTION_STATUS_"),
                    output::clean(&execution.workflow_id),
                    output::clean(&execution.run_id),
                    output::time(info.start_time.as_ref()),
                    output::clean(&type_name),
                )),
                format => {
                    let value = json!({
                        "execution": {
                            "workflowId": execution.workflow_id,
                            "runId": execution.run_id,
                        },
                        "type": { "name": type_name },
                        "status": status.as_str_name(),
                        "startTime": output::time_json(info.start_time.as_ref()),
                        "closeTime": output::time_json(info.close_time.as_ref()),
                        "taskQueue": info.task_queue,
                    });
                    if format == OutputFormat::Jsonl {
                        output::json(format, &value);
                    } else {
                        collected.push(value);
                    }
                }
            }
        }
        if shown == limit || response.next_page_token.is_empty() {
            break;
        }
        token = response.next_page_token;
    }
    if ctx.output == OutputFormat::Json {
        output::json(ctx.output, &json!({ "executions": collected }));
    }
    Ok(())
}

/// Unimplemented means a server without visibility: say so plainly.
fn list_error(status: tonic::Status) -> anyhow::Error {
    if status.code() == Code::Unimplemented {
        anyhow::anyhow!(
            "this server does not support listing yet (ListWorkflowExecutions is not \
             implemented); look up a workflow you know with \
             `lockstep workflow describe -w WORKFLOW_ID`"
        )
    } else {
        explain(status, "listing workflows")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unimplemented_listing_is_explained() {
        let err = list_error(tonic::Status::unimplemented("ListWorkflowExecutions"));
        assert!(
            err.to_string()
                .starts_with("this server does not support listing yet"),
            "{err}"
        );
        let err = list_error(tonic::Status::permission_denied("no"));
        assert!(err.to_string().contains("permission denied"), "{err}");
    }
}
