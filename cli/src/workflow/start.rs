//! `workflow start` and `workflow execute` (start, then wait for the result).

use clap::Args;
use serde_json::json;
use temporalio_protos::temporal::api::{
    common::v1::WorkflowType, taskqueue::v1::TaskQueue,
    workflowservice::v1::StartWorkflowExecutionRequest,
};

use super::{Context, ExecutionArgs, durations, explain, output, payloads, result};

/// Options of `start` and `execute` (names as in the `temporal` CLI).
#[derive(Args)]
pub(crate) struct StartArgs {
    /// Workflow type name.
    #[arg(long = "type", visible_alias = "name", value_name = "TYPE")]
    workflow_type: String,
    /// Task queue the workflow's workers poll.
    #[arg(long, short = 't')]
    task_queue: String,
    /// Workflow ID [default: a random UUID].
    #[arg(long, short = 'w')]
    workflow_id: Option<String>,
    /// An input argument as JSON (repeatable: one payload each, `json/plain`).
    #[arg(long, short = 'i', value_name = "JSON")]
    input: Vec<String>,
    /// Fail a run that lasts longer than this (e.g. 10m).
    #[arg(long, value_name = "DURATION", value_parser = durations::parse)]
    run_timeout: Option<prost_wkt_types::Duration>,
    /// Fail the execution (all runs, retries included) after this long.
    #[arg(long, value_name = "DURATION", value_parser = durations::parse)]
    execution_timeout: Option<prost_wkt_types::Duration>,
    /// Start-to-close timeout of each workflow task [default: the server's, 10s].
    #[arg(long, value_name = "DURATION", value_parser = durations::parse)]
    task_timeout: Option<prost_wkt_types::Duration>,
}

/// `workflow start`: starts and prints the ids.
pub(crate) async fn start(ctx: &mut Context, args: &StartArgs) -> anyhow::Result<()> {
    let started = start_workflow(ctx, args).await?;
    print_started(ctx, args, &started);
    Ok(())
}

/// `workflow execute`: starts, then waits for the close event and prints the outcome.
pub(crate) async fn execute(ctx: &mut Context, args: &StartArgs) -> anyhow::Result<()> {
    let started = start_workflow(ctx, args).await?;
    if !ctx.output.is_json() {
        print_started(ctx, args, &started);
        output::line("");
    }
    result::wait_and_print(ctx, &started).await
}

async fn start_workflow(ctx: &mut Context, args: &StartArgs) -> anyhow::Result<ExecutionArgs> {
    let workflow_id = args
        .workflow_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let input = payloads::inputs(ctx, &args.input).await?;
    let request = StartWorkflowExecutionRequest {
        namespace: ctx.namespace.clone(),
        workflow_id: workflow_id.clone(),
        workflow_type: Some(WorkflowType {
            name: args.workflow_type.clone(),
        }),
        task_queue: Some(TaskQueue {
            name: args.task_queue.clone(),
            ..Default::default()
        }),
        input,
        workflow_run_timeout: args.run_timeout,
        workflow_execution_timeout: args.execution_timeout,
        workflow_task_timeout: args.task_timeout,
        identity: ctx.identity.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let response = ctx
        .client
        .start_workflow_execution(request)
        .await
        .map_err(|status| explain(status, &format!("starting workflow {workflow_id:?}")))?
        .into_inner();
    Ok(ExecutionArgs {
        workflow_id,
        run_id: Some(response.run_id),
    })
}

fn print_started(ctx: &Context, args: &StartArgs, started: &ExecutionArgs) {
    let run_id = started.run_id.clone().unwrap_or_default();
    if ctx.output.is_json() {
        output::json(
            ctx.output,
            &json!({
                "workflowId": started.workflow_id,
                "runId": run_id,
                "type": args.workflow_type,
                "namespace": ctx.namespace,
                "taskQueue": args.task_queue,
            }),
        );
        return;
    }
    output::block(
        "Running execution:",
        &[
            ("WorkflowId", output::clean(&started.workflow_id)),
            ("RunId", output::clean(&run_id)),
            ("Type", output::clean(&args.workflow_type)),
            ("Namespace", output::clean(&ctx.namespace)),
            ("TaskQueue", output::clean(&args.task_queue)),
        ],
    );
}
