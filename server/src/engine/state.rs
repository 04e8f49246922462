//! The durable state of one workflow run: everything a transition needs, so that no transition
//! ever re-reads history. Stored by the caller as protobuf (our own messages, not Temporal's
//! persistence protos). Maps are `BTreeMap`s so the encoding is deterministic.

use std::collections::BTreeMap;

use prost_wkt_types::{Duration, Timestamp};
use temporalio_protos::temporal::api::{
    command::v1::StartChildWorkflowExecutionCommandAttributes,
    common::v1::{
        ActivityType, Header, Payload, Payloads, Priority, RetryPolicy, WorkflowExecution,
        WorkflowType,
    },
    enums::v1::WorkflowExecutionStatus,
    failure::v1::Failure,
    history::v1::HistoryEvent,
};

use super::{
    EngineError, ExternalRequest, RestartInfo,
    time::{lenient_ms, ms},
    update::UpdateInfo,
};

/// Durable state of one workflow run.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MutableState {
    #[prost(string, tag = "1")]
    pub(in crate::engine) namespace: String,
    #[prost(string, tag = "2")]
    pub(in crate::engine) workflow_id: String,
    #[prost(string, tag = "3")]
    pub(in crate::engine) run_id: String,
    #[prost(string, tag = "4")]
    pub(in crate::engine) workflow_type: String,
    /// The normal task queue of the workflow.
    #[prost(string, tag = "5")]
    pub(in crate::engine) task_queue: String,
    /// A `WorkflowExecutionStatus`.
    #[prost(int32, tag = "6")]
    pub(in crate::engine) status: i32,
    #[prost(int64, tag = "7")]
    pub(in crate::engine) next_event_id: i64,
    #[prost(string, tag = "8")]
    pub(in crate::engine) start_request_id: String,
    #[prost(int64, tag = "9")]
    pub(in crate::engine) start_time_ms: i64,
    #[prost(int64, tag = "10")]
    pub(in crate::engine) close_time_ms: i64,
    #[prost(int64, tag = "11")]
    pub(in crate::engine) workflow_task_timeout_ms: i64,
    /// 0 = no run timeout.
    #[prost(int64, tag = "12")]
    pub(in crate::engine) run_timeout_ms: i64,
    /// 0 = no execution timeout.
    #[prost(int64, tag = "13")]
    pub(in crate::engine) execution_timeout_ms: i64,
    #[prost(int64, tag = "14")]
    pub(in crate::engine) previous_started_event_id: i64,
    #[prost(message, optional, tag = "15")]
    pub(in crate::engine) workflow_task: Option<WorkflowTaskInfo>,
    /// Pending activities by scheduled event id.
    #[prost(btree_map = "int64, message", tag = "16")]
    pub(in crate::engine) activities: BTreeMap<i64, ActivityInfo>,
    /// Pending user timers by timer id.
    #[prost(btree_map = "string, message", tag = "17")]
    pub(in crate::engine) timers: BTreeMap<String, TimerInfo>,
    /// Events that arrived while a workflow task was started; `event_id` is 0 until flushed.
    #[prost(message, repeated, tag = "18")]
    pub(in crate::engine) buffered_events: Vec<HistoryEvent>,
    #[prost(btree_map = "string, message", tag = "19")]
    pub(in crate::engine) memo: BTreeMap<String, Payload>,
    #[prost(btree_map = "string, message", tag = "20")]
    pub(in crate::engine) search_attributes: BTreeMap<String, Payload>,
    /// The most recent signal request ids, oldest first, for deduplication.
    #[prost(string, repeated, tag = "21")]
    pub(in crate::engine) signal_request_ids: Vec<String>,
    #[prost(int64, tag = "22")]
    pub(in crate::engine) history_size_bytes: i64,
    #[prost(string, tag = "23")]
    pub(in crate::engine) first_execution_run_id: String,
    #[prost(int64, tag = "24")]
    pub(in crate::engine) state_transition_count: i64,
    #[prost(bool, tag = "25")]
    pub(in crate::engine) cancel_requested: bool,
    /// The parent of a child run (kept across continue-as-new); `None` for a top-level run.
    #[prost(message, optional, tag = "26")]
    pub(in crate::engine) parent: Option<ParentInfo>,
    /// The root of the run's parent chain (the run itself for a top-level run).
    #[prost(message, optional, tag = "27")]
    pub(in crate::engine) root: Option<WorkflowExecution>,
    /// Pending child workflows by initiated event id (until their close is recorded).
    #[prost(btree_map = "int64, message", tag = "28")]
    pub(in crate::engine) children: BTreeMap<i64, ChildInfo>,
    /// When the execution timeout (all runs) expires, unix ms; 0 = no execution timeout.
    #[prost(int64, tag = "29")]
    pub(in crate::engine) execution_expiration_ms: i64,
    /// The run this one continued (continue-as-new); empty for a first run.
    #[prost(string, tag = "30")]
    pub(in crate::engine) continued_execution_run_id: String,
    /// The ResetWorkflowExecution request id that created this run (reset idempotency);
    /// empty for a run that was not created by a reset. (Tags 40+ belong to reset.)
    #[prost(string, tag = "40")]
    pub(in crate::engine) reset_request_id: String,
    /// The run a reset of this run created; empty if it was never reset.
    #[prost(string, tag = "41")]
    pub(in crate::engine) reset_run_id: String,
    /// Workflow updates by update id: admitted ones until the workflow answers, accepted and
    /// completed ones for deduplication and polls (see `update/`).
    #[prost(btree_map = "string, message", tag = "31")]
    pub(in crate::engine) updates: BTreeMap<String, UpdateInfo>,
    /// How many updates were ever admitted to this run (orders deliveries).
    #[prost(int64, tag = "32")]
    pub(in crate::engine) updates_admitted: i64,
    /// How many speculative workflow tasks this run had (their generations).
    #[prost(int64, tag = "33")]
    pub(in crate::engine) speculative_tasks: i64,
    /// Unresolved signals / cancellation requests to other workflows, by initiated event id.
    #[prost(btree_map = "int64, message", tag = "42")]
    pub(in crate::engine) externals: BTreeMap<i64, ExternalRequest>,
    /// The run's attempt under the workflow retry policy, from 1 (0 in states written before
    /// workflow retries existed: read as 1).
    #[prost(int32, tag = "43")]
    pub(in crate::engine) attempt: i32,
    /// The workflow retry policy with defaults filled in; `None` = runs are not retried.
    #[prost(message, optional, tag = "44")]
    pub(in crate::engine) retry_policy: Option<RetryPolicy>,
    /// What the next run of a retried or cron chain needs; `None` for other runs.
    #[prost(message, optional, tag = "45")]
    pub(in crate::engine) restart: Option<RestartInfo>,
    /// When the first workflow task is (or was) due: start + first-task backoff, unix ms.
    #[prost(int64, tag = "46")]
    pub(in crate::engine) execution_time_ms: i64,
    /// True while the run waits out its first-task backoff (retry, cron, start delay).
    #[prost(bool, tag = "47")]
    pub(in crate::engine) first_task_backoff: bool,
    /// The worker's sticky task queue (from the last completed workflow task's
    /// `sticky_attributes`): the next workflow tasks go there with only the new events, until
    /// stickiness is cleared (a failed or timed-out task, ResetStickyTaskQueue). Empty = none.
    #[prost(string, tag = "60")]
    pub(in crate::engine) sticky_task_queue: String,
    /// How long a task may wait on the sticky queue before it moves to the normal one, ms.
    #[prost(int64, tag = "61")]
    pub(in crate::engine) sticky_schedule_to_start_ms: i64,
}

