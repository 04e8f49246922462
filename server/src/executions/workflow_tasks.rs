//! Workflow tasks: long-poll hand-off, the started transition, completion and failure.

use std::time::Duration;

use temporalio_protos::temporal::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::{TaskQueueKind, WorkflowTaskFailedCause as Cause},
    history::v1::History,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse,
        RespondWorkflowTaskCompletedRequest, RespondWorkflowTaskCompletedResponse,
        RespondWorkflowTaskFailedRequest, ShutdownWorkerRequest,
    },
};
use tokio::time::Instant;

use super::{ExecutionError, Executions, QueuedTask, RunKey, TASK_WORKFLOW};
use crate::{
    engine::{self, EngineError},
    matching::{QueueKey, QueueKind},
    search_attributes,
    store::WriteBatch,
    tokens::TaskClaims,
};

/// Long polls answer empty before the SDK's 70 s client deadline.
pub(crate) const LONG_POLL: Duration = Duration::from_secs(60);
/// Token kind of workflow tasks.
pub(crate) const TOKEN_WORKFLOW: i32 = 1;

impl Executions {
    /// Waits for a workflow task on the queue, records it started and returns it with history.
    /// An empty response (no task token) means the long poll timed out.
    pub async fn poll_workflow_task(
        &self,
        request: &PollWorkflowTaskQueueRequest,
    ) -> Result<PollWorkflowTaskQueueResponse, ExecutionError> {
        let key = queue_key(
            &request.namespace,
            request.task_queue.as_ref(),
            QueueKind::Workflow,
        )?;
        let deadline = Instant::now() + LONG_POLL;
        while let Some(task) = self.next_task(&key, deadline).await {
            let response = match &task.query_id {
                Some(query_id) => self.query_task(&task, query_id)?,
                None => self.start_workflow_task(&task, request).await?,
            };
            if let Some(response) = response {
                return Ok(response);
            }
        }
        Ok(PollWorkflowTaskQueueResponse::default())
    }

    /// The next task of a queue, or None once `deadline` passes (or at shutdown).
    pub(super) async fn next_task(&self, key: &QueueKey, deadline: Instant) -> Option<QueuedTask> {
        let remaining = deadline.checked_duration_since(Instant::now())?;
        self.queues.poll(key, remaining).await
    }

