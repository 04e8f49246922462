//! `workflow describe`: status, type, task queue, times and timeouts, the pending workflow
//! task, and each pending activity with its attempt and last failure.

use serde_json::{Value, json};
use temporalio_protos::temporal::api::{
    enums::v1::{PendingActivityState, PendingWorkflowTaskState, WorkflowExecutionStatus},
    workflow::v1::PendingActivityInfo,
    workflowservice::v1::{DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse},
};

use super::{Context, ExecutionArgs, explain, failures, output, payloads, walk};

/// `workflow describe`.
pub(crate) async fn run(ctx: &mut Context, execution: &ExecutionArgs) -> anyhow::Result<()> {
    let mut described = ctx
        .client
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: ctx.namespace.clone(),
            execution: Some(execution.execution()),
        })
        .await
        .map_err(|status| explain(status, &format!("workflow {:?}", execution.workflow_id)))?
        .into_inner();
    walk::decode(ctx, walk::description(&mut described)).await?;
    if ctx.output.is_json() {
        output::json(ctx.output, &to_json(ctx, &described));
    } else {
        print_text(ctx, &described);
    }
    Ok(())
}

// Enums: text shows the short form (`RUNNING`), JSON the proto name as Temporal's JSON does
// (`WORKFLOW_EXECUTION_STATUS_RUNNING`).

fn status_name(code: i32) -> &'static str {
    WorkflowExecutionStatus::try_from(code)
        .unwrap_or_default()
        .as_str_name()
}

fn status(code: i32) -> String {
    output::short_enum(status_name(code), "WORKFLOW_EXECUTION_STATUS_")
}

fn activity_state_name(code: i32) -> &'static str {
    PendingActivityState::try_from(code)
        .unwrap_or_default()
        .as_str_name()
}

fn activity_state(code: i32) -> String {
    output::short_enum(activity_state_name(code), "PENDING_ACTIVITY_STATE_")
}

fn workflow_task_state_name(code: i32) -> &'static str {
    PendingWorkflowTaskState::try_from(code)
        .unwrap_or_default()
        .as_str_name()
}

fn workflow_task_state(code: i32) -> String {
    output::short_enum(
        workflow_task_state_name(code),
        "PENDING_WORKFLOW_TASK_STATE_",
    )
}