/// Where a child run's parent is, and which of its events initiated the child.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ParentInfo {
    /// The parent's namespace.
    #[prost(string, tag = "1")]
    pub namespace: String,
    /// The parent's workflow id.
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    /// The parent's run id.
    #[prost(string, tag = "3")]
    pub run_id: String,
    /// Id of the parent's `StartChildWorkflowExecutionInitiated` event.
    #[prost(int64, tag = "4")]
    pub initiated_event_id: i64,
}

impl ParentInfo {
    /// `WorkflowExecution { workflow_id, run_id }` of the parent.
    pub fn execution(&self) -> WorkflowExecution {
        WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
        }
    }
}

/// A child workflow the run initiated and whose close it has not recorded yet.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChildInfo {
    /// Id of its `StartChildWorkflowExecutionInitiated` event.
    #[prost(int64, tag = "1")]
    pub initiated_event_id: i64,
    /// Id of its `ChildWorkflowExecutionStarted` event; 0 until the child started (or while
    /// that event is buffered).
    #[prost(int64, tag = "2")]
    pub started_event_id: i64,
    /// The child's first run id, once started.
    #[prost(string, tag = "3")]
    pub run_id: String,
    /// True once the child run exists (its started event may still be buffered).
    #[prost(bool, tag = "4")]
    pub started: bool,
    /// The command that initiated it, with defaults filled in (task queue).
    #[prost(message, optional, tag = "5")]
    pub command: Option<StartChildWorkflowExecutionCommandAttributes>,
    /// The `WorkflowTaskCompleted` event of the task that initiated it.
    #[prost(int64, tag = "6")]
    pub workflow_task_completed_event_id: i64,
}