    /// Records a dequeued task as started; None when it turned out stale.
    async fn start_workflow_task(
        &self,
        task: &QueuedTask,
        request: &PollWorkflowTaskQueueRequest,
    ) -> Result<Option<PollWorkflowTaskQueueResponse>, ExecutionError> {
        let identity = request.identity.as_str();
        let Some(state) = self
            .claim_task(task, TASK_WORKFLOW, |state, scheduled, attempt, now| {
                engine::workflow_task_started(state, scheduled, attempt, identity, "", now)
            })
            .await?
        else {
            return Ok(None);
        };
        let info = state
            .pending_workflow_task()
            .ok_or_else(|| ExecutionError::InvalidArgument("workflow task vanished".into()))?;
        let claims = TaskClaims {
            kind: TOKEN_WORKFLOW,
            namespace: task.run.namespace.clone(),
            workflow_id: task.run.workflow_id.clone(),
            run_id: task.run.run_id.clone(),
            scheduled_event_id: info.scheduled_event_id,
            started_event_id: info.started_event_id,
            attempt: info.attempt,
            query_id: String::new(),
            generation: info.generation,
        };
        // A worker's sticky queue gets only what it has not seen: its cache holds the rest.
        let first = if info.sticky {
            state.previous_started_event_id().saturating_add(1)
        } else {
            1
        };
        let mut events = self.read_events(&task.run, first, i64::MAX)?;
        // A speculative task's Scheduled/Started are not in history yet (see engine::update).
        events.extend(engine::speculative_task_events(&state));
        Ok(Some(PollWorkflowTaskQueueResponse {
            task_token: self.tokens.sign(&claims),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: task.run.workflow_id.clone(),
                run_id: task.run.run_id.clone(),
            }),
            workflow_type: Some(WorkflowType {
                name: state.workflow_type().to_string(),
            }),
            previous_started_event_id: state.previous_started_event_id(),
            started_event_id: info.started_event_id,
            attempt: info.attempt,
            history: Some(History { events }),
            workflow_execution_task_queue: Some(TaskQueue {
                name: state.task_queue().to_string(),
                kind: TaskQueueKind::Normal.into(),
                normal_name: String::new(),
            }),
            scheduled_time: info.scheduled_time,
            started_time: info.started_time,
            messages: engine::update_messages(&state),
            ..Default::default()
        }))
    }

    /// A query-only task: the full history and the query, under a token of its own.
    fn query_task(
        &self,
        task: &QueuedTask,
        query_id: &str,
    ) -> Result<Option<PollWorkflowTaskQueueResponse>, ExecutionError> {
        let Some(query) = self.queries.query(query_id) else {
            return Ok(None);
        };
        let Some(state) = self.load(&task.run)? else {
            return Ok(None);
        };
        let claims = TaskClaims {
            kind: super::queries::TOKEN_QUERY,
            namespace: task.run.namespace.clone(),
            workflow_id: task.run.workflow_id.clone(),
            run_id: task.run.run_id.clone(),
            query_id: query_id.to_string(),
            ..Default::default()
        };
        let events = self.read_events(&task.run, 1, i64::MAX)?;
        Ok(Some(PollWorkflowTaskQueueResponse {
            task_token: self.tokens.sign(&claims),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: task.run.workflow_id.clone(),
                run_id: task.run.run_id.clone(),
            }),
            workflow_type: Some(WorkflowType {
                name: state.workflow_type().to_string(),
            }),
            previous_started_event_id: state.previous_started_event_id(),
            started_event_id: 0,
            attempt: 1,
            history: Some(History { events }),
            query: Some(query),
            workflow_execution_task_queue: Some(TaskQueue {
                name: state.task_queue().to_string(),
                kind: TaskQueueKind::Normal.into(),
                normal_name: String::new(),
            }),
            ..Default::default()
        }))
    }

    /// Applies the commands of a completed workflow task.
    pub async fn complete_workflow_task(
        &self,
        request: &RespondWorkflowTaskCompletedRequest,
    ) -> Result<RespondWorkflowTaskCompletedResponse, ExecutionError> {
        let (run, claims) = self.workflow_claims(&request.task_token, &request.namespace)?;
        let new_run_id = uuid::Uuid::new_v4().to_string();
        // A run's namespace exists (namespaces are never deleted); without a record only the
        // system and predefined attributes are known.
        let schema = self.namespaces.get(&run.namespace).map_or_else(
            || search_attributes::Schema::new(&run.namespace, &Default::default()),
            |record| search_attributes::Schema::of(&record),
        );
        let outcome = self
            .mutate(&run, WriteBatch::default(), |state, now| {
                engine::check_task_generation(state, claims.generation)?;
                // A stale token is NotFound before its commands are looked at.
                state.started_task(
                    claims.scheduled_event_id,
                    claims.started_event_id,
                    claims.attempt,
                )?;
                search_attributes::check_commands(&schema, &request.commands).map_err(
                    |message| EngineError::rejected(Cause::BadSearchAttributes, message),
                )?;
                engine::complete_workflow_task(
                    state,
                    claims.scheduled_event_id,
                    claims.started_event_id,
                    claims.attempt,
                    request,
                    &new_run_id,
                    now,
                )
                .map(|t| {
                    // Only a dropped speculative task completes without writing anything.
                    let dropped = t.events.is_empty();
                    (t, dropped)
                })
            })
            .await;
        match outcome {
            // The SDK rolls its history back to the last real task (Temporal's contract).
            Ok((state, true)) => Ok(RespondWorkflowTaskCompletedResponse {
                reset_history_event_id: state.previous_started_event_id(),
                ..Default::default()
            }),
            Ok(_) => Ok(RespondWorkflowTaskCompletedResponse::default()),
            Err(ExecutionError::Engine(EngineError::CommandRejected { cause, message })) => {
                tracing::info!(workflow_id = %run.workflow_id, %message, "workflow task commands rejected");
                let reason = message.clone();
                self.mutate(&run, WriteBatch::default(), move |state, now| {
                    engine::fail_workflow_task_by_server(state, cause, &reason, now)
                        .map(|t| (t, ()))
                })
                .await?;
                Err(ExecutionError::Engine(EngineError::CommandRejected {
                    cause,
                    message,
                }))
            }
            Err(err) => Err(err),
        }
    }

    /// Records a failed workflow task; a new attempt is scheduled.
    pub async fn fail_workflow_task(
        &self,
        request: &RespondWorkflowTaskFailedRequest,
    ) -> Result<(), ExecutionError> {
        let (run, claims) = self.workflow_claims(&request.task_token, &request.namespace)?;
        self.mutate(&run, WriteBatch::default(), |state, now| {
            engine::check_task_generation(state, claims.generation)?;
            engine::fail_workflow_task(
                state,
                claims.scheduled_event_id,
                claims.started_event_id,
                claims.attempt,
                request,
                now,
            )
            .map(|t| (t, ()))
        })
        .await?;
        Ok(())
    }

    /// ShutdownWorker: the worker's sticky queue has no poller any more, so the tasks waiting
    /// there move to the normal queue now (as if their schedule-to-start timeout had passed)
    /// instead of waiting out that timeout.
    pub async fn shutdown_worker(&self, request: &ShutdownWorkerRequest) {
        if request.sticky_task_queue.is_empty() {
            return;
        }
        let queue = QueueKey {
            namespace: request.namespace.clone(),
            name: request.sticky_task_queue.clone(),
            kind: QueueKind::Workflow,
        };
        let now = super::now_ms();
        let waiting = self
            .queues
            .remove_where(&queue, |task| task.query_id.is_none())
            .into_iter()
            .map(|task| {
                super::sticky_timeout(
                    &task.run,
                    &queue.name,
                    now,
                    task.scheduled_event_id,
                    task.attempt,
                )
            })
            .collect();
        self.fire_all(waiting).await;
    }

    /// Verifies a token of `kind` issued for `namespace`.
    pub(super) fn claims(
        &self,
        token: &[u8],
        namespace: &str,
        kind: i32,
    ) -> Result<(RunKey, TaskClaims), ExecutionError> {
        let claims = self
            .tokens
            .verify(token)
            .map_err(|_| ExecutionError::BadToken)?;
        if claims.kind != kind || claims.namespace != namespace {
            return Err(ExecutionError::BadToken);
        }
        let run = RunKey::new(&claims.namespace, &claims.workflow_id, &claims.run_id);
        Ok((run, claims))
    }

    fn workflow_claims(
        &self,
        token: &[u8],
        namespace: &str,
    ) -> Result<(RunKey, TaskClaims), ExecutionError> {
        self.claims(token, namespace, TOKEN_WORKFLOW)
    }
}

/// The queue a poll names; the name is required.
pub(super) fn queue_key(
    namespace: &str,
    task_queue: Option<&TaskQueue>,
    kind: QueueKind,
) -> Result<QueueKey, ExecutionError> {
    let name = task_queue.map(|q| q.name.clone()).unwrap_or_default();
    if name.is_empty() {
        return Err(ExecutionError::InvalidArgument(
            "task_queue.name is required".into(),
        ));
    }
    Ok(QueueKey {
        namespace: namespace.to_string(),
        name,
        kind,
    })
}
