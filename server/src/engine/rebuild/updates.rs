//! The updates of a rebuilt run, from their events: `WorkflowExecutionUpdateAdmitted` (a
//! reset reapplied the update), `…Accepted` and `…Completed`. An update a client admitted
//! first appears with its acceptance; one the workflow rejected, or left unanswered, never
//! appears at all.

use std::collections::BTreeMap;

use temporalio_protos::temporal::api::{
    enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage,
    history::v1::{
        WorkflowExecutionUpdateAcceptedEventAttributes,
        WorkflowExecutionUpdateCompletedEventAttributes,
    },
    update::v1::Request,
};

use crate::engine::{MutableState, UpdateInfo};

/// A workflow task completed: the admitted updates it carried leave the state. Its completion
/// accepted them (their Accepted events follow, and take them back with [`accept`]) or the
/// engine dropped them (rejected or left unanswered, which history does not show).
pub(super) fn take_carried(state: &mut MutableState) -> BTreeMap<String, UpdateInfo> {
    let (carried, kept) = std::mem::take(&mut state.updates)
        .into_iter()
        .partition(|(_, u)| u.is_admitted() && u.sent);
    state.updates = kept;
    carried
}

/// `WorkflowExecutionUpdateAdmitted`: a reapplied update, its request in the event.
pub(super) fn admit(
    state: &mut MutableState,
    id: i64,
    request: Option<&Request>,
) -> Result<(), String> {
    let update_id = request
        .and_then(|r| r.meta.as_ref())
        .map(|m| m.update_id.clone())
        .filter(|update_id| !update_id.is_empty())
        .ok_or("an admitted update without an update id")?;
    if state.updates.contains_key(&update_id) {
        return Err(format!("update {update_id:?} is admitted twice"));
    }
    state.updates.insert(
        update_id.clone(),
        UpdateInfo {
            update_id,
            stage: Stage::Admitted as i32,
            admitted_event_id: id,
            ..Default::default()
        },
    );
    Ok(())
}

/// `WorkflowExecutionUpdateAccepted`: the update the completed task `carried` (a reapplied
/// one), or one a client admitted, whose admission history does not show.
pub(super) fn accept(
    state: &mut MutableState,
    carried: &mut BTreeMap<String, UpdateInfo>,
    id: i64,
    a: &WorkflowExecutionUpdateAcceptedEventAttributes,
) -> Result<(), String> {
    let update_id = &a.protocol_instance_id;
    let admitted = match state.updates.remove(update_id) {
        Some(info) if info.is_admitted() => Some(info),
        Some(info) => {
            return Err(format!(
                "update {update_id:?} is already {}",
                info.stage().as_str_name()
            ));
        }
        None => carried.remove(update_id),
    };
    let admitted = admitted.unwrap_or_else(|| UpdateInfo {
        update_id: update_id.clone(),
        ..Default::default()
    });
    state.updates.insert(
        update_id.clone(),
        UpdateInfo {
            stage: Stage::Accepted as i32,
            request: None,
            admitted_seq: 0,
            sent: false,
            accepted_event_id: id,
            ..admitted
        },
    );
    Ok(())
}

/// `WorkflowExecutionUpdateCompleted`: the update its accepted event names.
pub(super) fn complete(
    state: &mut MutableState,
    id: i64,
    c: &WorkflowExecutionUpdateCompletedEventAttributes,
) -> Result<(), String> {
    let info = state
        .updates
        .values_mut()
        .find(|u| u.stage() == Stage::Accepted && u.accepted_event_id == c.accepted_event_id)
        .ok_or_else(|| format!("no accepted update has event {}", c.accepted_event_id))?;
    info.stage = Stage::Completed as i32;
    info.completed_event_id = id;
    Ok(())
}
