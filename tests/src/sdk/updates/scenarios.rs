//! The update scenarios through the official client: accepted, rejected, the same update id
//! twice, update-with-start. Deterministic, so also compared between the servers.

use super::*;

/// An accepted update: `add(5)` on a counter at 10 returns 15 to the client; the history has
/// WorkflowExecutionUpdateAccepted (with the request) and WorkflowExecutionUpdateCompleted
/// (pointing at it, with result 15) for it, after a workflow task of their own.
pub async fn update_accepted(target: &Target) -> Outcome {
    let setup = UpdateSetup::new(target, "update-accepted").await;
    let handle = setup.start_idle(10, &unique("update-accepted")).await;
    let value = setup.update(&handle, 5, "add-five").await.expect("add(5)");
    assert_eq!(value, 15);
    assert_eq!(setup.finish(&handle).await, 15);
    let outcome = setup.done(&handle).await;
    let history = &outcome.history;
    assert_eq!(accepted_and_completed(history, "add-five", "add"), 15);
    let types = event_types(history);
    let accepted_at = types
        .iter()
        .position(|t| *t == EventType::WorkflowExecutionUpdateAccepted)
        .expect("accepted");
    assert_eq!(
        types[accepted_at - 3..=accepted_at + 1],
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted,
        ],
        "{types:?}"
    );
    assert_eq!(types.last(), Some(&EventType::WorkflowExecutionCompleted));
    outcome
}

/// A rejected update: the validator refuses `add(-1)`; the client gets the validator's
/// message as the update's failure, and the history is exactly as before — no update event and
/// no workflow task for it (Temporal drops the speculative task).
pub async fn update_rejected(target: &Target) -> Outcome {
    let setup = UpdateSetup::new(target, "update-rejected").await;
    let handle = setup.start_idle(10, &unique("update-rejected")).await;
    let before = setup.history(&handle).await;
    match setup.update(&handle, -1, "add-negative").await {
        Err(WorkflowUpdateError::Failed(failure)) => {
            assert!(failure.message.contains(NEGATIVE), "{failure:?}")
        }
        other => panic!("the validator rejects add(-1): {other:?}"),
    }
    let after = setup.history(&handle).await;
    assert_eq!(
        event_types(&after),
        event_types(&before),
        "a rejection writes nothing"
    );
    assert_eq!(
        setup.update(&handle, 1, "add-one").await.expect("add(1)"),
        11
    );
    assert_eq!(setup.finish(&handle).await, 11);
    let outcome = setup.done(&handle).await;
    let rejected_in_history = outcome.history.iter().any(|e| match &e.attributes {
        Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) => {
            a.protocol_instance_id == "add-negative"
        }
        _ => false,
    });
    assert!(!rejected_in_history, "{:?}", event_types(&outcome.history));
    assert_eq!(
        events_of(&outcome.history, EventType::WorkflowExecutionUpdateAccepted).len(),
        2,
        "add(1) and finish only"
    );
    outcome
}

/// The same update id twice: both calls return the first call's result and the update runs
/// once (the counter ends at 15, not 20; one Accepted event).
pub async fn update_same_id_twice(target: &Target) -> Outcome {
    let setup = UpdateSetup::new(target, "update-dedup").await;
    let handle = setup.start_idle(10, &unique("update-dedup")).await;
    assert_eq!(setup.update(&handle, 5, "once").await.expect("first"), 15);
    assert_eq!(setup.update(&handle, 5, "once").await.expect("second"), 15);
    assert_eq!(setup.finish(&handle).await, 15);
    let outcome = setup.done(&handle).await;
    assert_eq!(accepted_and_completed(&outcome.history, "once", "add"), 15);
    outcome
}

/// Update-with-start: one call starts the counter at 10 and adds 5 (result 15); its first
/// workflow task carries the update. A second call with USE_EXISTING adds 1 to the same run
/// (16); one with FAIL is refused as "already started", naming the run.
pub async fn update_with_start(target: &Target) -> Outcome {
    let setup = UpdateSetup::new(target, "update-with-start").await;
    let workflow_id = unique("update-with-start");
    let call = |policy, amount, update_id: &'static str| {
        let options = WorkflowUpdateWithStartOptions::new(
            setup.task_queue.clone(),
            workflow_id.clone(),
            policy,
        )
        .update_id(update_id.to_string())
        .build();
        let call = setup.client.execute_update_with_start_workflow(
            CounterWorkflow::run,
            10,
            CounterWorkflow::add,
            amount,
            options,
        );
        setup.wait(update_id, call)
    };
    let first = call(WorkflowIdConflictPolicy::Fail, 5, "start-add").await;
    assert_eq!(first.expect("update-with-start starts and updates"), 15);
    let again = call(WorkflowIdConflictPolicy::UseExisting, 1, "existing-add").await;
    assert_eq!(
        again.expect("update-with-start on the running workflow"),
        16,
        "the update went to the running counter (not a new one at 10)"
    );
    let run_id = match call(WorkflowIdConflictPolicy::Fail, 1, "refused-add").await {
        Err(WorkflowUpdateWithStartError::Start(WorkflowStartError::AlreadyStarted {
            run_id: Some(running),
            ..
        })) => running,
        other => panic!("FAIL on a running workflow is AlreadyStarted with its run: {other:?}"),
    };

    let handle = setup.handle(&workflow_id, &run_id);
    assert_eq!(setup.finish(&handle).await, 16);
    let outcome = setup.done(&handle).await;
    let history = &outcome.history;
    assert_eq!(accepted_and_completed(history, "start-add", "add"), 15);
    assert_eq!(accepted_and_completed(history, "existing-add", "add"), 16);
    assert_eq!(
        event_types(&history[..6]),
        [
            EventType::WorkflowExecutionStarted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted,
        ],
        "the first task carries the update"
    );
    outcome
}