fn print_text(ctx: &Context, d: &DescribeWorkflowExecutionResponse) {
    let info = d.workflow_execution_info.clone().unwrap_or_default();
    let config = d.execution_config.clone().unwrap_or_default();
    let execution = info.execution.clone().unwrap_or_default();
    let clean = output::clean;
    output::block(
        "Execution Info:",
        &[
            ("WorkflowId", clean(&execution.workflow_id)),
            ("RunId", clean(&execution.run_id)),
            (
                "Type",
                clean(&info.r#type.map(|t| t.name).unwrap_or_default()),
            ),
            ("Namespace", clean(&ctx.namespace)),
            ("TaskQueue", clean(&info.task_queue)),
            ("Status", status(info.status)),
            ("StartTime", output::time(info.start_time.as_ref())),
            ("ExecutionTime", output::time(info.execution_time.as_ref())),
            ("CloseTime", output::time(info.close_time.as_ref())),
            ("HistoryLength", info.history_length.to_string()),
            (
                "RunTimeout",
                output::duration(config.workflow_run_timeout.as_ref()),
            ),
            (
                "ExecutionTimeout",
                output::duration(config.workflow_execution_timeout.as_ref()),
            ),
            (
                "WorkflowTaskTimeout",
                output::duration(config.default_workflow_task_timeout.as_ref()),
            ),
        ],
    );
    if let Some(task) = &d.pending_workflow_task {
        output::line("");
        output::block(
            "Pending Workflow Task:",
            &[
                ("State", workflow_task_state(task.state)),
                ("Attempt", task.attempt.to_string()),
                ("ScheduledTime", output::time(task.scheduled_time.as_ref())),
                ("StartedTime", output::time(task.started_time.as_ref())),
            ],
        );
    }
    output::line("");
    output::line(&format!(
        "Pending Activities: {}",
        d.pending_activities.len()
    ));
    for activity in &d.pending_activities {
        print_activity(activity);
    }
}

fn print_activity(a: &PendingActivityInfo) {
    let attempts = match a.maximum_attempts {
        0 => a.attempt.to_string(),
        max => format!("{} of {max}", a.attempt),
    };
    let mut rows = vec![
        ("ActivityId", output::clean(&a.activity_id)),
        (
            "Type",
            output::clean(
                &a.activity_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
            ),
        ),
        ("State", activity_state(a.state)),
        ("Attempt", attempts),
        ("ScheduledTime", output::time(a.scheduled_time.as_ref())),
        (
            "LastStartedTime",
            output::time(a.last_started_time.as_ref()),
        ),
    ];
    if let Some(failure) = &a.last_failure {
        rows.push(("LastFailure", failures::text(failure)));
    }
    if !a.last_worker_identity.is_empty() {
        rows.push(("LastWorkerIdentity", output::clean(&a.last_worker_identity)));
    }
    if a.next_attempt_schedule_time.is_some() {
        rows.push((
            "NextAttemptScheduleTime",
            output::time(a.next_attempt_schedule_time.as_ref()),
        ));
    }
    if a.heartbeat_details.is_some() {
        rows.push((
            "HeartbeatDetails",
            payloads::list_text(a.heartbeat_details.as_ref()),
        ));
    }
    output::line("");
    let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in rows {
        output::line(&format!("  {key:width$}  {value}"));
    }
}

/// The description as JSON, with Temporal's field names for what is shown.
fn to_json(ctx: &Context, d: &DescribeWorkflowExecutionResponse) -> Value {
    let info = d.workflow_execution_info.clone().unwrap_or_default();
    let config = d.execution_config.clone().unwrap_or_default();
    let execution = info.execution.clone().unwrap_or_default();
    let duration = |value: Option<&prost_wkt_types::Duration>| match output::duration(value) {
        dash if dash == "-" => Value::Null,
        text => Value::String(text),
    };
    let activities: Vec<Value> = d
        .pending_activities
        .iter()
        .map(|a| {
            json!({
                "activityId": a.activity_id,
                "activityType": { "name": a.activity_type.as_ref().map(|t| t.name.clone()) },
                "state": activity_state_name(a.state),
                "attempt": a.attempt,
                "maximumAttempts": a.maximum_attempts,
                "scheduledTime": output::time_json(a.scheduled_time.as_ref()),
                "lastStartedTime": output::time_json(a.last_started_time.as_ref()),
                "lastFailure": a.last_failure.as_ref().map(failures::json),
                "lastWorkerIdentity": a.last_worker_identity,
                "nextAttemptScheduleTime": output::time_json(a.next_attempt_schedule_time.as_ref()),
                "heartbeatDetails": payloads::list_json(a.heartbeat_details.as_ref()),
            })
        })
        .collect();
    json!({
        "executionConfig": {
            "taskQueue": { "name": config.task_queue.as_ref().map(|q| q.name.clone()) },
            "workflowExecutionTimeout": duration(config.workflow_execution_timeout.as_ref()),
            "workflowRunTimeout": duration(config.workflow_run_timeout.as_ref()),
            "defaultWorkflowTaskTimeout": duration(config.default_workflow_task_timeout.as_ref()),
        },
        "workflowExecutionInfo": {
            "execution": { "workflowId": execution.workflow_id, "runId": execution.run_id },
            "type": { "name": info.r#type.as_ref().map(|t| t.name.clone()) },
            "namespace": ctx.namespace,
            "taskQueue": info.task_queue,
            "status": status_name(info.status),
            "startTime": output::time_json(info.start_time.as_ref()),
            "executionTime": output::time_json(info.execution_time.as_ref()),
            "closeTime": output::time_json(info.close_time.as_ref()),
            "historyLength": info.history_length.to_string(),
        },
        "pendingWorkflowTask": d.pending_workflow_task.as_ref().map(|t| json!({
            "state": workflow_task_state_name(t.state),
            "attempt": t.attempt,
            "scheduledTime": output::time_json(t.scheduled_time.as_ref()),
            "startedTime": output::time_json(t.started_time.as_ref()),
        })),
        "pendingActivities": activities,
    })
}
