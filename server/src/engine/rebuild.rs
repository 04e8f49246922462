//! Rebuilding a run's [`MutableState`] from its history, event by event, as the transitions
//! that wrote those events left it. A reset builds its new run this way from the base run's
//! prefix (`reset.rs`).
//!
//! History records everything a transition decides except (see [`history_view`]):
//! - the attempt-level state of activities (retries are invisible in history: attempt, last
//!   failure, backoff, heartbeats); a rebuilt activity is at attempt 1, as Temporal's state
//!   rebuilder leaves it;
//! - events still buffered behind a started workflow task, and `state_transition_count`;
//! - updates a client admitted and the workflow has not accepted (Temporal keeps them in
//!   memory, we in the state; only their acceptance is written) and the admission counter that
//!   orders their delivery; a speculative workflow task that has not turned real, the count of
//!   speculative tasks and the generation of the pending task (task tokens name the run, so a
//!   rebuilt run may number its speculative tasks afresh);
//! - what a reset keeps outside the runs' histories: the reset request id of the run it
//!   created and the new run's id on the base run;
//! - stickiness: the worker's sticky queue and its schedule-to-start timeout come with its
//!   completion request, so a rebuilt run is not sticky (as Temporal's rebuilder leaves it)
//!   and a pending task scheduled on a sticky queue waits on the normal one;
//! - the run timeout the client asked for before the execution timeout clamped it (history
//!   has the clamped one, which gives a retried or cron run the same timeout).
//!
//! Updates are rebuilt from their events: `WorkflowExecutionUpdateAdmitted` (written when a
//! reset reapplies an update) admits one, delivered with the next started task;
//! `WorkflowExecutionUpdateAccepted` and `…Completed` move it on, so a rebuilt run answers a
//! known update id as the original did. The `WorkflowTaskFailed` a reset writes
//! (`RESET_WORKFLOW`) restarts the run there, as `reset.rs` does: start time, execution
//! expiration, pending activities scheduled anew. The property test in `engine/tests.rs`
//! checks that everything else equals the state the engine kept.
//!
//! The history must be one the engine wrote: ids contiguous from 1, `WorkflowExecutionStarted`
//! first, nothing after a close, and every event referring to something pending (a task, an
//! activity, a timer, a child). Anything else is a [`RebuildError`] naming the event.

use std::collections::BTreeMap;

use prost::Message;
use temporalio_protos::temporal::api::{
    command::v1::StartChildWorkflowExecutionCommandAttributes,
    enums::v1::{WorkflowExecutionStatus as Status, WorkflowTaskFailedCause},
    history::v1::{
        HistoryEvent, StartChildWorkflowExecutionInitiatedEventAttributes,
        WorkflowExecutionStartedEventAttributes, history_event::Attributes,
    },
};

use super::{
    ActivityInfo, ChildInfo, MutableState, ParentInfo, RestartInfo, UpdateInfo, WorkflowTaskInfo,
    commands::merge_payloads,
    events::{activity_final_scheduled_id, child_close_initiated_id},
    signal::SIGNAL_DEDUP_WINDOW,
    state::TimerInfo,
    time::{lenient_ms, ms, timestamp},
    update,
};

mod externals;
mod updates;

/// What a run's history does not record about the run itself.
#[derive(Clone, Copy, Debug)]
pub struct RunIdentity<'a> {
    /// The namespace name.
    pub namespace: &'a str,
    /// The run id of the rebuilt run (a reset gives the base's prefix a new one).
    pub run_id: &'a str,
    /// The request id that started the run (StartWorkflowExecution idempotency).
    pub start_request_id: &'a str,
}

