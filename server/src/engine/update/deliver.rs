//! Delivery: the admitted updates travel with a started workflow task as protocol messages
//! (`PollWorkflowTaskQueueResponse.messages`), one per update in admission order, each with
//! `protocol_instance_id` = update id, id `<update id>/request`, the `Request` as body and
//! sequencing event id = the task's started event id − 1 (Temporal's choice: the SDK applies
//! the update after every event the task shows). An update a reset reapplied is not sent as
//! a message: its `WorkflowExecutionUpdateAdmitted` event, in the task's history, is the request.
//!
//! A speculative task's `WorkflowTaskScheduled` and `WorkflowTaskStarted` events are not in
//! history; the poll response shows them (built here) with the ids they get if the task turns
//! real.

use prost::Message as _;
use temporalio_protos::temporal::api::{
    history::v1::{HistoryEvent, history_event::Attributes},
    protocol::v1::{Message, message::SequencingId},
};

use super::UpdateInfo;
use crate::engine::{MutableState, WorkflowTaskInfo, events::event_type, workflow_task};

/// The type URL of an update request message body.
const REQUEST_TYPE_URL: &str = "type.googleapis.com/temporal.api.update.v1.Request";

/// The protocol messages for the started workflow task: every update delivered with it.
pub fn update_messages(state: &MutableState) -> Vec<Message> {
    let Some(task) = state.workflow_task.as_ref().filter(|t| t.is_started()) else {
        return Vec::new();
    };
    // A reapplied update goes as its admitted event, which the task's history shows.
    let mut sent: Vec<&UpdateInfo> = state
        .updates
        .values()
        .filter(|u| u.is_admitted() && u.sent && !u.admission_in_history())
        .collect();
    sent.sort_by_key(|u| u.admitted_seq);
    sent.into_iter()
        .filter_map(|update| {
            let request = update.request.as_ref()?;
            Some(Message {
                id: format!("{}/request", update.update_id),
                protocol_instance_id: update.update_id.clone(),
                sequencing_id: Some(SequencingId::EventId(task.started_event_id - 1)),
                body: Some(prost_wkt_types::Any {
                    type_url: REQUEST_TYPE_URL.to_string(),
                    value: request.encode_to_vec(),
                }),
            })
        })
        .collect()
}

/// A workflow task is starting: every admitted update goes with it.
pub(crate) fn mark_sent(state: &mut MutableState) {
    for update in state.updates.values_mut() {
        if update.is_admitted() {
            update.sent = true;
        }
    }
}

/// The unwritten `WorkflowTaskScheduled` and `WorkflowTaskStarted` events of the pending
/// workflow task, if it is speculative and started (for the poll response); empty otherwise.
pub fn speculative_task_events(state: &MutableState) -> Vec<HistoryEvent> {
    match state
        .workflow_task
        .as_ref()
        .filter(|t| t.speculative && t.is_started())
    {
        Some(task) => {
            let (scheduled, started) = speculative_events(state, task);
            std::iter::once(scheduled).chain(started).collect()
        }
        None => Vec::new(),
    }
}

/// The events of speculative task `task`: Scheduled, and Started once it is started, with the
/// task's ids and times.
pub(crate) fn speculative_events(
    state: &MutableState,
    task: &WorkflowTaskInfo,
) -> (HistoryEvent, Option<HistoryEvent>) {
    let event = |event_id, event_time, attributes: Attributes| HistoryEvent {
        event_id,
        event_time,
        event_type: event_type(&attributes) as i32,
        attributes: Some(attributes),
        ..Default::default()
    };
    let scheduled = event(
        task.scheduled_event_id,
        task.scheduled_time,
        workflow_task::scheduled_attributes(state, &task.task_queue, task.sticky, task.attempt),
    );
    let started = task.is_started().then(|| {
        event(
            task.started_event_id,
            task.started_time,
            workflow_task::started_attributes(task, state.history_size_bytes),
        )
    });
    (scheduled, started)
}
