//! ResetWorkflowExecution, as Temporal's workflow resetter does it. The new run's history is
//! the base run's prefix up to (not including) the chosen workflow task's finish event, copied
//! with the same ids, then:
//!
//! 1. `WorkflowTaskStarted` (identity `history-service`) if the prefix ends with the task only
//!    scheduled, and `WorkflowTaskFailed` with cause `RESET_WORKFLOW`, the base and new run ids
//!    and a `ResetWorkflowFailureInfo` failure carrying the reason;
//! 2. nothing for pending activities: they are dispatched again from attempt 1 and their
//!    schedule-to-close deadline restarts now (the prefix never leaves one started: that would
//!    split the batch in which `ActivityTaskStarted` and the activity's outcome were written,
//!    and such a point is refused, as Temporal refuses points inside an event batch);
//! 3. what the base run (and the runs it continued as new into) received after the reset
//!    point, in history order, unless excluded: its signals as new `WorkflowExecutionSignaled`
//!    events, and its updates — each `WorkflowExecutionUpdateAccepted` that carries the
//!    request, and each `WorkflowExecutionUpdateAdmitted` — as `WorkflowExecutionUpdateAdmitted`
//!    events (origin REAPPLY), as Temporal's resetter does; the worker runs them again;
//! 4. `WorkflowTaskScheduled` (attempt 1).
//!
//! Updates in the prefix keep their state (`rebuild.rs`): a completed one answers its id with
//! the same outcome, an accepted one is completed by the new run. Updates clients had admitted
//! into the replaced run (not in any history) are dropped when it is terminated, their waiters
//! told the update was aborted, as Temporal aborts them. The speculative-task counter restarts
//! at 0 in the new run: task tokens name the run, so a generation only has to be unique within
//! one run.
//!
//! The state is the prefix rebuilt (`rebuild.rs`); pending user timers are armed again for
//! their original fire time, and the run's start time and its run and execution timeouts
//! restart at the reset (as Temporal's `RefreshExpirationTimeoutTask`). The run that the reset replaces is terminated by
//! [`terminate_for_reset`] (reason = the reset reason, identity `history-resetter`), without
//! telling a parent: the new run reports to it instead.
//!
//! Children still pending at the reset point are refused: reconnecting them to the new run
//! (Temporal's newer flow) is not implemented.

use temporalio_protos::temporal::api::{
    enums::v1::{EventType, WorkflowExecutionStatus, WorkflowTaskFailedCause},
    failure::v1::{Failure, ResetWorkflowFailureInfo, failure::FailureInfo},
    history::v1::{
        HistoryEvent, WorkflowExecutionTerminatedEventAttributes,
        WorkflowTaskFailedEventAttributes, WorkflowTaskStartedEventAttributes,
        history_event::Attributes,
    },
};

use super::{
    Effect, EngineError, MutableState, TimerKind, TimerTask, Transition,
    activity::dispatch,
    apply::{Apply, transact},
    signal::SignalInput,
    time::timestamp,
    update,
};

/// Identity on the events a reset writes into the new run (Temporal's history service).
pub const RESET_IDENTITY: &str = "history-service";
/// Identity on the termination of the run a reset replaces (Temporal's resetter).
pub const RESETTER_IDENTITY: &str = "history-resetter";
/// The request id of a `WorkflowTaskStarted` no poll asked for (Temporal's sentinel).
const NO_POLL_REQUEST: &str = "emptyUuid";

/// What a reset writes besides the base run's history.
#[derive(Clone, Copy, Debug)]
pub struct ResetPlan<'a> {
    /// The run whose prefix is kept.
    pub base_run_id: &'a str,
    /// The new run's id (the caller draws it).
    pub new_run_id: &'a str,
    /// The reset reason (failure message and termination reason).
    pub reason: &'a str,
    /// The ResetWorkflowExecution request id, kept on the new run for idempotency.
    pub request_id: &'a str,
    /// The id of the workflow task finish event chosen as the reset point.
    pub finish_event_id: i64,
    /// Reapply the signals received after the reset point (the default).
    pub reapply_signals: bool,
    /// Reapply the updates accepted after the reset point (the default).
    pub reapply_updates: bool,
}

