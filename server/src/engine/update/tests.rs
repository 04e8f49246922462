//! Unit tests of the update transitions: admission and deduplication, delivery, the worker's
//! answers, speculative tasks (dropped on rejection, turned real otherwise), closing runs.

use prost::Message as _;
use temporalio_protos::temporal::api::{
    enums::v1::{EventType, WorkflowTaskFailedCause},
    history::v1::history_event::Attributes as A,
    protocol::v1::{Message, message::SequencingId},
    update::v1::WaitPolicy,
};

use super::{test_support::*, *};
use crate::engine::{
    Effect, EngineError, MutableState, TimerKind, TimerTask, Transition, child_started, fire_timer,
    signal, terminate_workflow, test_support::*, workflow_task_started,
};

/// An idle run (next event 5) with update `u1` admitted: a speculative task at 5.
fn admitted() -> MutableState {
    let mut state = idle_state();
    admit_update(&mut state, &update_req("u1", "set"), T0).expect("admit");
    state
}

/// [`admitted`] with the speculative task started (ids 5/6, nothing written).
fn speculative_started() -> MutableState {
    let mut state = admitted();
    let t = workflow_task_started(&mut state, 5, 1, "worker", "poll", T0).expect("start");
    assert!(t.events.is_empty(), "a speculative task writes no Started");
    state
}

fn update_changes(t: &Transition) -> Vec<&UpdateChange> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Update(change) => Some(&**change),
            _ => None,
        })
        .collect()
}

#[test]
fn admitting_on_an_idle_run_schedules_a_speculative_task_and_writes_nothing() {
    let mut state = idle_state();
    let (t, status) = admit_update(&mut state, &update_req("u1", "set"), T0).unwrap();
    assert_eq!(status, UpdateStatus::Admitted);
    assert!(t.events.is_empty());
    assert_eq!(
        t.effects,
        [Effect::WorkflowTask {
            task_queue: TASK_QUEUE.into(),
            scheduled_event_id: 5,
            attempt: 1
        }]
    );
    assert!(state.pending_workflow_task().unwrap().speculative);
    assert_eq!(state.next_event_id(), 5);
    assert_eq!(update_status(&state, "u1"), Some(UpdateStatus::Admitted));
}

#[test]
fn a_scheduled_task_carries_the_update_without_a_new_task() {
    let (mut state, _) = started();
    let (t, _) = admit_update(&mut state, &update_req("u1", "set"), T0).unwrap();
    assert!(t.is_empty());
    workflow_task_started(&mut state, 2, 1, "worker", "poll", T0).unwrap();
    let messages = update_messages(&state);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].protocol_instance_id, "u1");
    assert_eq!(messages[0].id, "u1/request");
    assert_eq!(messages[0].sequencing_id, Some(SequencingId::EventId(2)));
    let body = messages[0].body.as_ref().unwrap();
    assert_eq!(
        body.type_url,
        "type.googleapis.com/temporal.api.update.v1.Request"
    );
    let request = Request::decode(body.value.as_slice()).unwrap();
    assert_eq!(request.input.unwrap().name, "set");
}

#[test]
fn the_same_update_id_is_the_same_update() {
    let mut state = admitted();
    let before = state.clone();
    let (t, status) = admit_update(&mut state, &update_req("u1", "other"), T0).unwrap();
    assert!(t.is_empty());
    assert_eq!(status, UpdateStatus::Admitted);
    assert_eq!(state, before);
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let mut state = idle_state();
    let before = state.clone();
    let no_id = update_req("", "set");
    let no_name = update_req("u1", "");
    let mut no_workflow = update_req("u1", "set");
    no_workflow.workflow_execution = None;
    let mut no_request = update_req("u1", "set");
    no_request.request = None;
    let mut bad_stage = update_req("u1", "set");
    bad_stage.wait_policy = Some(WaitPolicy {
        lifecycle_stage: 99,
    });
    for (req, field) in [
        (no_id, "update_id"),
        (no_name, "input.name"),
        (no_workflow, "workflow_id"),
        (no_request, "request"),
        (bad_stage, "lifecycle_stage"),
    ] {
        match admit_update(&mut state, &req, T0) {
            Err(EngineError::InvalidArgument(message)) => {
                assert!(message.contains(field), "{message} names {field}")
            }
            other => panic!("expected InvalidArgument for {field}: {other:?}"),
        }
        assert_eq!(state, before);
    }
}