impl ChildInfo {
    /// The child's workflow id.
    pub fn workflow_id(&self) -> &str {
        self.command.as_ref().map_or("", |c| c.workflow_id.as_str())
    }

    /// The child's workflow type.
    pub fn workflow_type(&self) -> Option<WorkflowType> {
        self.command.as_ref().and_then(|c| c.workflow_type.clone())
    }

    /// The child's parent close policy (a `ParentClosePolicy`).
    pub fn parent_close_policy(&self) -> i32 {
        self.command.as_ref().map_or(0, |c| c.parent_close_policy)
    }
}

/// The pending workflow task (at most one per run).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkflowTaskInfo {
    /// Id of its `WorkflowTaskScheduled` event.
    #[prost(int64, tag = "1")]
    pub scheduled_event_id: i64,
    /// Id of its `WorkflowTaskStarted` event; 0 while not started.
    #[prost(int64, tag = "2")]
    pub started_event_id: i64,
    /// Attempt, from 1.
    #[prost(int32, tag = "3")]
    pub attempt: i32,
    /// The (normal) task queue it is dispatched on.
    #[prost(string, tag = "4")]
    pub task_queue: String,
    /// When it was scheduled.
    #[prost(message, optional, tag = "5")]
    pub scheduled_time: Option<Timestamp>,
    /// When it was started; `None` while not started.
    #[prost(message, optional, tag = "6")]
    pub started_time: Option<Timestamp>,
    /// The poll request id that started it.
    #[prost(string, tag = "7")]
    pub request_id: String,
    /// A speculative task (created for an update on an idle run): its Scheduled and Started
    /// events are not in history until it turns real; dropped if the worker only rejects.
    #[prost(bool, tag = "8")]
    pub speculative: bool,
    /// Identity of the worker that started it (a speculative task's Started event is written
    /// later, if at all).
    #[prost(string, tag = "9")]
    pub started_identity: String,
    /// 0, or for a speculative task its number in the run (1, 2, …): a dropped speculative
    /// task and its successor share ids and attempt, so tokens carry this to tell them apart.
    #[prost(int64, tag = "10")]
    pub generation: i64,
    /// Dispatched on the worker's sticky queue (`task_queue` is then that queue): the worker
    /// gets only the events after `previous_started_event_id`.
    #[prost(bool, tag = "11")]
    pub sticky: bool,
    /// For a sticky task: how long it may wait for the worker before it moves to the normal
    /// queue, ms.
    #[prost(int64, tag = "12")]
    pub schedule_to_start_ms: i64,
}

