//! `workflow show`: the event history as a timeline (text), one document (`-o json`) or one
//! object per event (`-o jsonl`); `--follow` long-polls for new events until the run closes.

use clap::Args;
use serde_json::{Value, json};
use temporalio_protos::temporal::api::{
    history::v1::HistoryEvent, workflowservice::v1::GetWorkflowExecutionHistoryRequest,
};

use super::{Context, ExecutionArgs, OutputFormat, events, explain, output, walk};

/// Width of the type column of the timeline (the longest common type names fit).
const TYPE_WIDTH: usize = 34;
/// The longest details line in the timeline; `describe`/`-o json` show everything.
const MAX_DETAILS: usize = 400;

/// Options of `show`.
#[derive(Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    execution: ExecutionArgs,
    /// Keep printing new events until the workflow closes.
    #[arg(long, short = 'f')]
    follow: bool,
}

/// `workflow show`.
pub(crate) async fn run(ctx: &mut Context, args: &ShowArgs) -> anyhow::Result<()> {
    let mut token = Vec::new();
    let mut collected: Vec<Value> = Vec::new();
    let mut header_printed = false;
    loop {
        let response = ctx
            .client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: ctx.namespace.clone(),
                execution: Some(args.execution.execution()),
                next_page_token: std::mem::take(&mut token),
                wait_new_event: args.follow,
                ..Default::default()
            })
            .await
            .map_err(|status| {
                explain(
                    status,
                    &format!("history of workflow {:?}", args.execution.workflow_id),
                )
            })?
            .into_inner();
        let mut page = response.history.map(|h| h.events).unwrap_or_default();
        let targets = page.iter_mut().flat_map(walk::event).collect();
        walk::decode(ctx, targets).await?;
        match ctx.output {
            OutputFormat::Text => {
                if !header_printed {
                    output::line(&format!(
                        "{:>5}  {:<24}  {:<TYPE_WIDTH$}  DETAILS",
                        "ID", "TIME", "TYPE"
                    ));
                    header_printed = true;
                }
                for event in &page {
                    output::line(&timeline_row(event));
                }
            }
            OutputFormat::Jsonl => {
                for event in &page {
                    output::json(ctx.output, &events::json(event));
                }
            }
            OutputFormat::Json => collected.extend(page.iter().map(events::json)),
        }
        // An empty token means the whole history was read (with --follow: the run closed).
        if response.next_page_token.is_empty() {
            break;
        }
        token = response.next_page_token;
    }
    if ctx.output == OutputFormat::Json {
        output::json(ctx.output, &json!({ "events": collected }));
    }
    Ok(())
}

fn timeline_row(event: &HistoryEvent) -> String {
    let mut details = events::details_text(event);
    if details.chars().count() > MAX_DETAILS {
        details = details.chars().take(MAX_DETAILS).collect::<String>() + "…";
    }
    format!(
        "{:>5}  {:<24}  {:<TYPE_WIDTH$}  {}",
        event.event_id,
        output::time(event.event_time.as_ref()),
        events::type_name(event.event_type),
        details
    )
    .trim_end()
    .to_string()
}
