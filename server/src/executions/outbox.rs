//! The durable outbox: steps that cross from one workflow run to another (child workflows).
//! A run's transition writes an outbox row (Tasks keyspace, kinds below) in its own batch; this
//! processor carries the step out afterwards, idempotently, and deletes the row in the batch of
//! the run it changes. Rows survive crashes and are re-enqueued at start (`Executions::rebuild`).
//! No step ever holds two workflow locks at once.
//!
//! - START_CHILD (parent run, initiated event id): start the child run under the child's lock
//!   (request id derived from the parent run and initiated event, so a retry finds the run it
//!   started), then record ChildWorkflowExecutionStarted / StartChildWorkflowExecutionFailed on
//!   the parent, deleting the row in that batch.
//! - NOTIFY_PARENT (child run): record the child's close on the parent, deleting the row in that
//!   batch.
//! - PARENT_CLOSE (parent run, index): terminate or request cancellation of a child that was
//!   still open when its parent closed, then delete the row (both steps tolerate repetition).
//! - EXTERNAL (issuing run, initiated event id): signal or request cancellation of another
//!   workflow under the target's lock (a signal's request id is derived from the issuing run
//!   and initiated event, so a retry is deduplicated), then record the outcome on the issuing
//!   run, deleting the row in that batch.

use std::{sync::Mutex, time::Duration};

use prost::Message;
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::{ParentClosePolicy, StartChildWorkflowExecutionFailedCause},
    workflowservice::v1::{
        RequestCancelWorkflowExecutionRequest, StartWorkflowExecutionRequest,
        TerminateWorkflowExecutionRequest,
    },
};
use tokio::sync::{mpsc, watch};

use super::{ExecutionError, Executions, RunKey, now_ms, start::check_reuse_policy};
use crate::{
    engine::{self, ChildCompletion, EngineError, ParentCloseAction, RunLineage},
    store::{Keyspace, StoreError, WriteBatch},
};

/// Tasks-keyspace kinds of outbox rows (1 and 2 are workflow and activity tasks).
pub(super) const TASK_START_CHILD: u8 = 3;
pub(super) const TASK_NOTIFY_PARENT: u8 = 4;
pub(super) const TASK_PARENT_CLOSE: u8 = 5;
pub(super) const TASK_EXTERNAL: u8 = 6;

/// How long a failed step waits before it is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Identity recorded on what the outbox does on a parent's behalf.
const IDENTITY: &str = "lockstep-server";

/// True for the Tasks kinds that are outbox rows.
pub(super) fn is_outbox_kind(kind: u8) -> bool {
    matches!(
        kind,
        TASK_START_CHILD | TASK_NOTIFY_PARENT | TASK_PARENT_CLOSE | TASK_EXTERNAL
    )
}

/// One pending cross-run step, with its row.
#[derive(Clone, Debug)]
pub(crate) enum OutboxItem {
    /// Start the child initiated by `initiated_event_id` of `parent`.
    StartChild {
        parent: RunKey,
        initiated_event_id: i64,
        row: Vec<u8>,
    },
    /// Tell a parent that its child closed.
    NotifyParent {
        completion: Box<ChildCompletion>,
        row: Vec<u8>,
    },
    /// Apply a parent close policy.
    ParentClose {
        action: Box<ParentCloseAction>,
        row: Vec<u8>,
    },
    /// Deliver the signal or cancellation request initiated by `initiated_event_id` of
    /// `issuer`.
    External {
        issuer: RunKey,
        initiated_event_id: i64,
        row: Vec<u8>,
    },
}

impl OutboxItem {
    /// Rebuilds an item from its stored row.
    pub(super) fn decode(
        run: RunKey,
        kind: u8,
        id: i64,
        key: &[u8],
        value: &[u8],
    ) -> Result<Self, StoreError> {
        let row = key.to_vec();
        Ok(match kind {
            TASK_START_CHILD => OutboxItem::StartChild {
                parent: run,
                initiated_event_id: id,
                row,
            },
            TASK_EXTERNAL => OutboxItem::External {
                issuer: run,
                initiated_event_id: id,
                row,
            },
            TASK_NOTIFY_PARENT => OutboxItem::NotifyParent {
                completion: Box::new(
                    ChildCompletion::decode(value)
                        .map_err(|err| StoreError::decode(Keyspace::Tasks, key, err))?,
                ),
                row,
            },
            _ => OutboxItem::ParentClose {
                action: Box::new(
                    ParentCloseAction::decode(value)
                        .map_err(|err| StoreError::decode(Keyspace::Tasks, key, err))?,
                ),
                row,
            },
        })
    }
}