#[test]
fn another_first_execution_run_id_is_not_found() {
    let mut state = idle_state();
    let mut req = update_req("u1", "set");
    req.first_execution_run_id = "some-other-chain".into();
    assert!(matches!(
        admit_update(&mut state, &req, T0),
        Err(EngineError::NotFound(_))
    ));
    req.first_execution_run_id = "run-1".into();
    admit_update(&mut state, &req, T0).unwrap();
}

#[test]
fn a_closed_run_refuses_new_updates() {
    let mut state = closed_state();
    let before = state.clone();
    assert!(matches!(
        admit_update(&mut state, &update_req("u1", "set"), T0),
        Err(EngineError::WorkflowClosed)
    ));
    assert_eq!(state, before);
}

#[test]
fn the_speculative_task_shows_its_unwritten_events() {
    let state = speculative_started();
    let events = speculative_task_events(&state);
    let shown: Vec<(i64, i32)> = events.iter().map(|e| (e.event_id, e.event_type)).collect();
    assert_eq!(
        shown,
        [
            (5, EventType::WorkflowTaskScheduled as i32),
            (6, EventType::WorkflowTaskStarted as i32)
        ]
    );
    let messages = update_messages(&state);
    assert_eq!(messages[0].sequencing_id, Some(SequencingId::EventId(5)));
}

#[test]
fn a_rejection_on_a_speculative_task_leaves_no_trace() {
    let mut state = speculative_started();
    let t = complete(&mut state, vec![], vec![reject("u1", "negative")]).unwrap();
    assert!(t.events.is_empty(), "{:?}", types(&t));
    assert_eq!(state.next_event_id(), 5);
    assert!(state.pending_workflow_task().is_none());
    assert_eq!(update_status(&state, "u1"), None);
    let changes = update_changes(&t);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].rejection.as_ref().map(|f| f.message.as_str()),
        Some("negative")
    );
    // The same id again is a new update (rejections are forgotten, as in Temporal).
    let (_, status) = admit_update(&mut state, &update_req("u1", "set"), T0).unwrap();
    assert_eq!(status, UpdateStatus::Admitted);
}

#[test]
fn acceptance_turns_the_speculative_task_real() {
    let mut state = speculative_started();
    let (a, r) = (accept("u1"), respond("u1", "old"));
    let t = complete(
        &mut state,
        vec![protocol_cmd(&a), protocol_cmd(&r)],
        vec![a, r],
    )
    .unwrap();
    assert_eq!(
        types(&t),
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted,
        ]
    );
    assert_eq!(ids(&t), [5, 6, 7, 8, 9]);
    let Some(A::WorkflowExecutionUpdateAcceptedEventAttributes(accepted)) = &t.events[3].attributes
    else {
        panic!("{:?}", t.events[3])
    };
    assert_eq!(accepted.protocol_instance_id, "u1");
    assert_eq!(accepted.accepted_request_message_id, "u1/request");
    assert_eq!(
        accepted
            .accepted_request
            .as_ref()
            .unwrap()
            .input
            .as_ref()
            .unwrap()
            .name,
        "set",
        "the stored request is recorded (replay needs it)"
    );
    let Some(A::WorkflowExecutionUpdateCompletedEventAttributes(completed)) =
        &t.events[4].attributes
    else {
        panic!("{:?}", t.events[4])
    };
    assert_eq!(completed.accepted_event_id, 8);
    assert_eq!(completed.meta.as_ref().unwrap().update_id, "u1");
    assert_eq!(
        update_status(&state, "u1"),
        Some(UpdateStatus::Completed {
            completed_event_id: 9
        })
    );
    assert_eq!(update_changes(&t).len(), 2);
    assert_eq!(state.previous_started_event_id(), 6);
    // Same id after completion: the same update, same outcome, nothing new.
    let (again, status) = admit_update(&mut state, &update_req("u1", "set"), T0).unwrap();
    assert!(again.is_empty());
    assert_eq!(
        status,
        UpdateStatus::Completed {
            completed_event_id: 9
        }
    );
}

