//! `workflow query`: ask one of the workflow's workers, print the (decoded) answer.

use clap::Args;
use serde_json::json;
use temporalio_protos::temporal::api::{
    query::v1::WorkflowQuery, workflowservice::v1::QueryWorkflowRequest,
};

use super::{Context, ExecutionArgs, explain, output, payloads, walk};

/// Options of `query` (`--name`, aliased `--type`, as in the `temporal` CLI).
#[derive(Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    execution: ExecutionArgs,
    /// Query type (name).
    #[arg(long = "name", visible_alias = "type", value_name = "NAME")]
    query_type: String,
    /// A query argument as JSON (repeatable).
    #[arg(long, short = 'i', value_name = "JSON")]
    input: Vec<String>,
}

/// `workflow query`.
pub(crate) async fn run(ctx: &mut Context, args: &QueryArgs) -> anyhow::Result<()> {
    let query_args = payloads::inputs(ctx, &args.input).await?;
    let request = QueryWorkflowRequest {
        namespace: ctx.namespace.clone(),
        execution: Some(args.execution.execution()),
        query: Some(WorkflowQuery {
            query_type: args.query_type.clone(),
            query_args,
            ..Default::default()
        }),
        ..Default::default()
    };
    let response = ctx
        .client
        .query_workflow(request)
        .await
        .map_err(|status| {
            explain(
                status,
                &format!(
                    "query {:?} on workflow {:?}",
                    args.query_type, args.execution.workflow_id
                ),
            )
        })?
        .into_inner();
    if let Some(rejected) = response.query_rejected {
        anyhow::bail!(
            "the query was rejected (workflow status {})",
            rejected.status
        );
    }
    let mut result = response.query_result.unwrap_or_default();
    walk::decode(ctx, result.payloads.iter_mut().collect()).await?;
    if ctx.output.is_json() {
        output::json(
            ctx.output,
            &json!({ "queryResult": payloads::list_json(Some(&result)) }),
        );
    } else {
        for payload in &result.payloads {
            output::line(&payloads::text(payload));
        }
    }
    Ok(())
}