impl WorkflowTaskInfo {
    /// True once a worker picked the task up.
    pub fn is_started(&self) -> bool {
        self.started_event_id > 0
    }

    /// For a sticky task: when it stops waiting for the worker (scheduled time + its
    /// schedule-to-start timeout), unix ms.
    pub fn sticky_deadline_ms(&self) -> i64 {
        ms(self.scheduled_time.as_ref()).saturating_add(self.schedule_to_start_ms)
    }
}

/// A pending activity: everything a `PollActivityTaskQueueResponse` needs (same field names),
/// and the retry state. Timeouts are the derived ones; `None` means "no such timeout".
#[derive(Clone, PartialEq, prost::Message)]
pub struct ActivityInfo {
    /// Id of its `ActivityTaskScheduled` event.
    #[prost(int64, tag = "1")]
    pub scheduled_event_id: i64,
    /// The workflow-chosen activity id.
    #[prost(string, tag = "2")]
    pub activity_id: String,
    /// The activity type.
    #[prost(message, optional, tag = "3")]
    pub activity_type: Option<ActivityType>,
    /// The task queue it is dispatched on.
    #[prost(string, tag = "4")]
    pub task_queue: String,
    /// Its input.
    #[prost(message, optional, tag = "5")]
    pub input: Option<Payloads>,
    /// Its header.
    #[prost(message, optional, tag = "6")]
    pub header: Option<Header>,
    /// Schedule-to-close timeout (all attempts).
    #[prost(message, optional, tag = "7")]
    pub schedule_to_close_timeout: Option<Duration>,
    /// Schedule-to-start timeout (per attempt).
    #[prost(message, optional, tag = "8")]
    pub schedule_to_start_timeout: Option<Duration>,
    /// Start-to-close timeout (per attempt); always set.
    #[prost(message, optional, tag = "9")]
    pub start_to_close_timeout: Option<Duration>,
    /// Heartbeat timeout.
    #[prost(message, optional, tag = "10")]
    pub heartbeat_timeout: Option<Duration>,
    /// The retry policy with defaults filled in.
    #[prost(message, optional, tag = "11")]
    pub retry_policy: Option<RetryPolicy>,
    /// Current attempt, from 1.
    #[prost(int32, tag = "12")]
    pub attempt: i32,
    /// When the activity was first scheduled.
    #[prost(message, optional, tag = "13")]
    pub scheduled_time: Option<Timestamp>,
    /// When the current attempt was dispatched.
    #[prost(message, optional, tag = "14")]
    pub current_attempt_scheduled_time: Option<Timestamp>,
    /// When the current attempt was started; `None` while no worker holds it.
    #[prost(message, optional, tag = "15")]
    pub started_time: Option<Timestamp>,
    /// Identity of the worker that started the current (or last) attempt.
    #[prost(string, tag = "16")]
    pub started_identity: String,
    /// Poll request id that started the current attempt.
    #[prost(string, tag = "17")]
    pub started_request_id: String,
    /// Last heartbeat details, kept across attempts.
    #[prost(message, optional, tag = "18")]
    pub heartbeat_details: Option<Payloads>,
    /// Time of the last heartbeat of the current attempt.
    #[prost(message, optional, tag = "19")]
    pub last_heartbeat_time: Option<Timestamp>,
    /// The failure of the previous attempt.
    #[prost(message, optional, tag = "20")]
    pub last_failure: Option<Failure>,
    /// The workflow asked to cancel it; returned on the next heartbeat.
    #[prost(bool, tag = "21")]
    pub cancel_requested: bool,
    /// Id of the latest `ActivityTaskCancelRequested` event.
    #[prost(int64, tag = "22")]
    pub cancel_requested_event_id: i64,
    /// When the pending retry is due; `None` when not waiting for a retry.
    #[prost(message, optional, tag = "23")]
    pub next_attempt_schedule_time: Option<Timestamp>,
    /// The backoff before the current attempt.
    #[prost(message, optional, tag = "24")]
    pub current_retry_interval: Option<Duration>,
    /// When the previous attempt ended.
    #[prost(message, optional, tag = "25")]
    pub last_attempt_complete_time: Option<Timestamp>,
    /// The activity's priority, as scheduled.
    #[prost(message, optional, tag = "26")]
    pub priority: Option<Priority>,
}

