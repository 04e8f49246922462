//! `workflow signal`, `cancel` and `terminate`: one request each, acknowledged in a line.

use clap::Args;
use serde_json::json;
use temporalio_protos::temporal::api::workflowservice::v1::{
    RequestCancelWorkflowExecutionRequest, SignalWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
};

use super::{Context, ExecutionArgs, explain, output, payloads};

/// Options of `signal`.
#[derive(Args)]
pub(crate) struct SignalArgs {
    #[command(flatten)]
    execution: ExecutionArgs,
    /// Signal name.
    #[arg(long, visible_alias = "type")]
    name: String,
    /// A signal argument as JSON (repeatable).
    #[arg(long, short = 'i', value_name = "JSON")]
    input: Vec<String>,
}

/// Options of `cancel`.
#[derive(Args)]
pub(crate) struct CancelArgs {
    #[command(flatten)]
    execution: ExecutionArgs,
    /// Why (recorded by the server).
    #[arg(long)]
    reason: Option<String>,
}

/// Options of `terminate`.
#[derive(Args)]
pub(crate) struct TerminateArgs {
    #[command(flatten)]
    execution: ExecutionArgs,
    /// Why (recorded in the history) [default: who asked].
    #[arg(long)]
    reason: Option<String>,
}

/// `workflow signal`.
pub(crate) async fn signal(ctx: &mut Context, args: &SignalArgs) -> anyhow::Result<()> {
    let input = payloads::inputs(ctx, &args.input).await?;
    let request = SignalWorkflowExecutionRequest {
        namespace: ctx.namespace.clone(),
        workflow_execution: Some(args.execution.execution()),
        signal_name: args.name.clone(),
        input,
        identity: ctx.identity.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    ctx.client
        .signal_workflow_execution(request)
        .await
        .map_err(|status| explain(status, &what("signaling", &args.execution)))?;
    done(ctx, &args.execution, "signaled");
    Ok(())
}

/// `workflow cancel`.
pub(crate) async fn cancel(ctx: &mut Context, args: &CancelArgs) -> anyhow::Result<()> {
    let request = RequestCancelWorkflowExecutionRequest {
        namespace: ctx.namespace.clone(),
        workflow_execution: Some(args.execution.execution()),
        identity: ctx.identity.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
        reason: args.reason.clone().unwrap_or_default(),
        ..Default::default()
    };
    ctx.client
        .request_cancel_workflow_execution(request)
        .await
        .map_err(|status| explain(status, &what("canceling", &args.execution)))?;
    done(ctx, &args.execution, "cancellation requested");
    Ok(())
}

/// `workflow terminate`.
pub(crate) async fn terminate(ctx: &mut Context, args: &TerminateArgs) -> anyhow::Result<()> {
    let reason = args
        .reason
        .clone()
        .unwrap_or_else(|| format!("terminated by {}", ctx.identity));
    let request = TerminateWorkflowExecutionRequest {
        namespace: ctx.namespace.clone(),
        workflow_execution: Some(args.execution.execution()),
        reason,
        identity: ctx.identity.clone(),
        ..Default::default()
    };
    ctx.client
        .terminate_workflow_execution(request)
        .await
        .map_err(|status| explain(status, &what("terminating", &args.execution)))?;
    done(ctx, &args.execution, "terminated");
    Ok(())
}

fn what(action: &str, execution: &ExecutionArgs) -> String {
    format!("{action} workflow {:?}", execution.workflow_id)
}

fn done(ctx: &Context, execution: &ExecutionArgs, outcome: &str) {
    if ctx.output.is_json() {
        output::json(
            ctx.output,
            &json!({
                "workflowId": execution.workflow_id,
                "runId": execution.run_id.clone().unwrap_or_default(),
                "outcome": outcome,
            }),
        );
    } else {
        output::line(&format!(
            "Workflow {} {outcome}.",
            output::clean(&execution.workflow_id)
        ));
    }
}