/// How many of the base run's events the new run keeps: those before `finish_event_id`, which
/// must lie in 2..=the base run's last event id (Temporal's rule).
pub fn reset_prefix_len(base: &MutableState, finish_event_id: i64) -> Result<usize, EngineError> {
    let last = base.next_event_id().saturating_sub(1);
    if finish_event_id <= 1 || finish_event_id > last {
        return Err(EngineError::invalid(format!(
            "Workflow task finish ID must be > 1 && <= workflow last event ID: run {} has \
             events 1..={last}, got workflow_task_finish_event_id {finish_event_id}",
            base.run_id()
        )));
    }
    usize::try_from(finish_event_id - 1)
        .map_err(|_| EngineError::invalid("workflow_task_finish_event_id is out of range"))
}

/// Builds the new run from `rebuilt` — the base run's `prefix` rebuilt under the new run's
/// identity — and `later`, the base run's events from the reset point on followed by those of
/// the runs it continued as new into, oldest first (their signals are reapplied).
pub fn reset_run(
    mut rebuilt: MutableState,
    prefix: &[HistoryEvent],
    later: &[HistoryEvent],
    plan: &ResetPlan<'_>,
    now: i64,
) -> Result<(MutableState, Transition), EngineError> {
    let Some(task) = rebuilt.workflow_task.clone() else {
        return Err(EngineError::invalid(format!(
            "Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, \
             WorkflowTaskStarted + 1]: {}; pick the id of a WorkflowTaskCompleted, \
             WorkflowTaskFailed or WorkflowTaskTimedOut event",
            plan.finish_event_id
        )));
    };
    if let Some(last) = prefix.last()
        && last.event_type() == EventType::ActivityTaskStarted
    {
        return Err(EngineError::invalid(format!(
            "cannot reset to event {}: event {} (ActivityTaskStarted) was written in one batch              with the event after it, and a reset point must follow a whole batch; pick the id              of a WorkflowTaskCompleted, WorkflowTaskFailed or WorkflowTaskTimedOut event",
            plan.finish_event_id, last.event_id
        )));
    }
    if let Some(child) = rebuilt.children.values().next() {
        return Err(EngineError::invalid(format!(
            "cannot reset to event {}: child workflow {:?} (initiated by event {}) is still \
             open at that point and Lockstep does not reconnect pending children to a reset \
             run; reset to a point before it was initiated or after it closed",
            plan.finish_event_id,
            child.workflow_id(),
            child.initiated_event_id
        )));
    }
    rebuilt.reset_request_id = plan.request_id.to_string();
    rebuilt.reset_run_id.clear();
    rebuilt.start_time_ms = now;
    let (transition, ()) = transact(&mut rebuilt, now, |cx| {
        fail_reset_task(cx, plan, task.scheduled_event_id, task.started_event_id);
        restart_activities(cx);
        rearm_timers(cx);
        reapply(cx, later, plan);
        cx.schedule_workflow_task(1);
        restart_timeouts(cx);
        Ok(())
    })?;
    let mut events = prefix.to_vec();
    events.extend(transition.events);
    Ok((
        rebuilt,
        Transition {
            events,
            effects: transition.effects,
            unchanged: false,
        },
    ))
}

/// Terminates the run a reset replaces (running and current): `WorkflowExecutionTerminated`
/// with the reset reason, by `history-resetter`. A child run does not notify its parent: the
/// reset run does, when it closes.
pub fn terminate_for_reset(
    state: &mut MutableState,
    reason: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    let (mut transition, ()) = transact(state, now, |cx| {
        cx.state.ensure_running()?;
        cx.force_close(
            WorkflowExecutionStatus::Terminated,
            Attributes::WorkflowExecutionTerminatedEventAttributes(
                WorkflowExecutionTerminatedEventAttributes {
                    reason: reason.to_string(),
                    details: None,
                    identity: RESETTER_IDENTITY.to_string(),
                },
            ),
        );
        Ok(())
    })?;
    transition
        .effects
        .retain(|effect| !matches!(effect, Effect::NotifyParent(_)));
    Ok(transition)
}

/// Records on the base run that a reset created `new_run_id` from it (Describe shows it).
pub fn record_reset(base: &mut MutableState, new_run_id: &str) {
    base.reset_run_id = new_run_id.to_string();
}