impl ActivityInfo {
    /// True while the current attempt is held by a worker.
    pub fn is_started(&self) -> bool {
        self.started_time.is_some()
    }

    /// True while waiting for a retry backoff to elapse.
    pub fn is_backing_off(&self) -> bool {
        self.next_attempt_schedule_time.is_some()
    }

    pub(crate) fn started_ms(&self) -> i64 {
        ms(self.started_time.as_ref())
    }

    pub(crate) fn scheduled_ms(&self) -> i64 {
        ms(self.scheduled_time.as_ref())
    }

    pub(crate) fn last_heartbeat_ms(&self) -> i64 {
        ms(self.last_heartbeat_time.as_ref())
    }

    pub(crate) fn schedule_to_close_ms(&self) -> i64 {
        lenient_ms(self.schedule_to_close_timeout.as_ref())
    }

    pub(crate) fn schedule_to_start_ms(&self) -> i64 {
        lenient_ms(self.schedule_to_start_timeout.as_ref())
    }

    pub(crate) fn start_to_close_ms(&self) -> i64 {
        lenient_ms(self.start_to_close_timeout.as_ref())
    }

    pub(crate) fn heartbeat_ms(&self) -> i64 {
        lenient_ms(self.heartbeat_timeout.as_ref())
    }
}

/// A pending user timer.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TimerInfo {
    #[prost(string, tag = "1")]
    pub(crate) timer_id: String,
    #[prost(int64, tag = "2")]
    pub(crate) started_event_id: i64,
    #[prost(int64, tag = "3")]
    pub(crate) fire_at_ms: i64,
}

