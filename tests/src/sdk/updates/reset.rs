//! A reset of a workflow that has accepted and completed updates, on either server: the
//! updates before the reset point stay in the reset run (the same id answers the same
//! outcome, the update does not run again), and an update accepted after the reset point is
//! reapplied as `WorkflowExecutionUpdateAdmitted` and run again by the reset run's worker, as
//! Temporal's resetter does by default.

use temporalio_protos::temporal::api::{
    enums::v1::UpdateAdmittedEventOrigin,
    history::v1::WorkflowExecutionUpdateAcceptedEventAttributes,
};

use super::{requests::poll_completed, *};
use crate::sdk::reset::reset;

/// A counter at 10 gets `add(5)` (id `before-reset`, 15) and `add(2)` (`after-point`, 17),
/// each on a task of its own; then it is reset to the `WorkflowTaskCompleted` of the task that
/// accepted `after-point`. The reset run's prefix holds `before-reset`'s events; `after-point`
/// comes back as an admitted event and its worker accepts and completes it again. The same two
/// update ids on the reset run then answer 15 and 17 without running again (`finish` sees 17,
/// not 24), a poll of `before-reset` answers 15, and the base run ends terminated. Returns the
/// reset run's outcome.
pub async fn update_then_reset(target: &Target) -> Outcome {
    let setup = UpdateSetup::new(target, "update-reset").await;
    let workflow_id = unique("update-reset");
    let handle = setup.start_idle(10, &workflow_id).await;
    assert_eq!(
        setup
            .update(&handle, 5, "before-reset")
            .await
            .expect("add(5)"),
        15
    );
    assert_eq!(
        setup
            .update(&handle, 2, "after-point")
            .await
            .expect("add(2)"),
        17
    );
    let base_run = handle
        .run_id()
        .expect("a started handle knows its run")
        .to_string();
    let base = setup.history(&handle).await;
    assert_eq!(
        event_types(&base[4..]),
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted,
        ],
        "{:?}",
        event_types(&base)
    );
    let point = base[11].event_id;
    assert_eq!(
        point, 12,
        "the task that accepted after-point completed at 12"
    );

    let new_run = reset(target, &workflow_id, &base_run, point).await;
    let current = setup.handle(&workflow_id, &new_run);
    setup
        .wait_for_event(&current, EventType::WorkflowExecutionUpdateCompleted)
        .await;
    for (amount, update_id, value, why) in [
        (
            5,
            "before-reset",
            15,
            "completed before the reset point: its outcome",
        ),
        (
            2,
            "after-point",
            17,
            "reapplied: its outcome in the reset run",
        ),
    ] {
        let again = setup.update(&current, amount, update_id).await;
        assert_eq!(again.expect("the same id again"), value, "{why}");
    }
    assert_eq!(
        poll_completed(&setup.connection, &workflow_id, "before-reset").await,
        15
    );
    assert_eq!(setup.finish(&current).await, 17, "neither update ran twice");

    let base_after = history_of(&setup.connection, &workflow_id, &base_run).await;
    assert_eq!(
        base_after.last().map(HistoryEvent::event_type),
        Some(EventType::WorkflowExecutionTerminated)
    );
    let outcome = setup.done(&current).await;
    check_reset_history(&outcome.history, &base);
    outcome
}

/// The reset run: the base's events before the point, the reset's failed task, `after-point`
/// admitted again (origin REAPPLY, with its request), a new task that accepts it (without the
/// request: the admitted event has it) and completes it with 17; `before-reset` as in the base.
fn check_reset_history(history: &[HistoryEvent], base: &[HistoryEvent]) {
    assert_eq!(history[..11], base[..11], "the prefix is the base run's");
    assert_eq!(
        event_types(&history[11..14]),
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionUpdateAdmitted,
            EventType::WorkflowTaskScheduled,
        ],
        "{:?}",
        event_types(history)
    );
    match &history[12].attributes {
        Some(Attributes::WorkflowExecutionUpdateAdmittedEventAttributes(admitted)) => {
            assert_eq!(admitted.origin(), UpdateAdmittedEventOrigin::Reapply);
            let request = admitted.request.as_ref().expect("the request");
            assert_eq!(
                request.meta.as_ref().map(|m| m.update_id.as_str()),
                Some("after-point")
            );
            assert_eq!(request.input.as_ref().map(|i| i.name.as_str()), Some("add"));
        }
        other => panic!("an admitted update, got {other:?}"),
    }
    assert_eq!(accepted_and_completed(history, "before-reset", "add"), 15);
    let accepted: Vec<(i64, &WorkflowExecutionUpdateAcceptedEventAttributes)> = history
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a))
                if a.protocol_instance_id == "after-point" =>
            {
                Some((e.event_id, a))
            }
            _ => None,
        })
        .collect();
    assert_eq!(accepted.len(), 1, "{:?}", event_types(history));
    let (accepted_id, attributes) = accepted[0];
    assert!(accepted_id > 14, "accepted by the reset run's task");
    assert_eq!(
        attributes.accepted_request, None,
        "the admitted event has it"
    );
    assert_eq!(attributes.accepted_request_sequencing_event_id, 13);
    let result = history.iter().find_map(|e| match &e.attributes {
        Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(c))
            if c.accepted_event_id == accepted_id =>
        {
            c.outcome.as_ref().and_then(|o| o.value.clone())
        }
        _ => None,
    });
    match result {
        Some(outcome::Value::Success(payloads)) => {
            let value: i64 = serde_json::from_slice(&payloads.payloads[0].data).expect("JSON");
            assert_eq!(value, 17);
        }
        other => panic!("after-point did not complete in the reset run: {other:?}"),
    }
}