/// `WorkflowTaskStarted` if needed, then `WorkflowTaskFailed(RESET_WORKFLOW)`.
fn fail_reset_task(cx: &mut Apply<'_>, plan: &ResetPlan<'_>, scheduled: i64, started: i64) {
    let started_event_id = if started > 0 {
        started
    } else {
        let history_size_bytes = cx.state.history_size_bytes;
        // Like any started task it carries the admitted updates (to nobody here): they go
        // again with the next task, and a rebuild of this history sees the same.
        update::mark_sent(cx.state);
        cx.append(Attributes::WorkflowTaskStartedEventAttributes(
            WorkflowTaskStartedEventAttributes {
                scheduled_event_id: scheduled,
                identity: RESET_IDENTITY.to_string(),
                request_id: NO_POLL_REQUEST.to_string(),
                history_size_bytes,
                ..Default::default()
            },
        ))
    };
    cx.state.workflow_task = None;
    cx.append(Attributes::WorkflowTaskFailedEventAttributes(
        WorkflowTaskFailedEventAttributes {
            scheduled_event_id: scheduled,
            started_event_id,
            cause: WorkflowTaskFailedCause::ResetWorkflow as i32,
            failure: Some(reset_failure(plan.reason)),
            identity: RESET_IDENTITY.to_string(),
            base_run_id: plan.base_run_id.to_string(),
            new_run_id: plan.new_run_id.to_string(),
            ..Default::default()
        },
    ));
}

/// Dispatches every pending activity again, from now.
fn restart_activities(cx: &mut Apply<'_>) {
    let now = cx.now;
    let activities: Vec<_> = cx.state.activities.values().cloned().collect();
    for info in activities {
        let scheduled = info.scheduled_event_id;
        if let Some(pending) = cx.state.activities.get_mut(&scheduled) {
            pending.scheduled_time = Some(timestamp(now));
        }
        dispatch(cx, scheduled);
        let schedule_to_close = info.schedule_to_close_ms();
        if schedule_to_close > 0 {
            cx.timer(TimerTask::new(
                TimerKind::ActivityScheduleToClose,
                now.saturating_add(schedule_to_close),
                scheduled,
                0,
            ));
        }
    }
}

/// Arms every pending user timer again, for its original fire time.
fn rearm_timers(cx: &mut Apply<'_>) {
    let timers: Vec<_> = cx.state.timers.values().cloned().collect();
    for info in timers {
        let mut timer = TimerTask::new(
            TimerKind::UserTimer,
            info.fire_at_ms,
            info.started_event_id,
            0,
        );
        timer.timer_id = info.timer_id;
        cx.timer(timer);
    }
}

/// Appends what `later` received, in order, as Temporal's reapply does: signals as new
/// events (same name, input, header, identity and request id), updates as admitted ones. An
/// accepted event without its request follows the admitted event that has it, which is
/// reapplied instead.
fn reapply(cx: &mut Apply<'_>, later: &[HistoryEvent], plan: &ResetPlan<'_>) {
    for event in later {
        match &event.attributes {
            Some(Attributes::WorkflowExecutionSignaledEventAttributes(s))
                if plan.reapply_signals =>
            {
                SignalInput {
                    name: &s.signal_name,
                    input: s.input.as_ref(),
                    header: s.header.as_ref(),
                    identity: &s.identity,
                    request_id: &s.request_id,
                    external: s.external_workflow_execution.as_ref(),
                }
                .record(cx);
            }
            Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a))
                if plan.reapply_updates =>
            {
                if let Some(request) = &a.accepted_request {
                    update::admit_reapplied(cx, request);
                }
            }
            Some(Attributes::WorkflowExecutionUpdateAdmittedEventAttributes(a))
                if plan.reapply_updates =>
            {
                if let Some(request) = &a.request {
                    update::admit_reapplied(cx, request);
                }
            }
            _ => {}
        }
    }
}

/// The run and execution timeouts restart at the reset.
fn restart_timeouts(cx: &mut Apply<'_>) {
    let now = cx.now;
    let execution_timeout = cx.state.execution_timeout_ms;
    let expiration = if execution_timeout > 0 {
        now.saturating_add(execution_timeout)
    } else {
        0
    };
    cx.state.execution_expiration_ms = expiration;
    if cx.state.run_timeout_ms > 0 {
        let mut fire_at = now.saturating_add(cx.state.run_timeout_ms);
        if expiration > 0 {
            fire_at = fire_at.min(expiration);
        }
        cx.timer(TimerTask::new(TimerKind::WorkflowRunTimeout, fire_at, 0, 0));
    }
    if expiration > 0 {
        cx.timer(TimerTask::new(
            TimerKind::WorkflowExecutionTimeout,
            expiration,
            0,
            0,
        ));
    }
}

/// Temporal's reset failure: the reason as message, `ResetWorkflowFailureInfo`.
fn reset_failure(reason: &str) -> Failure {
    Failure {
        message: reason.to_string(),
        failure_info: Some(FailureInfo::ResetWorkflowFailureInfo(
            ResetWorkflowFailureInfo::default(),
        )),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