/// The in-memory queue of outbox items, fed after each commit and at start.
pub(super) struct Outbox {
    sender: mpsc::UnboundedSender<OutboxItem>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<OutboxItem>>>,
    stop: watch::Sender<bool>,
}

impl Outbox {
    pub(super) fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            stop: watch::channel(false).0,
        }
    }

    pub(super) fn push(&self, item: OutboxItem) {
        // The receiver lives as long as `self`; a send fails only after shutdown.
        let _ = self.sender.send(item);
    }

    pub(super) fn shutdown(&self) {
        self.stop.send_replace(true);
    }
}

/// Processes outbox items until shutdown; each item runs on its own task and is retried after
/// [`RETRY_DELAY`] while it fails.
pub(super) async fn run(executions: std::sync::Arc<Executions>) {
    let receiver = executions
        .outbox
        .receiver
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let Some(mut receiver) = receiver else {
        return;
    };
    let mut stop = executions.outbox.stop.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        let item = tokio::select! {
            item = receiver.recv() => item,
            _ = stop.changed() => return,
        };
        let Some(item) = item else { return };
        let this = executions.clone();
        tokio::spawn(async move {
            if let Err(err) = this.process(&item).await {
                tracing::warn!(error = %err, ?item, "outbox step failed; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
                this.outbox.push(item);
            }
        });
    }
}

impl Executions {
    async fn process(&self, item: &OutboxItem) -> Result<(), ExecutionError> {
        match item {
            OutboxItem::StartChild {
                parent,
                initiated_event_id,
                row,
            } => self.start_child(parent, *initiated_event_id, row).await,
            OutboxItem::NotifyParent { completion, row } => {
                self.notify_parent(completion, row).await
            }
            OutboxItem::ParentClose { action, row } => self.parent_close(action, row).await,
            OutboxItem::External {
                issuer,
                initiated_event_id,
                row,
            } => self.external(issuer, *initiated_event_id, row).await,
        }
    }

    async fn start_child(
        &self,
        parent: &RunKey,
        initiated_event_id: i64,
        row: &[u8],
    ) -> Result<(), ExecutionError> {
        let request = self
            .load(parent)?
            .and_then(|state| engine::child_start(&state, initiated_event_id));
        let Some((request, lineage)) = request else {
            self.forget_row(Keyspace::Tasks, row.to_vec()).await;
            return Ok(());
        };
        let outcome = self.start_child_run(&request, &lineage).await?;
        let mut consumed = WriteBatch::default();
        consumed.delete(Keyspace::Tasks, row.to_vec());
        let recorded = self
            .mutate(parent, consumed, |state, now| {
                match &outcome {
                    Ok(run_id) => engine::child_started(state, initiated_event_id, run_id, now),
                    Err(cause) => {
                        engine::start_child_failed(state, initiated_event_id, *cause, now)
                    }
                }
                .map(|t| (t, ()))
            })
            .await;
        self.settle(recorded, row).await
    }

    /// Starts the child run under the child's lock (only). `Err(cause)` when the workflow id
    /// is taken; a repeated request finds the run it started.
    async fn start_child_run(
        &self,
        request: &StartWorkflowExecutionRequest,
        lineage: &RunLineage,
    ) -> Result<Result<String, StartChildWorkflowExecutionFailedCause>, ExecutionError> {
        let (namespace, workflow_id) = (&request.namespace, &request.workflow_id);
        let _guard = self.locks.lock(namespace, workflow_id).await;
        if let Some(current) = self.current_run_id(namespace, workflow_id)? {
            let run = RunKey::new(namespace, workflow_id, &current);
            if let Some(state) = self.load(&run)? {
                if state.start_request_id() == request.request_id {
                    return Ok(Ok(current));
                }
                if !state.is_closed() || check_reuse_policy(request, &state).is_err() {
                    return Ok(Err(
                        StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                    ));
                }
            }
        }
        let run_id = uuid::Uuid::new_v4().to_string();
        let (state, transition) = engine::start_run(request, &run_id, lineage, now_ms())?;
        let run = RunKey::new(namespace, workflow_id, &run_id);
        self.commit_transition(&run, &state, transition, WriteBatch::default(), true)
            .await?;
        tracing::info!(namespace = %namespace, workflow_id = %workflow_id, run_id = %run_id, "child workflow started");
        Ok(Ok(run_id))
    }

