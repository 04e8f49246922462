//! The transaction every entry point runs in: it numbers events, buffers the ones that arrive
//! while a workflow task is started, schedules workflow tasks, closes the run and collects
//! effects. `transact` runs it on a copy of the state that replaces the original only on
//! success, so an `Err` leaves the caller's state untouched by construction.

use std::collections::BTreeMap;

use prost::Message;
use temporalio_protos::temporal::api::{
    enums::v1::{WorkflowExecutionStatus, WorkflowTaskFailedCause},
    failure::v1::{Failure, ServerFailureInfo, failure::FailureInfo},
    history::v1::{HistoryEvent, WorkflowTaskFailedEventAttributes, history_event::Attributes},
};

use super::{
    ChildCompletion, Effect, EngineError, MutableState, NewRun, ParentCloseAction, TimerTask,
    Transition, WorkflowTaskInfo,
    events::{
        activity_final_scheduled_id, child_close_initiated_id, event_type, set_activity_started_id,
        set_child_started_id,
    },
    time::timestamp,
    update, workflow_task,
};

/// Identity the server records on events it writes on its own behalf.
pub(crate) const SERVER_IDENTITY: &str = "lockstep-server";

/// Runs `f` on a copy of `state`; on success the copy replaces `state`.
pub(crate) fn transact<T>(
    state: &mut MutableState,
    now: i64,
    f: impl FnOnce(&mut Apply<'_>) -> Result<T, EngineError>,
) -> Result<(Transition, T), EngineError> {
    let mut next = state.clone();
    let mut cx = Apply {
        state: &mut next,
        now,
        events: Vec::new(),
        effects: Vec::new(),
    };
    let out = f(&mut cx)?;
    let mut transition = Transition {
        events: cx.events,
        effects: cx.effects,
        unchanged: false,
    };
    if transition.is_empty() {
        // Comparing costs little next to the write it can save.
        transition.unchanged = next == *state;
    } else {
        next.state_transition_count = next.state_transition_count.saturating_add(1);
    }
    *state = next;
    Ok((transition, out))
}

/// The mutable context of one transition.
pub(crate) struct Apply<'a> {
    pub(crate) state: &'a mut MutableState,
    pub(crate) now: i64,
    events: Vec<HistoryEvent>,
    effects: Vec<Effect>,
}