/// A history the engine could not have written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("history event {event_id}: {reason}")]
pub struct RebuildError {
    /// The offending event's id (its position when the id itself is wrong).
    pub event_id: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Rebuilds the state of the run whose history is `events` (all of it, or a prefix).
pub fn rebuild(
    identity: &RunIdentity<'_>,
    events: &[HistoryEvent],
) -> Result<MutableState, RebuildError> {
    let mut state = MutableState {
        namespace: identity.namespace.to_string(),
        run_id: identity.run_id.to_string(),
        start_request_id: identity.start_request_id.to_string(),
        status: Status::Running as i32,
        next_event_id: 1,
        ..Default::default()
    };
    let mut scratch = Scratch::default();
    for event in events {
        let position = state.next_event_id;
        let fail = |reason: String| RebuildError {
            event_id: position,
            reason,
        };
        if event.event_id != position {
            return Err(fail(format!(
                "expected event id {position}, found {}",
                event.event_id
            )));
        }
        if state.is_closed() {
            return Err(fail("event after the run closed".into()));
        }
        let attributes = event
            .attributes
            .as_ref()
            .ok_or_else(|| fail("event without attributes".into()))?;
        apply(&mut state, &mut scratch, event, attributes).map_err(fail)?;
        state.next_event_id = event.event_id.saturating_add(1);
        let size = i64::try_from(event.encoded_len()).unwrap_or(i64::MAX);
        state.history_size_bytes = state.history_size_bytes.saturating_add(size);
    }
    if events.is_empty() {
        return Err(RebuildError {
            event_id: 1,
            reason: "empty history".into(),
        });
    }
    Ok(state)
}

/// What the rebuild keeps between events besides the state.
#[derive(Default)]
struct Scratch {
    /// User timers whose id a newer timer took while their `TimerFired` was still buffered (it
    /// comes later in history), by started event id.
    shadowed: BTreeMap<i64, TimerInfo>,
    /// The admitted updates the last completed workflow task carried: its completion accepted
    /// them (their Accepted events follow) or the engine dropped them (rejected or left
    /// unanswered, which history does not show), so they leave the state until accepted.
    answering: BTreeMap<String, UpdateInfo>,
}

/// Applies one event to the state, as the transition that wrote it did.
fn apply(
    state: &mut MutableState,
    scratch: &mut Scratch,
    event: &HistoryEvent,
    a: &Attributes,
) -> Result<(), String> {
    use Attributes as A;
    let id = event.event_id;
    let time = event.event_time;
    if id == 1 {
        return match a {
            A::WorkflowExecutionStartedEventAttributes(started) => {
                apply_started(state, ms(time.as_ref()), started);
                Ok(())
            }
            _ => Err("the first event is not WorkflowExecutionStarted".into()),
        };
    }
    match a {
        A::WorkflowTaskScheduledEventAttributes(s) => {
            if state.workflow_task.is_some() {
                return Err("a workflow task is already pending".into());
            }
            state.first_task_backoff = false;
            // A rebuilt run is not sticky (the worker's sticky queue is in no event), so a
            // task scheduled on a sticky queue is pending on the normal one.
            state.workflow_task = Some(WorkflowTaskInfo {
                scheduled_event_id: id,
                attempt: s.attempt,
                task_queue: state.task_queue.clone(),
                scheduled_time: time,
                ..Default::default()
            });
        }
        A::WorkflowTaskStartedEventAttributes(s) => {
            let task = pending_task(state, s.scheduled_event_id, false)?;
            task.started_event_id = id;
            task.started_time = time;
            task.request_id = s.request_id.clone();
            task.started_identity = s.identity.clone();
            update::mark_sent(state);
        }
        A::WorkflowTaskCompletedEventAttributes(c) => {
            end_task(state, c.scheduled_event_id, c.started_event_id)?;
            state.previous_started_event_id = c.started_event_id;
            scratch.answering = updates::take_carried(state);
        }
        A::WorkflowTaskFailedEventAttributes(f) => {
            end_task(state, f.scheduled_event_id, f.started_event_id)?;
            // A worker may report any cause; only the reset's own failure names the new run.
            if f.cause() == WorkflowTaskFailedCause::ResetWorkflow && !f.new_run_id.is_empty() {
                restart_for_reset(state, ms(time.as_ref()));
            }
        }
        A::WorkflowTaskTimedOutEventAttributes(t) => {
            end_task(state, t.scheduled_event_id, t.started_event_id)?;
        }
        A::WorkflowExecutionSignaledEventAttributes(s) => {
            if !s.request_id.is_empty() {
                let ids = &mut state.signal_request_ids;
                if ids.len() >= SIGNAL_DEDUP_WINDOW {
                    ids.remove(0);
                }
                ids.push(s.request_id.clone());
            }
        }
        A::WorkflowExecutionCancelRequestedEventAttributes(_) => state.cancel_requested = true,
        A::ActivityTaskScheduledEventAttributes(s) => {
            state.activities.insert(
                id,
                ActivityInfo {
                    scheduled_event_id: id,
                    activity_id: s.activity_id.clone(),
                    activity_type: s.activity_type.clone(),
                    task_queue: s
                        .task_queue
                        .as_ref()
                        .map(|q| q.name.clone())
                        .unwrap_or_default(),
                    input: s.input.clone(),
                    header: s.header.clone(),
                    schedule_to_close_timeout: s.schedule_to_close_timeout,
                    schedule_to_start_timeout: s.schedule_to_start_timeout,
                    start_to_close_timeout: s.start_to_close_timeout,
                    heartbeat_timeout: s.heartbeat_timeout,
                    retry_policy: s.retry_policy.clone(),
                    attempt: 1,
                    scheduled_time: time,
                    current_attempt_scheduled_time: time,
                    priority: s.priority.clone(),
                    ..Default::default()
                },
            );
        }
        A::ActivityTaskStartedEventAttributes(s) => {
            // Written only with the final outcome, so this "started" attempt is the one the
            // next event ends; a prefix may stop in between.
            let info = pending(&mut state.activities, s.scheduled_event_id, "activity")?;
            info.attempt = s.attempt;
            info.started_time = time;
            info.started_identity = s.identity.clone();
            info.started_request_id = s.request_id.clone();
            info.last_failure = s.last_failure.clone();
        }
        A::ActivityTaskCancelRequestedEventAttributes(c) => {
            let info = pending(&mut state.activities, c.scheduled_event_id, "activity")?;
            info.cancel_requested = true;
            info.cancel_requested_event_id = id;
        }
        A::TimerStartedEventAttributes(t) => {
            let fire_at_ms =
                ms(time.as_ref()).saturating_add(lenient_ms(t.start_to_fire_timeout.as_ref()));
            let timer = TimerInfo {
                timer_id: t.timer_id.clone(),
                started_event_id: id,
                fire_at_ms,
            };
            if let Some(older) = state.timers.insert(t.timer_id.clone(), timer) {
                scratch.shadowed.insert(older.started_event_id, older);
            }
        }
        A::TimerFiredEventAttributes(t) => {
            end_timer(state, scratch, &t.timer_id, t.started_event_id)?;
        }
        A::TimerCanceledEventAttributes(t) => {
            end_timer(state, scratch, &t.timer_id, t.started_event_id)?;
        }
        A::WorkflowExecutionUpdateAdmittedEventAttributes(u) => {
            updates::admit(state, id, u.request.as_ref())?;
        }
        A::WorkflowExecutionUpdateAcceptedEventAttributes(u) => {
            let carried = &mut scratch.answering;
            updates::accept(state, carried, id, u)?;
        }
        A::WorkflowExecutionUpdateCompletedEventAttributes(u) => updates::complete(state, id, u)?,
        A::SignalExternalWorkflowExecutionInitiatedEventAttributes(i) => {
            externals::signal_initiated(state, id, i);
        }
        A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(i) => {
            externals::cancel_initiated(state, id, i);
        }
        A::MarkerRecordedEventAttributes(_) => {}
        A::UpsertWorkflowSearchAttributesEventAttributes(u) => {
            if let Some(attributes) = &u.search_attributes {
                merge_payloads(&mut state.search_attributes, &attributes.indexed_fields);
            }
        }
        A::WorkflowPropertiesModifiedEventAttributes(m) => {
            if let Some(memo) = &m.upserted_memo {
                merge_payloads(&mut state.memo, &memo.fields);
            }
        }
        A::StartChildWorkflowExecutionInitiatedEventAttributes(i) => {
            state.children.insert(
                id,
                ChildInfo {
                    initiated_event_id: id,
                    command: Some(child_command(i)),
                    workflow_task_completed_event_id: i.workflow_task_completed_event_id,
                    ..Default::default()
                },
            );
        }
        A::ChildWorkflowExecutionStartedEventAttributes(s) => {
            let child = pending(&mut state.children, s.initiated_event_id, "child")?;
            if child.started {
                return Err(format!("child {} already started", s.initiated_event_id));
            }
            child.started = true;
            child.started_event_id = id;
            child.run_id = s
                .workflow_execution
                .as_ref()
                .map(|e| e.run_id.clone())
                .unwrap_or_default();
        }
        A::StartChildWorkflowExecutionFailedEventAttributes(f) => {
            pending(&mut state.children, f.initiated_event_id, "child")?;
            state.children.remove(&f.initiated_event_id);
        }
        A::WorkflowExecutionCompletedEventAttributes(_) => close(state, Status::Completed, time),
        A::WorkflowExecutionFailedEventAttributes(_) => close(state, Status::Failed, time),
        A::WorkflowExecutionTimedOutEventAttributes(_) => close(state, Status::TimedOut, time),
        A::WorkflowExecutionCanceledEventAttributes(_) => close(state, Status::Canceled, time),
        A::WorkflowExecutionTerminatedEventAttributes(_) => close(state, Status::Terminated, time),
        A::WorkflowExecutionContinuedAsNewEventAttributes(_) => {
            close(state, Status::ContinuedAsNew, time);
        }
        other => {
            if let Some(scheduled) = activity_final_scheduled_id(other) {
                pending(&mut state.activities, scheduled, "activity")?;
                state.activities.remove(&scheduled);
            } else if let Some(initiated) = child_close_initiated_id(other) {
                pending(&mut state.children, initiated, "child")?;
                state.children.remove(&initiated);
            } else if let Some(initiated) = externals::resolved_initiated_id(other) {
                pending(&mut state.externals, initiated, "external request")?;
                state.externals.remove(&initiated);
            } else {
                return Err(format!(
                    "{} is not an event Lockstep writes",
                    event.event_type().as_str_name()
                ));
            }
        }
    }
    Ok(())
}

/// The run's settings, lineage, memo and search attributes, as `start.rs` derived them.
fn apply_started(state: &mut MutableState, time: i64, a: &WorkflowExecutionStartedEventAttributes) {
    let parent = a.parent_workflow_execution.as_ref().map(|p| ParentInfo {
        namespace: a.parent_workflow_namespace.clone(),
        workflow_id: p.workflow_id.clone(),
        run_id: p.run_id.clone(),
        initiated_event_id: a.parent_initiated_event_id,
    });
    state.workflow_id = a.workflow_id.clone();
    state.workflow_type = a
        .workflow_type
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_default();
    state.task_queue = a
        .task_queue
        .as_ref()
        .map(|q| q.name.clone())
        .unwrap_or_default();
    state.status = Status::Running as i32;
    state.start_time_ms = time;
    state.workflow_task_timeout_ms = lenient_ms(a.workflow_task_timeout.as_ref());
    state.run_timeout_ms = lenient_ms(a.workflow_run_timeout.as_ref());
    state.execution_timeout_ms = lenient_ms(a.workflow_execution_timeout.as_ref());
    state.first_execution_run_id = a.first_execution_run_id.clone();
    state.memo = a
        .memo
        .as_ref()
        .map(|m| m.fields.clone().into_iter().collect())
        .unwrap_or_default();
    state.search_attributes = a
        .search_attributes
        .as_ref()
        .map(|s| s.indexed_fields.clone().into_iter().collect())
        .unwrap_or_default();
    state.parent = parent;
    state.root = a.root_workflow_execution.clone();
    state.execution_expiration_ms = ms(a.workflow_execution_expiration_time.as_ref());
    state.continued_execution_run_id = a.continued_execution_run_id.clone();
    state.attempt = a.attempt.max(1);
    state.retry_policy = a.retry_policy.clone();
    state.restart = (a.retry_policy.is_some() || !a.cron_schedule.is_empty()).then(|| {
        RestartInfo {
            input: a.input.clone(),
            header: a.header.clone(),
            cron_schedule: a.cron_schedule.clone(),
            last_completion_result: a.last_completion_result.clone(),
            // The run timeout as recorded, after the execution timeout clamped the requested
            // one: a retried or cron run clamps it again to the chain's (earlier) deadline, so
            // either value gives the next run the same timeout.
            run_timeout_ms: state.run_timeout_ms,
            identity: a.identity.clone(),
            priority: a.priority.clone(),
        }
    });
    let backoff_ms = lenient_ms(a.first_workflow_task_backoff.as_ref());
    state.execution_time_ms = time.saturating_add(backoff_ms);
    state.first_task_backoff = backoff_ms > 0;
}

/// The child's command as `start_child_workflow.rs` kept it (namespace and task queue filled
/// in), from what its initiated event records.
#[allow(deprecated)] // `namespace`, `control` and `inherit_build_id` are still on the wire.
fn child_command(
    i: &StartChildWorkflowExecutionInitiatedEventAttributes,
) -> StartChildWorkflowExecutionCommandAttributes {
    StartChildWorkflowExecutionCommandAttributes {
        namespace: i.namespace.clone(),
        workflow_id: i.workflow_id.clone(),
        workflow_type: i.workflow_type.clone(),
        task_queue: i.task_queue.clone(),
        input: i.input.clone(),
        workflow_execution_timeout: i.workflow_execution_timeout,
        workflow_run_timeout: i.workflow_run_timeout,
        workflow_task_timeout: i.workflow_task_timeout,
        parent_close_policy: i.parent_close_policy,
        control: i.control.clone(),
        workflow_id_reuse_policy: i.workflow_id_reuse_policy,
        retry_policy: i.retry_policy.clone(),
        cron_schedule: i.cron_schedule.clone(),
        header: i.header.clone(),
        memo: i.memo.clone(),
        search_attributes: i.search_attributes.clone(),
        inherit_build_id: i.inherit_build_id,
        priority: i.priority.clone(),
        versioning_override: i.versioning_override.clone(),
    }
}

fn pending_task(
    state: &mut MutableState,
    scheduled_event_id: i64,
    started: bool,
) -> Result<&mut WorkflowTaskInfo, String> {
    match state.workflow_task.as_mut() {
        Some(task)
            if task.scheduled_event_id == scheduled_event_id && task.is_started() == started =>
        {
            Ok(task)
        }
        _ => Err(format!(
            "workflow task {scheduled_event_id} is not {}",
            if started { "started" } else { "pending" }
        )),
    }
}

fn end_task(
    state: &mut MutableState,
    scheduled_event_id: i64,
    started_event_id: i64,
) -> Result<(), String> {
    let task = pending_task(state, scheduled_event_id, true)?;
    if task.started_event_id != started_event_id {
        return Err(format!(
            "workflow task {scheduled_event_id} was started by event {}, not {started_event_id}",
            task.started_event_id
        ));
    }
    state.workflow_task = None;
    Ok(())
}

/// The pending `what` (activity, child) of event `id`.
fn pending<'a, V>(map: &'a mut BTreeMap<i64, V>, id: i64, what: &str) -> Result<&'a mut V, String> {
    map.get_mut(&id)
        .ok_or_else(|| format!("{what} {id} is not pending"))
}