    async fn notify_parent(
        &self,
        completion: &ChildCompletion,
        row: &[u8],
    ) -> Result<(), ExecutionError> {
        let Some(parent) = &completion.parent else {
            self.forget_row(Keyspace::Tasks, row.to_vec()).await;
            return Ok(());
        };
        let run = RunKey::new(&parent.namespace, &parent.workflow_id, &parent.run_id);
        let mut consumed = WriteBatch::default();
        consumed.delete(Keyspace::Tasks, row.to_vec());
        let recorded = self
            .mutate(&run, consumed, |state, now| {
                engine::child_closed(state, completion, now).map(|t| (t, ()))
            })
            .await;
        self.settle(recorded, row).await
    }

    async fn parent_close(
        &self,
        action: &ParentCloseAction,
        row: &[u8],
    ) -> Result<(), ExecutionError> {
        let current = self.current_run_id(&action.namespace, &action.workflow_id)?;
        let target = match current {
            Some(run_id) => {
                let run = RunKey::new(&action.namespace, &action.workflow_id, &run_id);
                self.load(&run)?
                    .filter(|s| !s.is_closed() && s.first_execution_run_id() == action.first_run_id)
                    .map(|_| run_id)
            }
            None => None,
        };
        if let Some(run_id) = target {
            let execution = Some(WorkflowExecution {
                workflow_id: action.workflow_id.clone(),
                run_id,
            });
            let parent = action
                .parent
                .as_ref()
                .map_or(String::new(), |p| p.workflow_id.clone());
            let outcome = match action.policy() {
                ParentClosePolicy::RequestCancel => {
                    self.request_cancel(&RequestCancelWorkflowExecutionRequest {
                        namespace: action.namespace.clone(),
                        workflow_execution: execution,
                        identity: IDENTITY.into(),
                        reason: format!("parent workflow {parent:?} closed"),
                        ..Default::default()
                    })
                    .await
                }
                _ => {
                    self.terminate(&TerminateWorkflowExecutionRequest {
                        namespace: action.namespace.clone(),
                        workflow_execution: execution,
                        identity: IDENTITY.into(),
                        reason: format!("by parent close policy: parent {parent:?} closed"),
                        ..Default::default()
                    })
                    .await
                }
            };
            match outcome {
                Ok(())
                | Err(
                    ExecutionError::NotFound(_)
                    | ExecutionError::Engine(EngineError::WorkflowClosed | EngineError::NotFound(_)),
                ) => {}
                Err(err) => return Err(err),
            }
        }
        self.forget_row(Keyspace::Tasks, row.to_vec()).await;
        Ok(())
    }

    /// Finishes a step recorded on a run: a run that is gone or closed just drops the row.
    pub(super) async fn settle(
        &self,
        recorded: Result<(engine::MutableState, ()), ExecutionError>,
        row: &[u8],
    ) -> Result<(), ExecutionError> {
        match recorded {
            Ok(_) => Ok(()),
            Err(ExecutionError::NotFound(_) | ExecutionError::Engine(EngineError::NotFound(_))) => {
                self.forget_row(Keyspace::Tasks, row.to_vec()).await;
                Ok(())
            }
            Err(ExecutionError::Engine(EngineError::InvalidArgument(message))) => {
                tracing::error!(%message, "dropping a malformed outbox row");
                self.forget_row(Keyspace::Tasks, row.to_vec()).await;
                Ok(())
            }
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::{sync::Arc, time::Duration};

    use temporalio_protos::temporal::api::{
        command::v1::{Command, StartChildWorkflowExecutionCommandAttributes, command},
        common::v1::{WorkflowExecution, WorkflowType},
        enums::v1::{CommandType, EventType, WorkflowExecutionStatus},
        taskqueue::v1::TaskQueue,
        workflowservice::v1::{
            DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest,
            PollWorkflowTaskQueueRequest, RespondWorkflowTaskCompletedRequest,
            StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
        },
    };

    use super::*;
    use crate::{
        executions::{Executions, keys},
        namespaces::Namespaces,
        store::{Committer, MemoryStore, Store},
        tokens::TokenKey,
    };

    pub(in crate::executions) fn open(store: &Arc<MemoryStore>) -> Arc<Executions> {
        let committer = Committer::start(store.clone());
        let namespaces = Arc::new(Namespaces::load(committer.clone()).unwrap());
        Executions::open(committer, TokenKey::from_bytes([7; 32]), namespaces).unwrap()
    }

    pub(in crate::executions) fn execution(workflow_id: &str) -> Option<WorkflowExecution> {
        Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: String::new(),
        })
    }