impl Apply<'_> {
    /// Appends an event now, with the next id; returns that id. A speculative workflow task
    /// turns real first, so its events keep the ids the worker was given.
    pub(crate) fn append(&mut self, attributes: Attributes) -> i64 {
        self.materialize_speculative();
        let event = self.event(attributes);
        self.push_numbered(event)
    }

    /// Appends an event, or buffers it when a workflow task is started (it then gets its id
    /// when the task's outcome is written).
    pub(crate) fn record(&mut self, attributes: Attributes) {
        self.materialize_speculative();
        if self.state.task_started() {
            let event = self.event(attributes);
            self.state.buffered_events.push(event);
        } else {
            self.append(attributes);
        }
    }

    /// Appends the buffered events; true if there were any. An activity's final event whose
    /// started event was buffered too gets that started event's id.
    pub(crate) fn flush_buffered(&mut self) -> bool {
        let buffered = std::mem::take(&mut self.state.buffered_events);
        let flushed = !buffered.is_empty();
        let mut started_ids: BTreeMap<i64, i64> = BTreeMap::new();
        let mut child_started_ids: BTreeMap<i64, i64> = BTreeMap::new();
        for mut event in buffered {
            if let Some(attributes) = event.attributes.as_mut() {
                if let Attributes::ActivityTaskStartedEventAttributes(a) = attributes {
                    started_ids.insert(a.scheduled_event_id, self.state.next_event_id);
                } else if let Some(scheduled) = activity_final_scheduled_id(attributes)
                    && let Some(started) = started_ids.get(&scheduled)
                {
                    set_activity_started_id(attributes, *started);
                } else if let Attributes::ChildWorkflowExecutionStartedEventAttributes(a) =
                    attributes
                {
                    let id = self.state.next_event_id;
                    child_started_ids.insert(a.initiated_event_id, id);
                    if let Some(child) = self.state.children.get_mut(&a.initiated_event_id) {
                        child.started_event_id = id;
                    }
                } else if let Some(initiated) = child_close_initiated_id(attributes)
                    && let Some(started) = child_started_ids.get(&initiated)
                {
                    set_child_started_id(attributes, *started);
                }
            }
            self.push_numbered(event);
        }
        flushed
    }

    /// Schedules a workflow task unless one is pending; returns the pending task's scheduled id.
    pub(crate) fn schedule_workflow_task(&mut self, attempt: i32) -> i64 {
        if let Some(task) = &self.state.workflow_task {
            return task.scheduled_event_id;
        }
        self.state.first_task_backoff = false;
        let mut task = self.new_task(self.state.next_event_id, attempt);
        let scheduled_event_id = self.append(workflow_task::scheduled_attributes(
            self.state,
            &task.task_queue,
            task.sticky,
            attempt,
        ));
        task.scheduled_event_id = scheduled_event_id;
        self.dispatch(task);
        scheduled_event_id
    }

    /// A new (not yet dispatched) workflow task scheduled now: on the worker's sticky queue
    /// while stickiness is set, else on the normal queue.
    pub(crate) fn new_task(&self, scheduled_event_id: i64, attempt: i32) -> WorkflowTaskInfo {
        let (task_queue, sticky) = match self.state.sticky_task_queue() {
            Some(sticky) => (sticky.to_string(), true),
            None => (self.state.task_queue.clone(), false),
        };
        WorkflowTaskInfo {
            scheduled_event_id,
            attempt,
            task_queue,
            sticky,
            schedule_to_start_ms: if sticky {
                self.state.sticky_schedule_to_start_ms
            } else {
                0
            },
            scheduled_time: Some(timestamp(self.now)),
            ..Default::default()
        }
    }

    /// Makes `task` the pending workflow task and enqueues it.
    pub(crate) fn dispatch(&mut self, task: WorkflowTaskInfo) {
        self.effect(Effect::WorkflowTask {
            task_queue: task.task_queue.clone(),
            scheduled_event_id: task.scheduled_event_id,
            attempt: task.attempt,
        });
        self.state.workflow_task = Some(task);
    }

    /// Forgets the worker's sticky queue: later tasks go to the normal queue, full history.
    pub(crate) fn clear_stickiness(&mut self) {
        self.state.sticky_task_queue.clear();
        self.state.sticky_schedule_to_start_ms = 0;
    }

    /// Makes sure a workflow task will see the events just recorded.
    pub(crate) fn ensure_workflow_task(&mut self) {
        self.schedule_workflow_task(1);
    }

    /// Adds an effect.
    pub(crate) fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// Arms a timer.
    pub(crate) fn timer(&mut self, timer: TimerTask) {
        self.effects.push(Effect::Timer(timer));
    }

    /// Writes the closing event and closes the run: pending work is abandoned, and every effect
    /// of this transition but update wake-ups is replaced by [`Effect::Closed`], the parent
    /// close policies of the
    /// open children and, for a child run that did not continue as new, the notification of
    /// its parent (nothing else may follow a close).
    pub(crate) fn close(&mut self, status: WorkflowExecutionStatus, attributes: Attributes) {
        self.append(attributes);
        let close_event = self.events.last().cloned();
        self.state.status = status as i32;
        self.state.close_time_ms = self.now;
        self.state.workflow_task = None;
        self.state.activities.clear();
        self.state.timers.clear();
        self.state.externals.clear();
        self.state.buffered_events.clear();
        self.clear_stickiness();
        // Updates answered earlier in this transition still wake their waiters.
        self.effects.retain(|e| matches!(e, Effect::Update(_)));
        self.effects.push(Effect::Closed);
        let children = std::mem::take(&mut self.state.children);
        for child in children.into_values() {
            if let Some(action) = ParentCloseAction::for_child(self.state, &child) {
                self.effects
                    .push(Effect::ParentClosePolicy(Box::new(action)));
            }
        }
        if status != WorkflowExecutionStatus::ContinuedAsNew
            && let Some(parent) = self.state.parent.clone()
        {
            self.effects
                .push(Effect::NotifyParent(Box::new(ChildCompletion::new(
                    self.state,
                    parent,
                    close_event,
                ))));
        }
        let aborted = update::abort_admitted(self.state);
        self.effects.extend(aborted);
    }

    /// Writes the `WorkflowTaskScheduled` (and, once started, `WorkflowTaskStarted`) events of
    /// a speculative workflow task, which then is an ordinary one. Their ids are the ones the
    /// task was created with: nothing is appended while a task is speculative.
    pub(crate) fn materialize_speculative(&mut self) {
        let Some(task) = self.state.workflow_task.as_mut().filter(|t| t.speculative) else {
            return;
        };
        task.speculative = false;
        let task = task.clone();
        // A real workflow task ends a first-task backoff, as one scheduled by the backoff does.
        self.state.first_task_backoff = false;
        let (scheduled, started) = update::speculative_events(self.state, &task);
        debug_assert_eq!(scheduled.event_id, self.state.next_event_id);
        self.push_numbered(scheduled);
        if let Some(started) = started {
            self.push_numbered(started);
        }
    }

    /// After [`Apply::close`] or [`Apply::force_close`]: the chain goes on with `next`, started
    /// in the same batch (retry, cron). The parent hears of the chain's close only when its
    /// last run closes, as with continue-as-new.
    pub(crate) fn continue_with(&mut self, next: NewRun) {
        self.effects
            .retain(|effect| !matches!(effect, Effect::NotifyParent(_)));
        self.effects.push(Effect::StartRun(Box::new(next)));
    }

    /// Closes the run from outside a workflow task (timeout, terminate): a started workflow
    /// task is failed first (FORCE_CLOSE_COMMAND) and buffered events are flushed, so the
    /// history keeps its Scheduled → Started → Failed shape.
    pub(crate) fn force_close(&mut self, status: WorkflowExecutionStatus, attributes: Attributes) {
        // A speculative task nobody picked up yet never reaches history (Temporal drops it).
        if self
            .state
            .workflow_task
            .as_ref()
            .is_some_and(|task| task.speculative && !task.is_started())
        {
            self.state.workflow_task = None;
        }
        self.materialize_speculative();
        if let Some(task) = self.state.workflow_task.clone()
            && task.is_started()
        {
            self.state.workflow_task = None;
            self.append(Attributes::WorkflowTaskFailedEventAttributes(
                WorkflowTaskFailedEventAttributes {
                    scheduled_event_id: task.scheduled_event_id,
                    started_event_id: task.started_event_id,
                    cause: WorkflowTaskFailedCause::ForceCloseCommand as i32,
                    failure: Some(server_failure("the workflow execution was closed")),
                    identity: SERVER_IDENTITY.to_string(),
                    ..Default::default()
                },
            ));
            self.flush_buffered();
        }
        self.close(status, attributes);
    }

    fn event(&self, attributes: Attributes) -> HistoryEvent {
        HistoryEvent {
            event_id: 0,
            event_time: Some(timestamp(self.now)),
            event_type: event_type(&attributes) as i32,
            attributes: Some(attributes),
            ..Default::default()
        }
    }

    fn push_numbered(&mut self, mut event: HistoryEvent) -> i64 {
        let id = self.state.next_event_id;
        event.event_id = id;
        self.state.next_event_id = id.saturating_add(1);
        let size = i64::try_from(event.encoded_len()).unwrap_or(i64::MAX);
        self.state.history_size_bytes = self.state.history_size_bytes.saturating_add(size);
        self.events.push(event);
        id
    }
}

/// A failure raised by the server itself.
pub(crate) fn server_failure(message: &str) -> Failure {
    Failure {
        message: message.to_string(),
        source: "Lockstep".to_string(),
        failure_info: Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
            non_retryable: false,
        })),
        ..Default::default()
    }
}