impl MutableState {
    /// The namespace name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The workflow id.
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// `WorkflowExecution { workflow_id, run_id }`.
    pub fn execution(&self) -> WorkflowExecution {
        WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
        }
    }

    /// The workflow type name.
    pub fn workflow_type(&self) -> &str {
        &self.workflow_type
    }

    /// The normal task queue of the workflow.
    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// The execution status.
    pub fn status(&self) -> WorkflowExecutionStatus {
        WorkflowExecutionStatus::try_from(self.status).unwrap_or(WorkflowExecutionStatus::Running)
    }

    /// True once a closing event was written.
    pub fn is_closed(&self) -> bool {
        self.status() != WorkflowExecutionStatus::Running
    }

    /// The id the next appended event will get (history length + 1).
    pub fn next_event_id(&self) -> i64 {
        self.next_event_id
    }

    /// The request id of the StartWorkflowExecution that created the run (idempotency).
    pub fn start_request_id(&self) -> &str {
        &self.start_request_id
    }

    /// Started event id of the last COMPLETED workflow task; 0 if none.
    pub fn previous_started_event_id(&self) -> i64 {
        self.previous_started_event_id
    }

    /// The parent of a child run.
    pub fn parent(&self) -> Option<&ParentInfo> {
        self.parent.as_ref()
    }

    /// The first run of this execution chain (continue-as-new keeps it).
    pub fn first_execution_run_id(&self) -> &str {
        &self.first_execution_run_id
    }

    /// The ResetWorkflowExecution request id that created this run; empty if no reset did.
    pub fn reset_request_id(&self) -> &str {
        &self.reset_request_id
    }

    /// The run a reset of this run created; empty if it was never reset.
    pub fn reset_run_id(&self) -> &str {
        &self.reset_run_id
    }

    /// The pending child initiated by event `initiated_event_id`, if any.
    pub fn pending_child(&self, initiated_event_id: i64) -> Option<&ChildInfo> {
        self.children.get(&initiated_event_id)
    }

    /// When the first workflow task is due (unix ms) while the run waits out its first-task
    /// backoff (retry, cron, start delay); `None` otherwise.
    pub fn first_task_due_ms(&self) -> Option<i64> {
        self.first_task_backoff.then_some(self.execution_time_ms)
    }

    /// The worker's sticky task queue, if stickiness is set.
    pub fn sticky_task_queue(&self) -> Option<&str> {
        (!self.sticky_task_queue.is_empty()).then_some(self.sticky_task_queue.as_str())
    }

    /// How long a task may wait on the sticky queue before it moves to the normal one, ms.
    pub fn sticky_schedule_to_start_ms(&self) -> i64 {
        self.sticky_schedule_to_start_ms
    }

    /// The pending workflow task, if any.
    pub fn pending_workflow_task(&self) -> Option<&WorkflowTaskInfo> {
        self.workflow_task.as_ref()
    }

    /// The pending activity scheduled by event `scheduled_event_id`, if any.
    pub fn pending_activity(&self, scheduled_event_id: i64) -> Option<&ActivityInfo> {
        self.activities.get(&scheduled_event_id)
    }

    /// All pending activities, by scheduled event id.
    pub fn pending_activities(&self) -> impl Iterator<Item = &ActivityInfo> {
        self.activities.values()
    }

    /// The run's start time, unix ms.
    pub fn start_time_ms(&self) -> i64 {
        self.start_time_ms
    }

    /// The run's close time, unix ms; 0 while running.
    pub fn close_time_ms(&self) -> i64 {
        self.close_time_ms
    }

    /// The workflow task start-to-close timeout, ms.
    pub fn workflow_task_timeout_ms(&self) -> i64 {
        self.workflow_task_timeout_ms
    }

    /// Sum of the encoded sizes of all history events so far.
    pub fn history_size_bytes(&self) -> i64 {
        self.history_size_bytes
    }

    /// True when a workflow task is started (new events are buffered).
    pub(crate) fn task_started(&self) -> bool {
        self.workflow_task
            .as_ref()
            .is_some_and(WorkflowTaskInfo::is_started)
    }

    pub(crate) fn ensure_running(&self) -> Result<(), EngineError> {
        if self.is_closed() {
            Err(EngineError::WorkflowClosed)
        } else {
            Ok(())
        }
    }

    /// The started workflow task matching the caller's token, or NotFound.
    pub(crate) fn started_task(
        &self,
        scheduled_event_id: i64,
        started_event_id: i64,
        attempt: i32,
    ) -> Result<&WorkflowTaskInfo, EngineError> {
        match &self.workflow_task {
            Some(task)
                if !self.is_closed()
                    && task.is_started()
                    && task.scheduled_event_id == scheduled_event_id
                    && task.started_event_id == started_event_id
                    && task.attempt == attempt =>
            {
                Ok(task)
            }
            _ => Err(EngineError::not_found(format!(
                "workflow task {scheduled_event_id}/{started_event_id} attempt {attempt} \
                 not found: it already completed, failed or timed out"
            ))),
        }
    }

    /// The started activity attempt matching the caller's token, or NotFound.
    pub(crate) fn started_activity(
        &self,
        scheduled_event_id: i64,
        attempt: i32,
    ) -> Result<&ActivityInfo, EngineError> {
        match self.activities.get(&scheduled_event_id) {
            Some(info) if !self.is_closed() && info.attempt == attempt && info.is_started() => {
                Ok(info)
            }
            _ => Err(EngineError::not_found(format!(
                "activity task {scheduled_event_id} attempt {attempt} not found: it already \
                 completed, failed, timed out or was retried"
            ))),
        }
    }
}