fn end_timer(
    state: &mut MutableState,
    scratch: &mut Scratch,
    timer_id: &str,
    started_event_id: i64,
) -> Result<(), String> {
    let shadowed = &mut scratch.shadowed;
    match state.timers.get(timer_id) {
        Some(timer) if timer.started_event_id == started_event_id => {
            state.timers.remove(timer_id);
            Ok(())
        }
        _ if shadowed
            .get(&started_event_id)
            .is_some_and(|timer| timer.timer_id == timer_id) =>
        {
            shadowed.remove(&started_event_id);
            Ok(())
        }
        _ => Err(format!(
            "timer {timer_id:?} started by event {started_event_id} is not pending"
        )),
    }
}

/// What `Apply::close` leaves: nothing pending (signals and cancellation requests to other
/// workflows are dropped, as Temporal drops them once the issuer closed), admitted updates dropped (accepted and
/// completed ones stay to answer their ids).
fn close(state: &mut MutableState, status: Status, time: Option<prost_wkt_types::Timestamp>) {
    state.status = status as i32;
    state.close_time_ms = ms(time.as_ref());
    state.workflow_task = None;
    state.activities.clear();
    state.timers.clear();
    state.children.clear();
    state.externals.clear();
    state.updates.retain(|_, u| !u.is_admitted());
}