#[test]
fn an_update_that_closes_the_run_still_wakes_its_waiter() {
    let mut state = speculative_started();
    let (a, r) = (accept("u1"), respond("u1", "last"));
    let t = complete(
        &mut state,
        vec![protocol_cmd(&a), protocol_cmd(&r), complete_cmd()],
        vec![a, r],
    )
    .unwrap();
    assert_eq!(
        types(&t)[3..],
        [
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted,
            EventType::WorkflowExecutionCompleted
        ]
    );
    assert_eq!(update_changes(&t).len(), 2, "{:?}", t.effects);
    assert!(t.effects.contains(&Effect::Closed));
    assert!(matches!(
        update_status(&state, "u1"),
        Some(UpdateStatus::Completed { .. })
    ));
}

#[test]
fn an_update_admitted_while_a_task_runs_waits_for_the_next_task() {
    let mut state = task_in_flight();
    let (t, _) = admit_update(&mut state, &update_req("u1", "set"), T0).unwrap();
    assert!(t.is_empty(), "nothing while the task is started");
    let t = complete(&mut state, vec![], vec![]).unwrap();
    assert_eq!(types(&t), [EventType::WorkflowTaskCompleted]);
    assert!(
        update_changes(&t).is_empty(),
        "not rejected: it was never sent"
    );
    assert!(matches!(
        t.effects[..],
        [Effect::WorkflowTask {
            scheduled_event_id: 5,
            ..
        }]
    ));
    assert!(state.pending_workflow_task().unwrap().speculative);
    assert_eq!(update_status(&state, "u1"), Some(UpdateStatus::Admitted));
}

#[test]
fn an_update_the_worker_did_not_answer_is_rejected_by_the_server() {
    let mut state = speculative_started();
    let t = complete(&mut state, vec![], vec![]).unwrap();
    assert!(t.events.is_empty(), "still only a rejection: dropped");
    let changes = update_changes(&t);
    let failure = changes[0].rejection.as_ref().unwrap();
    assert!(failure.message.contains("wasn't processed by worker"));
    assert_eq!(update_status(&state, "u1"), None);
}

#[test]
fn a_signal_turns_a_scheduled_speculative_task_real_first() {
    let mut state = admitted();
    let t = signal(&mut state, &signal_req("go", ""), T0).unwrap();
    assert_eq!(
        types(&t),
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowExecutionSignaled
        ]
    );
    assert_eq!(ids(&t), [5, 6]);
    assert!(!state.pending_workflow_task().unwrap().speculative);
    assert!(
        t.effects.is_empty(),
        "the task is queued already: {:?}",
        t.effects
    );
}

/// Found by the property test: the started event of a child that starts while a speculative
/// task is scheduled gets the id after the task's Scheduled, and the child remembers that id.
#[test]
fn a_child_start_turns_a_scheduled_speculative_task_real_first() {
    let mut state = parent_with_child();
    admit_update(&mut state, &update_req("u1", "set"), T0).unwrap();
    let t = child_started(&mut state, 5, "child-run", T0).unwrap();
    assert_eq!(
        types(&t),
        [
            EventType::WorkflowTaskScheduled,
            EventType::ChildWorkflowExecutionStarted
        ]
    );
    assert_eq!(ids(&t), [6, 7]);
    assert_eq!(state.pending_child(5).unwrap().started_event_id, 7);
}

#[test]
fn a_signal_during_a_started_speculative_task_writes_its_events_and_buffers() {
    let mut state = speculative_started();
    let t = signal(&mut state, &signal_req("go", ""), T0).unwrap();
    assert_eq!(
        types(&t),
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted
        ]
    );
    let t = complete(&mut state, vec![], vec![reject("u1", "no")]).unwrap();
    assert_eq!(
        types(&t),
        [
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled
        ]
    );
}

