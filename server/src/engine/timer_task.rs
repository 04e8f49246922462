//! Durable timers: what the caller stores (Timers keyspace) and hands back to
//! [`fire_timer`](super::fire_timer) once `fire_at` has passed.
//!
//! A timer never needs to be deleted: when it fires, the engine checks it against the state
//! and ignores it if it no longer applies (the activity finished, the attempt moved on, a
//! heartbeat arrived since, the task completed, the run closed).

/// What a [`TimerTask`] is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TimerKind {
    /// Never produced; the protobuf default.
    Unspecified = 0,
    /// A workflow `StartTimer`: `event_id` is the TimerStarted event, `timer_id` its id.
    UserTimer = 1,
    /// Workflow task start-to-close timeout: `event_id` = scheduled event, `attempt`.
    WorkflowTaskStartToClose = 2,
    /// Activity attempt not picked up in time: `event_id` = scheduled event, `attempt`.
    ActivityScheduleToStart = 3,
    /// Activity attempt ran too long: `event_id` = scheduled event, `attempt`.
    ActivityStartToClose = 4,
    /// Activity attempt stopped heartbeating: `event_id` = scheduled event, `attempt`. When it
    /// fires early because a heartbeat arrived since, it is re-armed for the new deadline.
    ActivityHeartbeat = 5,
    /// The activity (all attempts) ran too long: `event_id` = scheduled event.
    ActivityScheduleToClose = 6,
    /// The backoff before a retry elapsed: `event_id` = scheduled event, `attempt` = the
    /// attempt to dispatch.
    ActivityRetry = 7,
    /// The run timeout of the workflow.
    WorkflowRunTimeout = 8,
    /// The execution timeout of the workflow (all runs).
    WorkflowExecutionTimeout = 9,
    /// The closed run's retention period ended: the caller deletes the run. The engine itself
    /// ignores it.
    Retention = 10,
    /// The first-task backoff of a retried, cron or delayed run elapsed: schedule its first
    /// workflow task.
    WorkflowBackoff = 11,
    /// A workflow task waited too long on the worker's sticky queue: `event_id` = scheduled
    /// event, `attempt`. Not stored: it is derived from the task's Tasks row (re-armed at
    /// start-up), so it costs no write.
    WorkflowTaskScheduleToStart = 12,
}

impl TimerKind {
    /// False for timers kept only in memory (re-derived from other rows at start-up).
    pub fn is_durable(self) -> bool {
        self != TimerKind::WorkflowTaskScheduleToStart
    }
}

/// A durable timer of one run. Prost-encodable because the caller stores it.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct TimerTask {
    /// When to fire, unix milliseconds.
    #[prost(int64, tag = "1")]
    pub fire_at: i64,
    /// What the timer is for ([`TimerKind`]).
    #[prost(enumeration = "TimerKind", tag = "2")]
    pub kind: i32,
    /// The scheduled event id (tasks, activities) or the TimerStarted event id (user timers);
    /// 0 for workflow timeouts.
    #[prost(int64, tag = "3")]
    pub event_id: i64,
    /// The attempt the timer belongs to; 0 when not attempt-specific.
    #[prost(int32, tag = "4")]
    pub attempt: i32,
    /// The workflow's timer id, for user timers; the sticky queue, for the (never stored)
    /// `WorkflowTaskScheduleToStart` timers.
    #[prost(string, tag = "5")]
    pub timer_id: String,
}

impl TimerTask {
    /// A timer of `kind` at `fire_at` for event `event_id`, attempt `attempt`.
    pub fn new(kind: TimerKind, fire_at: i64, event_id: i64, attempt: i32) -> Self {
        TimerTask {
            fire_at,
            kind: kind as i32,
            event_id,
            attempt,
            timer_id: String::new(),
        }
    }

    /// The timer that deletes a closed run at `fire_at`.
    pub fn retention(fire_at: i64) -> Self {
        TimerTask::new(TimerKind::Retention, fire_at, 0, 0)
    }

    /// When to fire, unix milliseconds (the storage key's time component).
    pub fn fire_at_ms(&self) -> i64 {
        self.fire_at
    }
}
