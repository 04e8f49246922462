//! Activity tasks: long-poll hand-off, started (invisible in history), completion, failure,
//! cancellation and heartbeats.

use temporalio_protos::temporal::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    workflowservice::v1::{
        PollActivityTaskQueueRequest, PollActivityTaskQueueResponse,
        RecordActivityTaskHeartbeatRequest, RecordActivityTaskHeartbeatResponse,
        RespondActivityTaskCanceledRequest, RespondActivityTaskCompletedRequest,
        RespondActivityTaskFailedRequest,
    },
};
use tokio::time::Instant;

use super::{
    ExecutionError, Executions, QueuedTask, RunKey, TASK_ACTIVITY,
    workflow_tasks::{LONG_POLL, queue_key},
};
use crate::{engine, matching::QueueKind, store::WriteBatch, tokens::TaskClaims};

/// Token kind of activity tasks.
const TOKEN_ACTIVITY: i32 = 2;

impl Executions {
    /// Waits for an activity task, records it started and returns it.
    pub async fn poll_activity_task(
        &self,
        request: &PollActivityTaskQueueRequest,
    ) -> Result<PollActivityTaskQueueResponse, ExecutionError> {
        let key = queue_key(
            &request.namespace,
            request.task_queue.as_ref(),
            QueueKind::Activity,
        )?;
        let deadline = Instant::now() + LONG_POLL;
        while let Some(task) = self.next_task(&key, deadline).await {
            if let Some(response) = self.start_activity_task(&task, &request.identity).await? {
                return Ok(response);
            }
        }
        Ok(PollActivityTaskQueueResponse::default())
    }

    async fn start_activity_task(
        &self,
        task: &QueuedTask,
        identity: &str,
    ) -> Result<Option<PollActivityTaskQueueResponse>, ExecutionError> {
        let scheduled = task.scheduled_event_id;
        let Some(state) = self
            .claim_task(task, TASK_ACTIVITY, |state, scheduled, attempt, now| {
                engine::activity_task_started(state, scheduled, attempt, identity, "", now)
            })
            .await?
        else {
            return Ok(None);
        };
        let Some(activity) = state.pending_activity(scheduled) else {
            return Ok(None);
        };
        let claims = TaskClaims {
            kind: TOKEN_ACTIVITY,
            namespace: task.run.namespace.clone(),
            workflow_id: task.run.workflow_id.clone(),
            run_id: task.run.run_id.clone(),
            scheduled_event_id: scheduled,
            started_event_id: 0,
            attempt: activity.attempt,
            query_id: String::new(),
            generation: 0,
        };
        Ok(Some(PollActivityTaskQueueResponse {
            task_token: self.tokens.sign(&claims),
            workflow_namespace: task.run.namespace.clone(),
            workflow_type: Some(WorkflowType {
                name: state.workflow_type().to_string(),
            }),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: task.run.workflow_id.clone(),
                run_id: task.run.run_id.clone(),
            }),
            activity_type: activity.activity_type.clone(),
            activity_id: activity.activity_id.clone(),
            header: activity.header.clone(),
            input: activity.input.clone(),
            heartbeat_details: activity.heartbeat_details.clone(),
            scheduled_time: activity.scheduled_time,
            current_attempt_scheduled_time: activity.current_attempt_scheduled_time,
            started_time: activity.started_time,
            attempt: activity.attempt,
            schedule_to_close_timeout: activity.schedule_to_close_timeout,
            start_to_close_timeout: activity.start_to_close_timeout,
            heartbeat_timeout: activity.heartbeat_timeout,
            retry_policy: activity.retry_policy.clone(),
            ..Default::default()
        }))
    }

    /// Records an activity's result.
    pub async fn complete_activity(
        &self,
        request: &RespondActivityTaskCompletedRequest,
    ) -> Result<(), ExecutionError> {
        let (run, claims) = self.activity_claims(&request.task_token, &request.namespace)?;
        self.mutate(&run, WriteBatch::default(), |state, now| {
            engine::complete_activity(
                state,
                claims.scheduled_event_id,
                claims.attempt,
                request.result.clone(),
                &request.identity,
                now,
            )
            .map(|t| (t, ()))
        })
        .await?;
        Ok(())
    }

    /// Records an activity attempt's failure (retried by policy, invisibly).
    pub async fn fail_activity(
        &self,
        request: &RespondActivityTaskFailedRequest,
    ) -> Result<(), ExecutionError> {
        let (run, claims) = self.activity_claims(&request.task_token, &request.namespace)?;
        self.mutate(&run, WriteBatch::default(), |state, now| {
            engine::fail_activity(
                state,
                claims.scheduled_event_id,
                claims.attempt,
                request.failure.clone(),
                request.last_heartbeat_details.clone(),
                &request.identity,
                now,
            )
            .map(|t| (t, ()))
        })
        .await?;
        Ok(())
    }

    /// Records that an activity accepted its cancellation.
    pub async fn cancel_activity(
        &self,
        request: &RespondActivityTaskCanceledRequest,
    ) -> Result<(), ExecutionError> {
        let (run, claims) = self.activity_claims(&request.task_token, &request.namespace)?;
        self.mutate(&run, WriteBatch::default(), |state, now| {
            engine::cancel_activity(
                state,
                claims.scheduled_event_id,
                claims.attempt,
                request.details.clone(),
                &request.identity,
                now,
            )
            .map(|t| (t, ()))
        })
        .await?;
        Ok(())
    }

    /// Records a heartbeat; answers whether cancellation was requested.
    pub async fn heartbeat(
        &self,
        request: &RecordActivityTaskHeartbeatRequest,
    ) -> Result<RecordActivityTaskHeartbeatResponse, ExecutionError> {
        let (run, claims) = self.activity_claims(&request.task_token, &request.namespace)?;
        let (_, cancel_requested) = self
            .mutate(&run, WriteBatch::default(), |state, now| {
                engine::record_heartbeat(
                    state,
                    claims.scheduled_event_id,
                    claims.attempt,
                    request.details.clone(),
                    now,
                )
            })
            .await?;
        Ok(RecordActivityTaskHeartbeatResponse {
            cancel_requested,
            ..Default::default()
        })
    }

    fn activity_claims(
        &self,
        token: &[u8],
        namespace: &str,
    ) -> Result<(RunKey, TaskClaims), ExecutionError> {
        self.claims(token, namespace, TOKEN_ACTIVITY)
    }
}
