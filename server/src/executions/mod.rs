//! Executions: where requests meet the engine and the store. Each change to a run is
//! lock (per workflow id) → load state → engine transition (pure) → one atomic batch with the
//! new state, the appended events and the task/timer index rows → group-committed flush →
//! only then the in-memory effects (queue hand-off, timer wheel, history long polls) and the
//! reply. Task queues and timers are indexes over the stored truth, rebuilt at start.
//!
//! - `keys`: key layouts.
//! - `locks`: per-workflow serialization.
//! - `watchers`: history long polls.
//! - `start`: StartWorkflowExecution and signals.
//! - `workflow_tasks`, `activity_tasks`: polls and responses.
//! - `reads`: history pages and describe.
//! - `reset`: ResetWorkflowExecution (the terminated run and the new run in one batch) and
//!   ResetStickyTaskQueue.
//! - `timers_driver`: durable timers firing into the engine.
//! - `updates`, `update_with_start`: workflow updates (admission, waiting for a stage,
//!   update-with-start).
//! - `outbox`: steps that cross from one run to another (child workflows: start, close
//!   notification, parent close policies; signals and cancellations of other workflows), written as rows in the batch of the run that asks
//!   and carried out idempotently afterwards, never holding two workflow locks.
//!
//! A continue-as-new, a workflow retry and the next run of a cron schedule commit the closing
//! run and the new run (which becomes the current run) in ONE batch (`Effect::StartRun`,
//! handled by `stage`).

mod activity_tasks;
mod external;
pub mod keys;
mod listing;
mod locks;
mod outbox;
mod queries;
mod reads;
mod reset;
mod retention;
mod start;
#[cfg(test)]
mod sticky_tests;
mod timers_driver;
mod update_with_start;
mod updates;
mod watchers;
mod workflow_tasks;

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use prost::Message;

pub use keys::RunKey;
use locks::StripedLocks;
use outbox::{Outbox, OutboxItem};
pub use update_with_start::{MultiOperationError, OperationStatus};
use watchers::{HistoryWatchers, Progress};

use crate::{
    engine::{self, Effect, EngineError, MutableState, TimerTask, Transition},
    matching::{QueueKey, QueueKind, TaskQueues},
    namespaces::Namespaces,
    store::{Committer, Keyspace, StoreError, WriteBatch},
    timers::TimerWheel,
    tokens::TokenKey,
    visibility,
};

/// Task kinds in the Tasks keyspace.
const TASK_WORKFLOW: u8 = 1;
const TASK_ACTIVITY: u8 = 2;

/// A task waiting in a queue: which run, which scheduled event, which attempt (or which query).
#[derive(Clone, Debug)]
pub(crate) struct QueuedTask {
    run: RunKey,
    scheduled_event_id: i64,
    attempt: i32,
    /// Set for query-only workflow tasks.
    query_id: Option<String>,
}

/// A durable timer in the wheel, with its row key for deletion once handled.
#[derive(Clone, Debug)]
pub(crate) struct DueTimer {
    run: RunKey,
    timer: TimerTask,
    row: Vec<u8>,
}

/// The value of a Tasks row.
#[derive(Clone, PartialEq, Message)]
struct TaskRow {
    #[prost(string, tag = "1")]
    task_queue: String,
    /// For a workflow task on a worker's sticky queue: how long it may wait there, ms. Its
    /// schedule-to-start timer lives only in memory and is re-armed from this at start-up.
    #[prost(int64, tag = "2")]
    sticky_schedule_to_start_ms: i64,
}

/// Why an execution operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutionError {
    /// The engine refused (not found, invalid, rejected commands, closed).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// No such workflow execution.
    #[error("workflow execution {0} not found")]
    NotFound(String),
    /// The task token is not valid (forged, from another server, or damaged).
    #[error("task token is not valid")]
    BadToken,
    /// A run with this workflow id is running.
    #[error("workflow execution is already started: workflow id {workflow_id}, run id {run_id}")]
    AlreadyStarted {
        /// The workflow id.
        workflow_id: String,
        /// The running run's id.
        run_id: String,
        /// The request id that started it.
        start_request_id: String,
    },
    /// The request is invalid; the message says what to fix.
    #[error("{0}")]
    InvalidArgument(String),
    /// The store failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The worker answered the query with a failure.
    #[error("query failed: {0}")]
    QueryFailed(String),
    /// No worker answered the query in time.
    #[error("no worker answered the query in time; is a worker polling the workflow's task queue?")]
    QueryTimedOut,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The run cannot answer yet (it waits out its first-task backoff); the message says until
    /// when.
    #[error("{0}")]
    WorkflowNotReady(String),
}

