//! Resets of runs with updates: the prefix's updates keep their outcomes, the updates accepted
//! after the reset point are reapplied as `WorkflowExecutionUpdateAdmitted` and run again, and
//! the updates clients had admitted into the replaced run are dropped with it.

use temporalio_protos::temporal::api::{
    enums::v1::{EventType, UpdateAdmittedEventOrigin},
    history::v1::{HistoryEvent, history_event::Attributes as A},
};

use super::{Base, NOW, new_events};
use crate::engine::{
    Effect, MutableState, UpdateChange, UpdateStatus, admit_update,
    rebuild::assert_rebuilds,
    terminate_for_reset,
    test_support::*,
    update::test_support::{accept, complete, respond, update_req},
    update_messages, update_status, workflow_task_started,
};

/// Starts the pending workflow task and completes it accepting and answering `update_id`;
/// returns the id of the task's `WorkflowTaskCompleted`.
fn answer_update(
    state: &mut MutableState,
    history: &mut Vec<HistoryEvent>,
    update_id: &str,
) -> i64 {
    let task = state.pending_workflow_task().expect("a task").clone();
    let started = workflow_task_started(state, task.scheduled_event_id, 1, "w", "p", T0);
    history.extend(started.expect("start").events);
    let messages = vec![accept(update_id), respond(update_id, "done")];
    let t = complete(state, vec![], messages).expect("complete");
    history.extend(t.events);
    let completed = history
        .iter()
        .rfind(|e| e.event_type() == EventType::WorkflowTaskCompleted);
    completed.expect("the task completed").event_id
}

/// A base run that is idle after its first task, then got update `u1` (events 5–9) and update
/// `u2` (events 10–14), each on a speculative task that turned real; and the id of the
/// `WorkflowTaskCompleted` (12) of the task that accepted `u2`.
fn two_updates() -> (Base, i64) {
    let mut base = Base::new(&start_req());
    base.run_task(vec![]);
    for (update_id, completed) in [("u1", 7), ("u2", 12)] {
        let (t, _) = admit_update(&mut base.state, &update_req(update_id, "set"), T0).unwrap();
        base.take(t);
        let Base { state, history } = &mut base;
        assert_eq!(answer_update(state, history, update_id), completed);
    }
    assert_eq!(base.state.next_event_id(), 15);
    (base, 12)
}

fn accepted_request(
    event: &HistoryEvent,
) -> Option<&temporalio_protos::temporal::api::update::v1::Request> {
    match &event.attributes {
        Some(A::WorkflowExecutionUpdateAcceptedEventAttributes(a)) => a.accepted_request.as_ref(),
        other => panic!("not an accepted event: {other:?}"),
    }
}

#[test]
fn the_prefixs_updates_keep_their_outcomes_and_later_ones_are_reapplied() {
    let (base, point) = two_updates();
    let (mut state, t) = base.reset(point, true).unwrap();
    assert_eq!(
        new_events(&t, point),
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionUpdateAdmitted,
            EventType::WorkflowTaskScheduled
        ]
    );
    let Some(A::WorkflowExecutionUpdateAdmittedEventAttributes(admitted)) =
        &t.events[12].attributes
    else {
        panic!("{:?}", t.events[12])
    };
    assert_eq!(admitted.origin, UpdateAdmittedEventOrigin::Reapply as i32);
    assert_eq!(
        admitted.request.as_ref(),
        accepted_request(&base.history[12])
    );
    assert_eq!(
        update_status(&state, "u1"),
        Some(UpdateStatus::Completed {
            completed_event_id: 9
        }),
        "an update completed before the reset point answers with its outcome"
    );
    assert_eq!(update_status(&state, "u2"), Some(UpdateStatus::Admitted));
    let (again, status) = admit_update(&mut state, &update_req("u1", "set"), NOW).unwrap();
    assert!(
        again.is_empty(),
        "the same id is the same update: {again:?}"
    );
    assert_eq!(
        status,
        UpdateStatus::Completed {
            completed_event_id: 9
        }
    );
    assert_eq!(base.state.speculative_tasks, 2);
    assert_eq!(state.speculative_tasks, 0, "the new run numbers its own");

    // The new run's worker finds u2 in history, not in a message, and runs it again.
    let mut history = t.events;
    let started = workflow_task_started(&mut state, 14, 1, "w", "p", NOW).unwrap();
    history.extend(started.events);
    assert!(
        update_messages(&state).is_empty(),
        "the admitted event is the request"
    );
    let t = complete(
        &mut state,
        vec![],
        vec![accept("u2"), respond("u2", "done")],
    )
    .unwrap();
    assert_eq!(
        types(&t),
        [
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted
        ]
    );
    assert_eq!(
        accepted_request(&t.events[1]),
        None,
        "the admitted event has the request (Temporal's rule)"
    );
    history.extend(t.events);
    assert_eq!(
        update_status(&state, "u2"),
        Some(UpdateStatus::Completed {
            completed_event_id: 18
        })
    );
    assert_rebuilds(&state, &history);

    // Reset again, before u2 was reapplied: its admitted event is reapplied, once.
    let again = Base { state, history };
    let (state, t) = again.reset(point, true).unwrap();
    assert_eq!(
        new_events(&t, point),
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionUpdateAdmitted,
            EventType::WorkflowTaskScheduled
        ]
    );
    assert_eq!(update_status(&state, "u2"), Some(UpdateStatus::Admitted));
}

#[test]
fn without_reapply_the_later_updates_are_gone() {
    let (base, point) = two_updates();
    let (state, t) = base.reset(point, false).unwrap();
    assert_eq!(
        new_events(&t, point),
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowTaskScheduled
        ]
    );
    assert_eq!(update_status(&state, "u2"), None);
    assert!(update_status(&state, "u1").is_some());
}

#[test]
fn updates_clients_admitted_into_the_replaced_run_are_dropped_with_it() {
    let mut base = Base::new(&start_req());
    let first = base.run_task(vec![]);
    let (t, _) = admit_update(&mut base.state, &update_req("u3", "set"), T0).unwrap();
    assert!(t.events.is_empty(), "admitted, on a speculative task");
    let (state, _) = base.reset(first, true).unwrap();
    assert_eq!(update_status(&state, "u3"), None, "in no history");

    let t = terminate_for_reset(&mut base.state, "fix the bug", NOW).unwrap();
    assert_eq!(
        types(&t),
        [EventType::WorkflowExecutionTerminated],
        "the speculative task nobody started leaves no trace"
    );
    let aborted = Effect::Update(Box::new(UpdateChange {
        update_id: "u3".into(),
        rejection: None,
    }));
    assert!(
        t.effects.contains(&aborted),
        "its waiter re-reads: {:?}",
        t.effects
    );
    assert_eq!(update_status(&base.state, "u3"), None);
}