/// What `reset::reset_run` changed besides writing events, at its `WorkflowTaskFailed`: the
/// run starts at the reset, its execution timeout restarts then, and its pending activities
/// are scheduled again then.
fn restart_for_reset(state: &mut MutableState, time: i64) {
    state.start_time_ms = time;
    state.execution_expiration_ms = if state.execution_timeout_ms > 0 {
        time.saturating_add(state.execution_timeout_ms)
    } else {
        0
    };
    for info in state.activities.values_mut() {
        info.scheduled_time = Some(timestamp(time));
        info.current_attempt_scheduled_time = info.scheduled_time;
    }
}

/// Asserts that `history` rebuilds into `state` as far as history records it (see the module
/// docs); states with buffered events are skipped, their history is not complete yet.
#[cfg(test)]
pub(crate) fn assert_rebuilds(state: &MutableState, history: &[HistoryEvent]) {
    if !state.buffered_events.is_empty() {
        return;
    }
    let identity = RunIdentity {
        namespace: &state.namespace,
        run_id: &state.run_id,
        start_request_id: &state.start_request_id,
    };
    let rebuilt = rebuild(&identity, history)
        .unwrap_or_else(|err| panic!("a history the engine wrote rebuilds: {err}"));
    assert_eq!(rebuilt, history_view(state), "rebuilt state differs");
}

