//! `workflow result` (and the waiting half of `execute`): long-poll the history for the close
//! event (`wait_new_event` + the CLOSE_EVENT filter), follow continue-as-new, print the outcome.
//! Any outcome but "completed" exits non-zero after being printed.

use serde_json::{Value, json};
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::{HistoryEventFilterType, RetryState},
    history::v1::{HistoryEvent, history_event::Attributes},
    workflowservice::v1::{DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest},
};

use super::{Context, ExecutionArgs, explain, failures, output, payloads, walk};

/// `workflow result`.
pub(crate) async fn run(ctx: &mut Context, execution: &ExecutionArgs) -> anyhow::Result<()> {
    let mut execution = execution.clone();
    if execution.run_id.is_none() {
        execution.run_id = Some(latest_run(ctx, &execution.workflow_id).await?);
    }
    wait_and_print(ctx, &execution).await
}

/// Waits for `execution` (its run id known) to close and prints the outcome.
pub(crate) async fn wait_and_print(
    ctx: &mut Context,
    execution: &ExecutionArgs,
) -> anyhow::Result<()> {
    let (run_id, mut event) = wait_for_close(ctx, execution).await?;
    walk::decode(ctx, walk::event(&mut event)).await?;
    let outcome = Outcome::of(&event);
    outcome.print(ctx, &execution.workflow_id, &run_id);
    if outcome.status == "COMPLETED" {
        Ok(())
    } else {
        anyhow::bail!(
            "workflow {:?} ended with status {}",
            execution.workflow_id,
            outcome.status
        )
    }
}

/// The run id of the latest run (also a clear "not found" before waiting).
async fn latest_run(ctx: &mut Context, workflow_id: &str) -> anyhow::Result<String> {
    let described = ctx
        .client
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: ctx.namespace.clone(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.to_string(),
                run_id: String::new(),
            }),
        })
        .await
        .map_err(|status| explain(status, &format!("workflow {workflow_id:?}")))?
        .into_inner();
    Ok(described
        .workflow_execution_info
        .and_then(|info| info.execution)
        .map(|e| e.run_id)
        .unwrap_or_default())
}

/// Long-polls for the close event; a run that continued as new is followed to its successor.
async fn wait_for_close(
    ctx: &mut Context,
    execution: &ExecutionArgs,
) -> anyhow::Result<(String, HistoryEvent)> {
    let mut run_id = execution.run_id.clone().unwrap_or_default();
    let mut token = Vec::new();
    loop {
        let response = ctx
            .client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: ctx.namespace.clone(),
                execution: Some(WorkflowExecution {
                    workflow_id: execution.workflow_id.clone(),
                    run_id: run_id.clone(),
                }),
                wait_new_event: true,
                history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
                next_page_token: std::mem::take(&mut token),
                ..Default::default()
            })
            .await
            .map_err(|status| {
                explain(
                    status,
                    &format!("waiting for workflow {:?}", execution.workflow_id),
                )
            })?
            .into_inner();
        let close = response.history.and_then(|h| h.events.into_iter().last());
        match close {
            Some(event) => match &event.attributes {
                Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) => {
                    run_id = a.new_execution_run_id.clone();
                }
                _ => return Ok((run_id, event)),
            },
            // The long poll ended without the close event: ask again from where it left off.
            None => token = response.next_page_token,
        }
    }
}

/// How a run ended, ready to print.
struct Outcome {
    status: &'static str,
    /// Text rows after the status.
    rows: Vec<(&'static str, String)>,
    /// JSON fields after the status.
    fields: Vec<(&'static str, Value)>,
}

impl Outcome {
    fn of(event: &HistoryEvent) -> Self {
        let (status, rows, fields) = match &event.attributes {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => (
                "COMPLETED",
                vec![("Result", payloads::list_text(a.result.as_ref()))],
                vec![("result", payloads::list_json(a.result.as_ref()))],
            ),
            Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
                let failure = a.failure.clone().unwrap_or_default();
                (
                    "FAILED",
                    vec![("Failure", failures::text(&failure))],
                    vec![("failure", failures::json(&failure))],
                )
            }
            Some(Attributes::WorkflowExecutionCanceledEventAttributes(a)) => (
                "CANCELED",
                vec![("Details", payloads::list_text(a.details.as_ref()))],
                vec![("details", payloads::list_json(a.details.as_ref()))],
            ),
            Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => (
                "TERMINATED",
                vec![("Reason", output::clean(&a.reason))],
                vec![("reason", Value::String(a.reason.clone()))],
            ),
            Some(Attributes::WorkflowExecutionTimedOutEventAttributes(a)) => {
                let state = RetryState::try_from(a.retry_state).unwrap_or_default();
                let state = output::short_enum(state.as_str_name(), "RETRY_STATE_");
                (
                    "TIMED_OUT",
                    vec![("RetryState", state.clone())],
                    vec![("retryState", Value::String(state))],
                )
            }
            _ => ("UNSPECIFIED", Vec::new(), Vec::new()),
        };
        Self {
            status,
            rows,
            fields,
        }
    }

    fn print(&self, ctx: &Context, workflow_id: &str, run_id: &str) {
        if ctx.output.is_json() {
            let mut value = json!({
                "workflowId": workflow_id,
                "runId": run_id,
                "status": format!("WORKFLOW_EXECUTION_STATUS_{}", self.status),
            });
            for (key, field) in &self.fields {
                value[*key] = field.clone();
            }
            output::json(ctx.output, &value);
            return;
        }
        let mut rows = vec![
            ("WorkflowId", output::clean(workflow_id)),
            ("RunId", output::clean(run_id)),
            ("Status", self.status.to_string()),
        ];
        rows.extend(self.rows.iter().cloned());
        output::block("Results:", &rows);
    }
}
