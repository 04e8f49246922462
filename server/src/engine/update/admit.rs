//! UpdateWorkflowExecution: the request is checked, deduplicated by update id and admitted
//! into the run's state. A run without a pending workflow task gets a speculative one; a
//! scheduled task carries the update when a worker picks it up; a started task is followed
//! by one (see `answer::finish_task`).

use temporalio_protos::temporal::api::{
    enums::v1::{UpdateAdmittedEventOrigin, UpdateWorkflowExecutionLifecycleStage as Stage},
    history::v1::{WorkflowExecutionUpdateAdmittedEventAttributes, history_event::Attributes},
    update::v1::Request,
    workflowservice::v1::UpdateWorkflowExecutionRequest,
};

use super::{
    MAX_IN_FLIGHT_UPDATES, MAX_TOTAL_UPDATES, UpdateInfo,
    status::{UpdateStatus, update_status},
};
use crate::engine::{
    EngineError, MutableState, Transition, WorkflowTaskInfo,
    apply::{Apply, transact},
};

/// Checks what an UpdateWorkflowExecution request must carry, before anything is looked up:
/// a workflow id, an update id, an update name and a known wait stage. The messages name the
/// field to fix.
pub fn check_update_request(req: &UpdateWorkflowExecutionRequest) -> Result<(), EngineError> {
    let workflow_id = req
        .workflow_execution
        .as_ref()
        .map_or("", |e| e.workflow_id.as_str());
    if workflow_id.is_empty() {
        return Err(EngineError::invalid(
            "workflow_execution.workflow_id is required",
        ));
    }
    let Some(request) = &req.request else {
        return Err(EngineError::invalid("request (the update) is required"));
    };
    let update_id = request.meta.as_ref().map_or("", |m| m.update_id.as_str());
    if update_id.is_empty() {
        return Err(EngineError::invalid(
            "request.meta.update_id is required: choose an id so retries are deduplicated",
        ));
    }
    let name = request.input.as_ref().map_or("", |i| i.name.as_str());
    if name.is_empty() {
        return Err(EngineError::invalid(
            "request.input.name (the update name) is required",
        ));
    }
    let stage = req.wait_policy.as_ref().map_or(0, |p| p.lifecycle_stage);
    if Stage::try_from(stage).is_err() {
        return Err(EngineError::invalid(format!(
            "wait_policy.lifecycle_stage {stage} is not a lifecycle stage"
        )));
    }
    Ok(())
}

/// Admits the update of a checked request ([`check_update_request`]), or returns the status
/// of the update that already has its id (same id, same update — also on a closed run). A
/// closed run otherwise refuses ([`EngineError::WorkflowClosed`]); a request whose
/// `first_execution_run_id` names another chain is NotFound.
pub fn admit_update(
    state: &mut MutableState,
    req: &UpdateWorkflowExecutionRequest,
    now: i64,
) -> Result<(Transition, UpdateStatus), EngineError> {
    check_update_request(req)?;
    if !req.first_execution_run_id.is_empty()
        && req.first_execution_run_id != state.first_execution_run_id
    {
        return Err(EngineError::not_found(format!(
            "workflow execution not found: no run with first_execution_run_id {:?}",
            req.first_execution_run_id
        )));
    }
    let Some(request) = req.request.clone() else {
        return Err(EngineError::invalid("request (the update) is required"));
    };
    let update_id = request.meta.as_ref().map_or("", |m| m.update_id.as_str());
    if let Some(status) = update_status(state, update_id) {
        return Ok((Transition::default(), status));
    }
    state.ensure_running()?;
    check_limits(state)?;
    let update_id = update_id.to_string();
    transact(state, now, |cx| {
        let seq = cx.state.updates_admitted.saturating_add(1);
        cx.state.updates_admitted = seq;
        cx.state.updates.insert(
            update_id.clone(),
            UpdateInfo {
                update_id,
                stage: Stage::Admitted as i32,
                request: Some(request),
                admitted_seq: seq,
                ..Default::default()
            },
        );
        if cx.state.workflow_task.is_none() {
            schedule_speculative(cx);
        }
        Ok(UpdateStatus::Admitted)
    })
}

/// Reapplies, in a reset run, an update its base run accepted after the reset point (or that
/// a reset had already reapplied there): `WorkflowExecutionUpdateAdmitted` with origin
/// REAPPLY and the request, and the update admitted, its request in that event. Temporal
/// reapplies without checking the limits, and so do we (they bound what clients send); an
/// update id the run already has (a continued run that reused it) is skipped.
pub(crate) fn admit_reapplied(cx: &mut Apply<'_>, request: &Request) {
    let update_id = request.meta.as_ref().map_or("", |m| m.update_id.as_str());
    if update_id.is_empty() || cx.state.updates.contains_key(update_id) {
        return;
    }
    let update_id = update_id.to_string();
    let admitted_event_id = cx.append(Attributes::WorkflowExecutionUpdateAdmittedEventAttributes(
        WorkflowExecutionUpdateAdmittedEventAttributes {
            request: Some(request.clone()),
            origin: UpdateAdmittedEventOrigin::Reapply as i32,
        },
    ));
    cx.state.updates.insert(
        update_id.clone(),
        UpdateInfo {
            update_id,
            stage: Stage::Admitted as i32,
            admitted_event_id,
            ..Default::default()
        },
    );
}

/// Schedules a speculative workflow task: in the state and the task queue, not in history.
pub(crate) fn schedule_speculative(cx: &mut Apply<'_>) {
    cx.state.speculative_tasks = cx.state.speculative_tasks.saturating_add(1);
    let task = WorkflowTaskInfo {
        speculative: true,
        generation: cx.state.speculative_tasks,
        ..cx.new_task(cx.state.next_event_id, 1)
    };
    cx.dispatch(task);
}

fn check_limits(state: &MutableState) -> Result<(), EngineError> {
    let in_flight = state.updates.values().filter(|u| u.in_flight()).count();
    if in_flight >= MAX_IN_FLIGHT_UPDATES {
        return Err(EngineError::ResourceExhausted(format!(
            "limit on number of concurrent in-flight updates has been reached \
             ({MAX_IN_FLIGHT_UPDATES}); retry once some have completed"
        )));
    }
    if state.updates.len() >= MAX_TOTAL_UPDATES {
        return Err(EngineError::FailedPrecondition(format!(
            "the limit on the total number of distinct updates in this workflow has been \
             reached ({MAX_TOTAL_UPDATES}); reuse update ids for retries or continue as new"
        )));
    }
    Ok(())
}

/// Refuses a workflow task token issued for another task that had the same event ids and
/// attempt (a dropped speculative task): NotFound, and nothing changes. Call before completing
/// or failing a task with the token's `generation`.
pub fn check_task_generation(state: &MutableState, generation: i64) -> Result<(), EngineError> {
    match &state.workflow_task {
        Some(task) if task.generation != generation => Err(EngineError::not_found(
            "workflow task not found: the token is for an earlier speculative task that was \
             dropped",
        )),
        _ => Ok(()),
    }
}