#[test]
fn bad_messages_fail_the_task_and_change_nothing() {
    let mut state = speculative_started();
    let before = state.clone();
    let cases = vec![
        (vec![], vec![respond("u1", "x")]),
        (vec![], vec![accept("nobody")]),
        (vec![protocol_cmd(&accept("u1"))], vec![]),
        (
            vec![],
            vec![Message {
                body: None,
                ..accept("u1")
            }],
        ),
        (vec![], vec![message("u1", "x", "Request", Vec::new())]),
    ];
    for (commands, messages) in cases {
        match complete(&mut state, commands, messages) {
            Err(EngineError::CommandRejected { cause, .. }) => assert_eq!(
                cause,
                WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(state, before);
    }
}

#[test]
fn closing_drops_admitted_updates_and_fails_accepted_ones() {
    let mut state = speculative_started();
    let a = accept("u1");
    complete(&mut state, vec![protocol_cmd(&a)], vec![a]).unwrap();
    assert_eq!(update_status(&state, "u1"), Some(UpdateStatus::Accepted));
    admit_update(&mut state, &update_req("u2", "set"), T0).unwrap();
    let t = terminate_workflow(&mut state, &Default::default(), T0).unwrap();
    let woken: Vec<&str> = update_changes(&t)
        .iter()
        .map(|c| c.update_id.as_str())
        .collect();
    assert_eq!(woken, ["u1", "u2"]);
    assert_eq!(update_status(&state, "u2"), None);
    let Some(UpdateStatus::Failed(failure)) = update_status(&state, "u1") else {
        panic!("{:?}", update_status(&state, "u1"))
    };
    assert!(
        failure
            .message
            .contains("completed before the Update completed")
    );
    assert!(
        !types(&t).contains(&EventType::WorkflowTaskScheduled),
        "the unstarted speculative task is dropped, not written: {:?}",
        types(&t)
    );
}

#[test]
fn a_timed_out_speculative_task_is_written_and_retried() {
    let mut state = speculative_started();
    let timer = TimerTask::new(TimerKind::WorkflowTaskStartToClose, T0 + 10_000, 5, 1);
    let t = fire_timer(&mut state, &timer, T0 + 10_000).unwrap();
    assert_eq!(
        types(&t),
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskTimedOut,
            EventType::WorkflowTaskScheduled
        ]
    );
    assert_eq!(update_status(&state, "u1"), Some(UpdateStatus::Admitted));
}

#[test]
fn a_dropped_speculative_tasks_timer_spares_its_successor() {
    let mut state = speculative_started();
    complete(&mut state, vec![], vec![reject("u1", "no")]).unwrap();
    admit_update(&mut state, &update_req("u2", "set"), T0 + 5_000).unwrap();
    workflow_task_started(&mut state, 5, 1, "worker", "poll", T0 + 5_000).unwrap();
    let old_timer = TimerTask::new(TimerKind::WorkflowTaskStartToClose, T0 + 10_000, 5, 1);
    let t = fire_timer(&mut state, &old_timer, T0 + 10_000).unwrap();
    assert!(t.is_empty(), "{:?}", types(&t));
    assert!(state.pending_workflow_task().unwrap().is_started());
}

#[test]
fn a_dropped_speculative_tasks_token_does_not_fit_its_successor() {
    let mut state = speculative_started();
    let first = state.pending_workflow_task().unwrap().generation;
    assert!(first > 0);
    assert!(check_task_generation(&state, first).is_ok());
    complete(&mut state, vec![], vec![reject("u1", "no")]).unwrap();
    admit_update(&mut state, &update_req("u2", "set"), T0).unwrap();
    workflow_task_started(&mut state, 5, 1, "worker", "poll", T0).unwrap();
    let second = state.pending_workflow_task().unwrap().generation;
    assert_ne!(first, second, "same ids and attempt, another generation");
    assert!(matches!(
        check_task_generation(&state, first),
        Err(EngineError::NotFound(_))
    ));
    assert!(check_task_generation(&state, second).is_ok());
    // Ordinary tasks are generation 0, as are tokens that predate generations.
    let normal = task_in_flight();
    assert!(check_task_generation(&normal, 0).is_ok());
}

#[test]
fn in_flight_updates_are_limited() {
    let mut state = idle_state();
    for i in 0..MAX_IN_FLIGHT_UPDATES {
        admit_update(&mut state, &update_req(&format!("u{i}"), "set"), T0).unwrap();
    }
    let before = state.clone();
    assert!(matches!(
        admit_update(&mut state, &update_req("one-more", "set"), T0),
        Err(EngineError::ResourceExhausted(_))
    ));
    assert_eq!(state, before);
    let messages = {
        workflow_task_started(&mut state, 5, 1, "worker", "poll", T0).unwrap();
        update_messages(&state)
    };
    let order: Vec<String> = messages
        .into_iter()
        .map(|m| m.protocol_instance_id)
        .collect();
    let expected: Vec<String> = (0..MAX_IN_FLIGHT_UPDATES)
        .map(|i| format!("u{i}"))
        .collect();
    assert_eq!(order, expected, "delivered in admission order");
}