    pub(in crate::executions) async fn event_types(
        executions: &Executions,
        workflow_id: &str,
    ) -> Vec<EventType> {
        let history = executions
            .history(&GetWorkflowExecutionHistoryRequest {
                namespace: "ns".into(),
                execution: execution(workflow_id),
                ..Default::default()
            })
            .await
            .unwrap();
        history
            .history
            .unwrap()
            .events
            .iter()
            .map(|e| e.event_type())
            .collect()
    }

    async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
        for _ in 0..200 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{what} never happened");
    }

    /// The child start survives a restart between the parent's commit and the outbox step, and
    /// the parent's close terminates the child (default parent close policy).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn child_start_is_durable_and_parent_close_terminates_it() {
        let store = Arc::new(MemoryStore::default());
        let executions = open(&store);
        executions
            .start_workflow(&StartWorkflowExecutionRequest {
                namespace: "ns".into(),
                workflow_id: "parent".into(),
                workflow_type: Some(WorkflowType { name: "P".into() }),
                task_queue: Some(TaskQueue {
                    name: "q".into(),
                    ..Default::default()
                }),
                request_id: "r".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let task = executions
            .poll_workflow_task(&PollWorkflowTaskQueueRequest {
                namespace: "ns".into(),
                task_queue: Some(TaskQueue {
                    name: "q".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        let start_child = Command {
            command_type: CommandType::StartChildWorkflowExecution as i32,
            attributes: Some(
                command::Attributes::StartChildWorkflowExecutionCommandAttributes(
                    StartChildWorkflowExecutionCommandAttributes {
                        workflow_id: "child".into(),
                        workflow_type: Some(WorkflowType { name: "C".into() }),
                        ..Default::default()
                    },
                ),
            ),
            ..Default::default()
        };
        executions
            .complete_workflow_task(&RespondWorkflowTaskCompletedRequest {
                namespace: "ns".into(),
                task_token: task.task_token,
                commands: vec![start_child],
                ..Default::default()
            })
            .await
            .unwrap();
        // No driver ran: the outbox row is all there is.
        let parent_run = executions.resolve("ns", "parent", "").unwrap();
        let row = keys::task(&parent_run, TASK_START_CHILD, 5, 0);
        assert!(store.get(Keyspace::Tasks, &row).unwrap().is_some());
        assert!(executions.resolve("ns", "child", "").is_err());
        executions.shutdown();
        drop(executions);

        // "Restart": the outbox is rebuilt and the child starts.
        let executions = open(&store);
        let driver = executions.spawn_timer_driver();
        eventually("the parent records the child's start", async || {
            event_types(&executions, "parent")
                .await
                .contains(&EventType::ChildWorkflowExecutionStarted)
        })
        .await;
        assert!(store.get(Keyspace::Tasks, &row).unwrap().is_none());
        let child = executions
            .describe(&DescribeWorkflowExecutionRequest {
                namespace: "ns".into(),
                execution: execution("child"),
            })
            .unwrap();
        let info = child.workflow_execution_info.unwrap();
        assert_eq!(
            info.parent_execution.unwrap().run_id,
            parent_run.run_id,
            "the child names its parent"
        );

        executions
            .terminate(&TerminateWorkflowExecutionRequest {
                namespace: "ns".into(),
                workflow_execution: execution("parent"),
                ..Default::default()
            })
            .await
            .unwrap();
        eventually(
            "the child is terminated by the parent close policy",
            async || {
                executions
                    .describe(&DescribeWorkflowExecutionRequest {
                        namespace: "ns".into(),
                        execution: execution("child"),
                    })
                    .unwrap()
                    .workflow_execution_info
                    .unwrap()
                    .status()
                    == WorkflowExecutionStatus::Terminated
            },
        )
        .await;
        // The child's close notification finds the parent closed and is dropped.
        eventually("the outbox is empty", async || {
            store
                .scan_prefix(Keyspace::Tasks, b"", usize::MAX)
                .unwrap()
                .iter()
                .all(|(key, _)| {
                    keys::parse_task(key).is_ok_and(|(_, kind, _, _)| !is_outbox_kind(kind))
                })
        })
        .await;
        executions.shutdown();
        driver.await.unwrap();
    }
}
