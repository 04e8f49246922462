//! Queries: answered by a worker through a query-only workflow task, dispatched when the run
//! has no workflow task outstanding (so a query and a workflow task never share one task).
//! Queries change nothing and are not durable: a server restart fails the ones in flight.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use temporalio_protos::temporal::api::{
    enums::v1::QueryResultType,
    query::v1::WorkflowQuery,
    workflowservice::v1::{
        QueryWorkflowRequest, QueryWorkflowResponse, RespondQueryTaskCompletedRequest,
    },
};
use tokio::sync::oneshot;

use super::{ExecutionError, Executions, QueuedTask, now_ms, watchers::Progress};
use crate::matching::{QueueKey, QueueKind};

/// How long a query waits for a worker's answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Token kind of query tasks.
pub(crate) const TOKEN_QUERY: i32 = 3;

/// A worker's answer to a query.
pub(crate) enum QueryAnswer {
    /// The query handler's result.
    Answered(QueryWorkflowResponse),
    /// The query handler failed; the message says why.
    Failed(String),
}

/// A query waiting for a worker, and where its answer goes.
struct Waiting {
    query: WorkflowQuery,
    answer: oneshot::Sender<QueryAnswer>,
}

/// Queries waiting for a worker, by query id.
pub(crate) struct PendingQueries {
    waiting: Mutex<HashMap<String, Waiting>>,
}

impl PendingQueries {
    pub(crate) fn new() -> Self {
        Self {
            waiting: Mutex::new(HashMap::new()),
        }
    }

    fn insert(&self, id: &str, query: WorkflowQuery) -> oneshot::Receiver<QueryAnswer> {
        let (answer, receiver) = oneshot::channel();
        self.lock()
            .insert(id.to_string(), Waiting { query, answer });
        receiver
    }

    /// The query for a dispatched task, if it still waits.
    pub(crate) fn query(&self, id: &str) -> Option<WorkflowQuery> {
        self.lock().get(id).map(|waiting| waiting.query.clone())
    }

    fn answer(&self, id: &str, answer: QueryAnswer) -> bool {
        let Some(waiting) = self.lock().remove(id) else {
            return false;
        };
        waiting.answer.send(answer).is_ok()
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Executions {
    /// Runs a query on a workflow through one of its workers.
    pub async fn query(
        &self,
        request: &QueryWorkflowRequest,
    ) -> Result<QueryWorkflowResponse, ExecutionError> {
        let execution = request.execution.clone().unwrap_or_default();
        let run = self.resolve(
            &request.namespace,
            &execution.workflow_id,
            &execution.run_id,
        )?;
        let query = request
            .query
            .clone()
            .filter(|q| !q.query_type.is_empty())
            .ok_or_else(|| {
                ExecutionError::InvalidArgument("query.query_type is required".into())
            })?;
        let deadline = tokio::time::Instant::now() + QUERY_TIMEOUT;
        let mut progress = self.watchers.subscribe(&run, Progress::default());
        let task_queue = loop {
            let state = self
                .load(&run)?
                .ok_or_else(|| ExecutionError::NotFound(format!("{:?}", run.workflow_id)))?;
            if let Some(due) = state.first_task_due_ms() {
                // As Temporal: wait for the first task only if it comes before the deadline.
                let wait_ms = u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0);
                if tokio::time::Instant::now() + Duration::from_millis(wait_ms) >= deadline {
                    return Err(ExecutionError::WorkflowNotReady(format!(
                        "workflow task is not scheduled yet: the run waits for its first \
                         workflow task until unix ms {due}"
                    )));
                }
            } else if state.pending_workflow_task().is_none() {
                break state.task_queue().to_string();
            }
            // A workflow task is outstanding: ask once it is done.
            if tokio::time::timeout_at(deadline, progress.changed())
                .await
                .is_err()
            {
                return Err(ExecutionError::QueryTimedOut);
            }
        };
        let id = uuid::Uuid::new_v4().to_string();
        let answer = self.queries.insert(&id, query);
        self.queues.push(
            &QueueKey {
                namespace: run.namespace.clone(),
                name: task_queue,
                kind: QueueKind::Workflow,
            },
            QueuedTask {
                run: run.clone(),
                scheduled_event_id: 0,
                attempt: 0,
                query_id: Some(id.clone()),
            },
        );
        let outcome = tokio::time::timeout_at(deadline, answer).await;
        self.queries.forget(&id);
        match outcome {
            Ok(Ok(QueryAnswer::Answered(response))) => Ok(response),
            Ok(Ok(QueryAnswer::Failed(message))) => Err(ExecutionError::QueryFailed(message)),
            Ok(Err(_)) | Err(_) => Err(ExecutionError::QueryTimedOut),
        }
    }

    /// A worker's answer to a query task.
    pub fn respond_query(
        &self,
        request: &RespondQueryTaskCompletedRequest,
    ) -> Result<(), ExecutionError> {
        let (_, claims) = self.claims(&request.task_token, &request.namespace, TOKEN_QUERY)?;
        let answer = if request.completed_type == QueryResultType::Answered as i32 {
            QueryAnswer::Answered(QueryWorkflowResponse {
                query_result: request.query_result.clone(),
                ..Default::default()
            })
        } else {
            let message = request
                .failure
                .as_ref()
                .map(|f| f.message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| request.error_message.clone());
            QueryAnswer::Failed(message)
        };
        if self.queries.answer(&claims.query_id, answer) {
            Ok(())
        } else {
            Err(ExecutionError::NotFound(
                "query is no longer waiting".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use temporalio_protos::temporal::api::{
        common::v1::{WorkflowExecution, WorkflowType},
        query::v1::WorkflowQuery,
        taskqueue::v1::TaskQueue,
        workflowservice::v1::StartWorkflowExecutionRequest,
    };

    use super::*;
    use crate::{executions::outbox::tests::open, store::MemoryStore};

    /// A run whose first task is a minute away cannot answer within the query timeout: the
    /// query fails at once, as Temporal's "workflow task is not scheduled yet".
    #[tokio::test]
    async fn a_query_before_a_distant_first_task_is_refused_at_once() {
        let executions = open(&Arc::new(MemoryStore::default()));
        executions
            .start_workflow(&StartWorkflowExecutionRequest {
                namespace: "ns".into(),
                workflow_id: "later".into(),
                workflow_type: Some(WorkflowType { name: "W".into() }),
                task_queue: Some(TaskQueue {
                    name: "q".into(),
                    ..Default::default()
                }),
                workflow_start_delay: Some(prost_wkt_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        let err = executions
            .query(&QueryWorkflowRequest {
                namespace: "ns".into(),
                execution: Some(WorkflowExecution {
                    workflow_id: "later".into(),
                    run_id: String::new(),
                }),
                query: Some(WorkflowQuery {
                    query_type: "state".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ExecutionError::WorkflowNotReady(m) if m.contains("not scheduled yet")),
            "{err:?}"
        );
        executions.shutdown();
    }
}