/// `state` without what history does not record (see the module docs), each for its reason.
#[cfg(test)]
fn history_view(state: &MutableState) -> MutableState {
    let mut view = state.clone();
    // Bookkeeping of the transitions, not of the run.
    view.state_transition_count = 0;
    // A reset's request id (idempotency) is in no event; nor is the run a reset created from
    // this one (the base run's history is not rewritten).
    view.reset_request_id.clear();
    view.reset_run_id.clear();
    // A client's admission writes nothing (only the acceptance does), and a rejection erases
    // the update: neither leaves a trace, nor does the admission counter, which orders the
    // deliveries of such updates only.
    view.updates
        .retain(|_, u| !u.is_admitted() || u.admission_in_history());
    view.updates_admitted = 0;
    // A speculative task is in history only once it turned real; the generation tells apart
    // speculative tasks within one run (tokens name the run), so a rebuilt run numbers anew.
    view.speculative_tasks = 0;
    if view.workflow_task.as_ref().is_some_and(|t| t.speculative) {
        view.workflow_task = None;
    }
    if let Some(task) = view.workflow_task.as_mut() {
        task.generation = 0;
    }
    // The worker's sticky queue and timeout come with its completion request, not in any
    // event: a rebuilt run is not sticky (as Temporal's rebuilder leaves it), and its pending
    // task waits on the normal queue.
    view.sticky_task_queue.clear();
    view.sticky_schedule_to_start_ms = 0;
    if let Some(task) = view.workflow_task.as_mut().filter(|t| t.sticky) {
        task.task_queue = state.task_queue.clone();
        task.sticky = false;
        task.schedule_to_start_ms = 0;
    }
    // History records the run timeout after the execution timeout clamped the requested one;
    // the next run of a retry or cron chain clamps it again, so both give it the same timeout.
    if let Some(restart) = view.restart.as_mut() {
        restart.run_timeout_ms = state.run_timeout_ms;
    }
    for info in view.activities.values_mut() {
        *info = ActivityInfo {
            attempt: 1,
            current_attempt_scheduled_time: info.scheduled_time,
            started_time: None,
            started_identity: String::new(),
            started_request_id: String::new(),
            heartbeat_details: None,
            last_heartbeat_time: None,
            last_failure: None,
            next_attempt_schedule_time: None,
            current_retry_interval: None,
            last_attempt_complete_time: None,
            ..info.clone()
        };
    }
    view
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::history::v1::TimerFiredEventAttributes;

    use temporalio_protos::temporal::api::enums::v1::EventType;

    use super::*;
    use temporalio_protos::temporal::api::workflowservice::v1::RespondWorkflowTaskFailedRequest;

    use crate::engine::{
        TimerKind, TimerTask, Transition, complete_workflow_task, fail_workflow_task, fire_timer,
        signal, start_workflow, test_support::*, workflow_task_started,
    };

    fn identity() -> RunIdentity<'static> {
        RunIdentity {
            namespace: "default",
            run_id: "run-1",
            start_request_id: "start-req",
        }
    }

    /// Started, a task with a timer and an activity, a signal: the history and the state.
    fn some_run() -> (MutableState, Vec<HistoryEvent>) {
        let mut history = Vec::new();
        let mut take = |t: Transition| history.extend(t.events);
        let (mut state, t) = start_workflow(&start_req(), "run-1", T0).unwrap();
        take(t);
        take(workflow_task_started(&mut state, 2, 1, "w", "poll-1", T0 + 1).unwrap());
        let commands = vec![
            start_timer_cmd("t1", 5_000),
            schedule_activity_cmd("a1", |_| {}),
        ];
        let req = completed_req(commands);
        take(complete_workflow_task(&mut state, 2, 3, 1, &req, "run-2", T0 + 2).unwrap());
        take(signal(&mut state, &signal_req("go", "r1"), T0 + 3).unwrap());
        (state, history)
    }

    #[test]
    fn rebuilds_what_the_engine_kept() {
        let (state, history) = some_run();
        assert_rebuilds(&state, &history);
        let rebuilt = rebuild(&identity(), &history).unwrap();
        assert_eq!(rebuilt.timers["t1"].fire_at_ms, T0 + 2 + 5_000);
        assert_eq!(rebuilt.pending_activity(6).unwrap().attempt, 1);
        assert_eq!(rebuilt.signal_request_ids, ["r1"]);
        assert_eq!(
            rebuilt.pending_workflow_task().unwrap().scheduled_event_id,
            8
        );
        assert_eq!(rebuilt.previous_started_event_id(), 3);
    }

    /// The case the property test found: a timer fires while a task runs (its TimerFired is
    /// buffered), and that task starts a new timer with the same id; history then holds the
    /// new TimerStarted before the old timer's TimerFired.
    #[test]
    fn a_timer_id_reused_while_its_fire_is_buffered() {
        let (mut state, mut history) = some_run();
        let mut take = |t: Transition| history.extend(t.events);
        take(workflow_task_started(&mut state, 8, 1, "w", "poll-2", T0 + 4).unwrap());
        let fired = state.timers["t1"].clone();
        let mut timer = TimerTask::new(TimerKind::UserTimer, fired.fire_at_ms, 5, 0);
        timer.timer_id = "t1".into();
        assert!(
            fire_timer(&mut state, &timer, fired.fire_at_ms)
                .unwrap()
                .is_empty()
        );
        let req = completed_req(vec![start_timer_cmd("t1", 1_000)]);
        take(complete_workflow_task(&mut state, 8, 9, 1, &req, "run-2", T0 + 6_000).unwrap());
        let tail: Vec<_> = history[9..].iter().map(HistoryEvent::event_type).collect();
        assert_eq!(
            tail,
            [
                EventType::WorkflowTaskCompleted,
                EventType::TimerStarted,
                EventType::TimerFired,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert_rebuilds(&state, &history);
        assert_eq!(
            rebuild(&identity(), &history).unwrap().timers["t1"].started_event_id,
            11
        );
    }

    /// Only the reset's own `WorkflowTaskFailed` restarts the run: a worker that reports the
    /// cause `RESET_WORKFLOW` itself changes nothing but the task.
    #[test]
    fn a_worker_reported_reset_cause_is_an_ordinary_failure() {
        let (mut state, mut history) = some_run();
        history.extend(
            workflow_task_started(&mut state, 8, 1, "w", "poll-2", T0 + 4)
                .unwrap()
                .events,
        );
        let req = RespondWorkflowTaskFailedRequest {
            cause: WorkflowTaskFailedCause::ResetWorkflow as i32,
            ..Default::default()
        };
        let t = fail_workflow_task(&mut state, 8, 9, 1, &req, T0 + 5).unwrap();
        history.extend(t.events);
        assert_eq!(state.start_time_ms(), T0);
        assert_rebuilds(&state, &history);
    }

    #[test]
    fn a_prefix_rebuilds_the_state_at_that_point() {
        let (_, history) = some_run();
        let rebuilt = rebuild(&identity(), &history[..3]).unwrap();
        let task = rebuilt.pending_workflow_task().unwrap();
        assert_eq!((task.scheduled_event_id, task.started_event_id), (2, 3));
        assert_eq!(task.request_id, "poll-1");
        assert!(rebuilt.timers.is_empty() && rebuilt.activities.is_empty());
        assert_eq!(rebuilt.next_event_id(), 4);
    }

    #[test]
    fn refuses_histories_the_engine_did_not_write() {
        let (_, history) = some_run();
        let err = |events: &[HistoryEvent]| rebuild(&identity(), events).unwrap_err();
        assert_eq!(err(&[]).reason, "empty history");
        assert!(err(&history[1..]).reason.contains("expected event id 1"));
        let mut gap = history.clone();
        gap.remove(3);
        assert_eq!(err(&gap).event_id, 4);
        let mut not_first = history[1..2].to_vec();
        not_first[0].event_id = 1;
        assert!(err(&not_first).reason.contains("first event"));
        let mut stray = history.clone();
        let fired = HistoryEvent {
            event_id: 9,
            attributes: Some(Attributes::TimerFiredEventAttributes(
                TimerFiredEventAttributes {
                    timer_id: "t1".into(),
                    started_event_id: 99,
                },
            )),
            ..Default::default()
        };
        stray.push(fired);
        let stray_err = err(&stray);
        assert_eq!(stray_err.event_id, 9);
        assert!(stray_err.reason.contains("not pending"), "{stray_err}");
        let mut bare = history;
        bare.push(HistoryEvent {
            event_id: 9,
            ..Default::default()
        });
        assert!(err(&bare).reason.contains("without attributes"));
    }
}