/// The execution service shared by the API handlers.
pub struct Executions {
    committer: Committer,
    tokens: TokenKey,
    queues: TaskQueues<QueuedTask>,
    timers: TimerWheel<DueTimer>,
    locks: StripedLocks,
    watchers: HistoryWatchers,
    queries: queries::PendingQueries,
    namespaces: Arc<Namespaces>,
    outbox: Outbox,
    update_waiters: updates::UpdateWaiters,
}

impl Executions {
    /// Opens the service over the store and rebuilds task queues and timers from it.
    pub fn open(
        committer: Committer,
        tokens: TokenKey,
        namespaces: Arc<Namespaces>,
    ) -> Result<Arc<Self>, ExecutionError> {
        let this = Arc::new(Self {
            committer,
            tokens,
            queues: TaskQueues::new(),
            timers: TimerWheel::new(),
            locks: StripedLocks::new(),
            watchers: HistoryWatchers::new(),
            queries: queries::PendingQueries::new(),
            namespaces,
            outbox: Outbox::new(),
            update_waiters: updates::UpdateWaiters::new(),
        });
        this.rebuild()?;
        Ok(this)
    }

    /// Starts firing durable timers and processing the outbox (child workflows); runs until
    /// `shutdown`.
    pub fn spawn_timer_driver(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let outbox = tokio::spawn(outbox::run(this.clone()));
            timers_driver::run(this).await;
            let _ = outbox.await;
        })
    }

    /// Wakes every long poll with an empty answer and stops the timer and outbox drivers.
    pub fn shutdown(&self) {
        self.queues.shutdown();
        self.timers.shutdown();
        self.outbox.shutdown();
    }

    /// Re-creates the in-memory queues and timer wheel from the stored index rows.
    fn rebuild(&self) -> Result<(), ExecutionError> {
        let store = self.committer.store();
        let mut tasks = 0usize;
        let mut outbox = 0usize;
        let mut timers = 0usize;
        for (key, value) in store.scan_prefix(Keyspace::Tasks, b"", usize::MAX)? {
            let (run, kind, scheduled_event_id, attempt) = keys::parse_task(&key)
                .map_err(|err| StoreError::malformed_key(Keyspace::Tasks, &key, err))?;
            if outbox::is_outbox_kind(kind) {
                let item = OutboxItem::decode(run, kind, scheduled_event_id, &key, &value)?;
                self.outbox.push(item);
                outbox += 1;
                continue;
            }
            let row = TaskRow::decode(value.as_slice())
                .map_err(|err| StoreError::decode(Keyspace::Tasks, &key, err))?;
            if row.sticky_schedule_to_start_ms > 0 {
                // The worker may be gone: give it its timeout again, then the normal queue.
                let fire_at = now_ms().saturating_add(row.sticky_schedule_to_start_ms);
                let due =
                    sticky_timeout(&run, &row.task_queue, fire_at, scheduled_event_id, attempt);
                self.timers.insert(fire_at, due);
                timers += 1;
            }
            let queue = QueueKey {
                namespace: run.namespace.clone(),
                name: row.task_queue,
                kind: queue_kind(kind),
            };
            self.queues.push(
                &queue,
                QueuedTask {
                    run,
                    scheduled_event_id,
                    attempt,
                    query_id: None,
                },
            );
            tasks += 1;
        }
        for (key, value) in store.scan_prefix(Keyspace::Timers, b"", usize::MAX)? {
            let timer = TimerTask::decode(value.as_slice())
                .map_err(|err| StoreError::decode(Keyspace::Timers, &key, err))?;
            let run = keys::parse_timer_run(&key)
                .map_err(|err| StoreError::malformed_key(Keyspace::Timers, &key, err))?;
            self.timers.insert(
                timer.fire_at_ms(),
                DueTimer {
                    run,
                    timer,
                    row: key,
                },
            );
            timers += 1;
        }
        tracing::info!(
            tasks,
            timers,
            outbox,
            "task queues, timers and outbox rebuilt from the store"
        );
        Ok(())
    }

    /// Loads the state of `run`.
    fn load(&self, run: &RunKey) -> Result<Option<MutableState>, ExecutionError> {
        let key = keys::state(run);
        let Some(bytes) = self.committer.store().get(Keyspace::Executions, &key)? else {
            return Ok(None);
        };
        let state = MutableState::decode(bytes.as_slice())
            .map_err(|err| StoreError::decode(Keyspace::Executions, &key, err))?;
        Ok(Some(state))
    }

    /// The current run id of a workflow id.
    fn current_run_id(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> Result<Option<String>, ExecutionError> {
        let key = keys::current_run(namespace, workflow_id);
        Ok(self
            .committer
            .store()
            .get(Keyspace::Executions, &key)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Resolves an execution reference (empty run id = the current run).
    fn resolve(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<RunKey, ExecutionError> {
        if workflow_id.is_empty() {
            return Err(ExecutionError::InvalidArgument(
                "workflow_id is required".into(),
            ));
        }
        if !run_id.is_empty() {
            return Ok(RunKey::new(namespace, workflow_id, run_id));
        }
        let run_id = self
            .current_run_id(namespace, workflow_id)?
            .ok_or_else(|| ExecutionError::NotFound(format!("{workflow_id:?}")))?;
        Ok(RunKey::new(namespace, workflow_id, &run_id))
    }

    /// Applies `change` to the stored state of `run` under its lock and commits the result with
    /// `extra` (rows consumed by this change). Nothing is stored when `change` fails.
    /// A change that leaves the state as it was writes only `extra`.
    async fn mutate<R>(
        &self,
        run: &RunKey,
        extra: WriteBatch,
        change: impl FnOnce(&mut MutableState, i64) -> Result<(Transition, R), EngineError>,
    ) -> Result<(MutableState, R), ExecutionError> {
        let (state, result, unwritten) = self.mutate_unless_unchanged(run, extra, change).await?;
        if let Some(extra) = unwritten.filter(|extra| !extra.is_empty()) {
            self.committer.commit(extra).await?;
        }
        Ok((state, result))
    }

    /// Like [`Executions::mutate`], but a change that leaves the state as it was writes
    /// nothing at all and hands `extra` back (unwritten) for the caller to deal with.
    async fn mutate_unless_unchanged<R>(
        &self,
        run: &RunKey,
        extra: WriteBatch,
        change: impl FnOnce(&mut MutableState, i64) -> Result<(Transition, R), EngineError>,
    ) -> Result<(MutableState, R, Option<WriteBatch>), ExecutionError> {
        let _guard = self.locks.lock(&run.namespace, &run.workflow_id).await;
        let mut state = self.load(run)?.ok_or_else(|| {
            ExecutionError::NotFound(format!("{:?} run {:?}", run.workflow_id, run.run_id))
        })?;
        let (transition, extra_result) = change(&mut state, now_ms())?;
        if transition.unchanged {
            return Ok((state, extra_result, Some(extra)));
        }
        self.commit_transition(run, &state, transition, extra, false)
            .await?;
        Ok((state, extra_result, None))
    }

    /// Records a dequeued task as started (`started` is the engine transition) and consumes its
    /// Tasks row in the same batch. A task that turned out stale (run gone or closed, task
    /// already started or superseded) has its row deleted and yields None.
    async fn claim_task(
        &self,
        task: &QueuedTask,
        kind: u8,
        started: impl FnOnce(&mut MutableState, i64, i32, i64) -> Result<Transition, EngineError>,
    ) -> Result<Option<MutableState>, ExecutionError> {
        let row = keys::task(&task.run, kind, task.scheduled_event_id, task.attempt);
        let mut consumed = WriteBatch::default();
        consumed.delete(Keyspace::Tasks, row.clone());
        let (scheduled, attempt) = (task.scheduled_event_id, task.attempt);
        let outcome = self
            .mutate(&task.run, consumed, |state, now| {
                started(state, scheduled, attempt, now).map(|t| (t, ()))
            })
            .await;
        match outcome {
            Ok((state, ())) => Ok(Some(state)),
            Err(
                ExecutionError::NotFound(_)
                | ExecutionError::Engine(EngineError::NotFound(_) | EngineError::WorkflowClosed),
            ) => {
                self.forget_row(Keyspace::Tasks, row).await;
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Writes state + events + index rows in one batch, flushes, then applies the effects. A
    /// continue-as-new ([`Effect::StartRun`]) starts the new run in the same batch.
    async fn commit_transition(
        &self,
        run: &RunKey,
        state: &MutableState,
        transition: Transition,
        mut batch: WriteBatch,
        new_run: bool,
    ) -> Result<(), ExecutionError> {
        let mut staged = Vec::new();
        self.stage(&mut batch, run, state, &transition, new_run, &mut staged)?;
        self.committer.commit(batch).await?;
        // Durable: now the world may learn about it.
        for staged in staged {
            self.publish(staged);
        }
        Ok(())
    }

    /// Adds the rows of one run's transition (and of any run it starts) to `batch`; collects
    /// what to do once the batch is durable.
    fn stage(
        &self,
        batch: &mut WriteBatch,
        run: &RunKey,
        state: &MutableState,
        transition: &Transition,
        new_run: bool,
        staged: &mut Vec<Staged>,
    ) -> Result<(), ExecutionError> {
        batch.put(
            Keyspace::Executions,
            keys::state(run),
            state.encode_to_vec(),
        );
        batch.put(
            Keyspace::Visibility,
            visibility::row_key(&run.namespace, state.start_time_ms(), &run.run_id),
            visibility::row_value(&state.execution_info()),
        );
        if new_run {
            batch.put(
                Keyspace::Executions,
                keys::current_run(&run.namespace, &run.workflow_id),
                run.run_id.as_bytes().to_vec(),
            );
        }
        for event in &transition.events {
            batch.put(
                Keyspace::History,
                keys::event(run, event.event_id),
                event.encode_to_vec(),
            );
        }
        let mut out = Staged {
            run: run.clone(),
            queued: Vec::new(),
            timers: Vec::new(),
            outbox: Vec::new(),
            updates: Vec::new(),
            progress: (!transition.events.is_empty()).then(|| Progress {
                next_event_id: state.next_event_id(),
                closed: state.is_closed(),
            }),
        };
        if transition
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Closed))
        {
            let timer = self.retention_timer(run, state.close_time_ms());
            out.timers.push(self.stage_timer(batch, run, timer));
        }
        let mut new_runs = Vec::new();
        for (index, effect) in transition.effects.iter().enumerate() {
            match effect {
                Effect::WorkflowTask {
                    task_queue,
                    scheduled_event_id,
                    attempt,
                } => {
                    let sticky = state.pending_workflow_task().filter(|task| {
                        task.sticky
                            && task.scheduled_event_id == *scheduled_event_id
                            && task.attempt == *attempt
                    });
                    let row = TaskRow {
                        task_queue: task_queue.clone(),
                        sticky_schedule_to_start_ms: sticky
                            .map_or(0, |task| task.schedule_to_start_ms),
                    };
                    if let Some(task) = sticky {
                        let fire_at = task.sticky_deadline_ms();
                        out.timers.push(sticky_timeout(
                            run,
                            task_queue,
                            fire_at,
                            *scheduled_event_id,
                            *attempt,
                        ));
                    }
                    out.queued.push(self.stage_task(
                        batch,
                        run,
                        TASK_WORKFLOW,
                        row,
                        *scheduled_event_id,
                        *attempt,
                    ));
                }
                Effect::ActivityTask {
                    task_queue,
                    scheduled_event_id,
                    attempt,
                } => {
                    let row = TaskRow {
                        task_queue: task_queue.clone(),
                        sticky_schedule_to_start_ms: 0,
                    };
                    out.queued.push(self.stage_task(
                        batch,
                        run,
                        TASK_ACTIVITY,
                        row,
                        *scheduled_event_id,
                        *attempt,
                    ));
                }
                Effect::Timer(timer) => {
                    out.timers.push(self.stage_timer(batch, run, timer.clone()));
                }
                Effect::Closed => {}
                Effect::StartRun(new) => new_runs.push(new),
                Effect::StartChild { initiated_event_id } => {
                    let row = keys::task(run, outbox::TASK_START_CHILD, *initiated_event_id, 0);
                    batch.put(Keyspace::Tasks, row.clone(), Vec::new());
                    out.outbox.push(OutboxItem::StartChild {
                        parent: run.clone(),
                        initiated_event_id: *initiated_event_id,
                        row,
                    });
                }
                Effect::External { initiated_event_id } => {
                    let row = keys::task(run, outbox::TASK_EXTERNAL, *initiated_event_id, 0);
                    batch.put(Keyspace::Tasks, row.clone(), Vec::new());
                    out.outbox.push(OutboxItem::External {
                        issuer: run.clone(),
                        initiated_event_id: *initiated_event_id,
                        row,
                    });
                }
                Effect::NotifyParent(completion) => {
                    let row = keys::task(run, outbox::TASK_NOTIFY_PARENT, 0, 0);
                    batch.put(Keyspace::Tasks, row.clone(), completion.encode_to_vec());
                    out.outbox.push(OutboxItem::NotifyParent {
                        completion: completion.clone(),
                        row,
                    });
                }
                Effect::Update(change) => out.updates.push((**change).clone()),
                Effect::ParentClosePolicy(action) => {
                    let index = i64::try_from(index).unwrap_or(i64::MAX);
                    let row = keys::task(run, outbox::TASK_PARENT_CLOSE, index, 0);
                    batch.put(Keyspace::Tasks, row.clone(), action.encode_to_vec());
                    out.outbox.push(OutboxItem::ParentClose {
                        action: action.clone(),
                        row,
                    });
                }
            }
        }
        staged.push(out);
        for new in new_runs {
            let (new_state, new_transition) = engine::start_run(
                &new.request,
                &new.run_id,
                &new.lineage,
                state.close_time_ms(),
            )?;
            let new_key = RunKey::new(&run.namespace, &run.workflow_id, &new.run_id);
            self.stage(batch, &new_key, &new_state, &new_transition, true, staged)?;
        }
        Ok(())
    }

    /// Writes the Tasks row of a workflow or activity task; returns its queue entry.
    fn stage_task(
        &self,
        batch: &mut WriteBatch,
        run: &RunKey,
        kind: u8,
        row: TaskRow,
        scheduled_event_id: i64,
        attempt: i32,
    ) -> (QueueKey, QueuedTask) {
        let queue = QueueKey {
            namespace: run.namespace.clone(),
            name: row.task_queue.clone(),
            kind: queue_kind(kind),
        };
        batch.put(
            Keyspace::Tasks,
            keys::task(run, kind, scheduled_event_id, attempt),
            row.encode_to_vec(),
        );
        let task = QueuedTask {
            run: run.clone(),
            scheduled_event_id,
            attempt,
            query_id: None,
        };
        (queue, task)
    }

    fn stage_timer(&self, batch: &mut WriteBatch, run: &RunKey, timer: TimerTask) -> DueTimer {
        let encoded = timer.encode_to_vec();
        let row = keys::timer(timer.fire_at_ms(), run, &encoded);
        batch.put(Keyspace::Timers, row.clone(), encoded);
        DueTimer {
            run: run.clone(),
            timer,
            row,
        }
    }

    /// Hands a committed transition's effects to the queues, the timer wheel, the outbox and
    /// the history long polls.
    fn publish(&self, staged: Staged) {
        for (queue, task) in staged.queued {
            self.queues.push(&queue, task);
        }
        for due in staged.timers {
            self.timers.insert(due.timer.fire_at_ms(), due);
        }
        for item in staged.outbox {
            self.outbox.push(item);
        }
        if let Some(progress) = staged.progress {
            self.watchers.publish(&staged.run, progress);
        }
        for change in &staged.updates {
            self.publish_update(&staged.run, change);
        }
    }
}

/// What a staged transition does once its batch is durable.
struct Staged {
    run: RunKey,
    queued: Vec<(QueueKey, QueuedTask)>,
    timers: Vec<DueTimer>,
    outbox: Vec<OutboxItem>,
    updates: Vec<engine::UpdateChange>,
    progress: Option<Progress>,
}

/// The queue kind of a Tasks row kind.
fn queue_kind(kind: u8) -> QueueKind {
    if kind == TASK_ACTIVITY {
        QueueKind::Activity
    } else {
        QueueKind::Workflow
    }
}

/// The in-memory schedule-to-start timer of a workflow task on a sticky queue (no row: it is
/// derived from the task's Tasks row).
/// `timer_id` names the sticky queue (in-memory only: such a timer is never stored).
fn sticky_timeout(
    run: &RunKey,
    sticky_queue: &str,
    fire_at: i64,
    scheduled_event_id: i64,
    attempt: i32,
) -> DueTimer {
    let mut timer = TimerTask::new(
        engine::TimerKind::WorkflowTaskScheduleToStart,
        fire_at,
        scheduled_event_id,
        attempt,
    );
    timer.timer_id = sticky_queue.to_string();
    DueTimer {
        run: run.clone(),
        timer,
        row: Vec::new(),
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How long task-queue long polls wait before answering empty.
pub fn workflow_tasks_long_poll() -> std::time::Duration {
    workflow_tasks::LONG_POLL
}
