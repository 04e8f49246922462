//! The reset transition on histories the engine wrote: the new run's events and effects for
//! each kind of reset point, the refusals, and the termination of the replaced run.

use temporalio_protos::temporal::api::{
    command::v1::Command,
    enums::v1::EventType,
    history::v1::history_event::Attributes as A,
    workflowservice::v1::{StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest},
};

use super::*;
use crate::engine::{
    ParentInfo, RunIdentity, RunLineage, activity_task_started, complete_activity,
    complete_workflow_task, rebuild, signal, start_run, start_workflow, terminate_workflow,
    test_support::*, time::duration, workflow_task_started,
};

mod updates;

/// When the tests reset.
const NOW: i64 = T0 + 60_000;

/// A base run driven through the engine, with its whole history.
struct Base {
    state: MutableState,
    history: Vec<HistoryEvent>,
}

impl Base {
    fn new(req: &StartWorkflowExecutionRequest) -> Self {
        let (state, t) = start_workflow(req, "run-1", T0).unwrap();
        Base {
            state,
            history: t.events,
        }
    }

    fn take(&mut self, t: Transition) {
        self.history.extend(t.events);
    }

    fn signal(&mut self, request_id: &str) {
        let t = signal(&mut self.state, &signal_req("go", request_id), T0).unwrap();
        self.take(t);
    }

    /// Starts the pending task and completes it with `commands`; returns the completed id.
    fn run_task(&mut self, commands: Vec<Command>) -> i64 {
        let task = self.state.pending_workflow_task().unwrap().clone();
        let t = workflow_task_started(&mut self.state, task.scheduled_event_id, 1, "w", "p", T0);
        self.take(t.unwrap());
        let started = self.state.next_event_id() - 1;
        let req = completed_req(commands);
        let t = complete_workflow_task(
            &mut self.state,
            task.scheduled_event_id,
            started,
            1,
            &req,
            "run-2",
            T0,
        );
        self.take(t.unwrap());
        started + 1
    }

    fn reset(&self, finish: i64, reapply: bool) -> Result<(MutableState, Transition), EngineError> {
        let len = reset_prefix_len(&self.state, finish)?;
        let identity = RunIdentity {
            namespace: "default",
            run_id: "run-new",
            start_request_id: "start-req",
        };
        let (prefix, later) = self.history.split_at(len);
        let rebuilt = rebuild(&identity, prefix).expect("an engine history rebuilds");
        let plan = ResetPlan {
            base_run_id: "run-1",
            new_run_id: "run-new",
            reason: "fix the bug",
            request_id: "reset-req",
            finish_event_id: finish,
            reapply_signals: reapply,
            reapply_updates: reapply,
        };
        reset_run(rebuilt, prefix, later, &plan, NOW)
    }

    /// Asserts that a reset to `finish` is refused as invalid with a message containing `needle`.
    fn refused(&self, finish: i64, needle: &str) {
        match self.reset(finish, true) {
            Err(EngineError::InvalidArgument(message)) if message.contains(needle) => {}
            other => {
                panic!("reset to {finish}: expected InvalidArgument with {needle:?}, got {other:?}")
            }
        }
    }
}

fn new_events(t: &Transition, from: i64) -> Vec<EventType> {
    t.events
        .iter()
        .filter(|e| e.event_id >= from)
        .map(|e| e.event_type())
        .collect()
}

#[test]
fn reset_to_the_first_task_reapplies_later_signals() {
    let mut base = Base::new(&start_req());
    let first = base.run_task(vec![schedule_activity_cmd("a", |_| {})]);
    base.signal("r1");
    base.run_task(vec![]);
    base.signal("r2");
    assert_eq!(first, 4);

    let (state, t) = base.reset(first, true).unwrap();
    assert_eq!(
        t.events[..3],
        base.history[..3],
        "the prefix is copied as it was"
    );
    assert_eq!(ids(&t), (1..=7).collect::<Vec<_>>());
    assert_eq!(
        new_events(&t, 4),
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled
        ]
    );
    let Some(A::WorkflowTaskFailedEventAttributes(f)) = &t.events[3].attributes else {
        panic!("{:?}", t.events[3])
    };
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
    assert_eq!(f.cause, WorkflowTaskFailedCause::ResetWorkflow as i32);
    assert_eq!(
        (f.base_run_id.as_str(), f.new_run_id.as_str()),
        ("run-1", "run-new")
    );
    assert_eq!(f.identity, RESET_IDENTITY);
    let failure = f.failure.as_ref().unwrap();
    assert_eq!(failure.message, "fix the bug");
    assert!(matches!(
        failure.failure_info,
        Some(FailureInfo::ResetWorkflowFailureInfo(_))
    ));
    let Some(A::WorkflowExecutionSignaledEventAttributes(s)) = &t.events[4].attributes else {
        panic!()
    };
    assert_eq!(
        (s.request_id.as_str(), s.identity.as_str()),
        ("r1", "client")
    );
    let Some(A::WorkflowTaskScheduledEventAttributes(s)) = &t.events[6].attributes else {
        panic!()
    };
    assert_eq!(s.attempt, 1);
    assert_eq!(
        t.effects,
        [Effect::WorkflowTask {
            task_queue: TASK_QUEUE.into(),
            scheduled_event_id: 7,
            attempt: 1
        }]
    );
    assert_eq!(state.run_id(), "run-new");
    assert_eq!(state.first_execution_run_id(), "run-1");
    assert_eq!(state.start_request_id(), "start-req");
    assert_eq!(state.reset_request_id(), "reset-req");
    assert_eq!(state.signal_request_ids, ["r1", "r2"]);
    assert_eq!(
        state.pending_activities().count(),
        0,
        "scheduled after the reset point"
    );
    assert_eq!(state.next_event_id(), 8);
    assert_eq!(
        state.start_time_ms(),
        NOW,
        "the reset run starts at the reset"
    );
    assert!(!state.is_closed());

    let (_, without) = base.reset(first, false).unwrap();
    assert_eq!(
        new_events(&without, 4),
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowTaskScheduled
        ]
    );
}

#[test]
fn pending_activities_and_timers_are_dispatched_and_armed_again() {
    let mut base = Base::new(&start_req());
    base.run_task(vec![
        schedule_activity_cmd("a", |a| {
            a.schedule_to_close_timeout = Some(duration(30_000))
        }),
        start_timer_cmd("t", 5_000),
    ]);
    base.signal("");
    let second = base.run_task(vec![]);

    let (state, t) = base.reset(second, true).unwrap();
    assert_eq!(
        new_events(&t, second),
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowTaskScheduled
        ]
    );
    // The activity again from attempt 1, its schedule-to-close deadline from now, the user
    // timer for its original fire time, and the new task.
    let deadline = TimerTask::new(TimerKind::ActivityScheduleToClose, NOW + 30_000, 5, 0);
    let mut timer = TimerTask::new(TimerKind::UserTimer, T0 + 5_000, 6, 0);
    timer.timer_id = "t".into();
    let dispatched: Vec<_> = t
        .effects
        .iter()
        .map(|effect| match effect {
            Effect::ActivityTask {
                scheduled_event_id,
                attempt,
                ..
            } => format!("activity {scheduled_event_id}/{attempt}"),
            Effect::Timer(armed) if *armed == deadline => "schedule-to-close".into(),
            Effect::Timer(armed) if *armed == timer => "user timer".into(),
            Effect::WorkflowTask {
                scheduled_event_id, ..
            } => format!("task {scheduled_event_id}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        dispatched,
        [
            "activity 5/1",
            "schedule-to-close",
            "user timer",
            &format!("task {}", second + 1)
        ]
    );
    let activity = state.pending_activity(5).unwrap();
    assert_eq!(activity.attempt, 1);
    assert_eq!(activity.scheduled_time, Some(timestamp(NOW)));
}

#[test]
fn a_task_only_scheduled_at_the_reset_point_is_started_then_failed() {
    let mut base = Base::new(&start_req());
    base.run_task(vec![]);
    let (_, t) = base.reset(3, true).unwrap();
    assert_eq!(
        new_events(&t, 3),
        [
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskFailed,
            EventType::WorkflowTaskScheduled
        ]
    );
    let Some(A::WorkflowTaskStartedEventAttributes(s)) = &t.events[2].attributes else {
        panic!()
    };
    assert_eq!(
        (s.scheduled_event_id, s.identity.as_str()),
        (2, RESET_IDENTITY)
    );
    let Some(A::WorkflowTaskFailedEventAttributes(f)) = &t.events[3].attributes else {
        panic!()
    };
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
}

#[test]
fn a_reset_point_inside_a_batch_is_refused() {
    let mut base = Base::new(&start_req());
    base.run_task(vec![schedule_activity_cmd("a", |_| {})]);
    base.signal(""); // 6, task scheduled at 7 and not started
    activity_task_started(&mut base.state, 5, 1, "aw", "ap", T0).unwrap();
    let t = complete_activity(&mut base.state, 5, 1, Some(payloads("r")), "aw", T0).unwrap();
    assert_eq!(
        ids(&t),
        [8, 9],
        "ActivityTaskStarted and ActivityTaskCompleted, one batch"
    );
    base.take(t);
    base.refused(9, "one batch");
    // After the batch, the task scheduled at 7 is still pending: a valid point.
    base.run_task(vec![]);
    let (state, t) = base.reset(10, true).unwrap();
    assert_eq!(
        new_events(&t, 10),
        [
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskFailed,
            EventType::WorkflowTaskScheduled
        ]
    );
    assert_eq!(
        state.pending_activities().count(),
        0,
        "it completed before the point"
    );
}

#[test]
fn run_and_execution_timeouts_restart_at_the_reset() {
    let mut req = start_req();
    req.workflow_execution_timeout = Some(duration(100_000));
    let mut base = Base::new(&req);
    let first = base.run_task(vec![]);
    let (state, t) = base.reset(first, true).unwrap();
    for kind in [
        TimerKind::WorkflowRunTimeout,
        TimerKind::WorkflowExecutionTimeout,
    ] {
        let timer = Effect::Timer(TimerTask::new(kind, NOW + 100_000, 0, 0));
        assert!(
            t.effects.contains(&timer),
            "{kind:?} at the reset + 100 s: {:?}",
            t.effects
        );
    }
    assert_eq!(state.execution_expiration_ms, NOW + 100_000);
}

#[test]
fn bad_reset_points_are_refused() {
    let mut base = Base::new(&start_req());
    base.run_task(vec![schedule_activity_cmd("a", |_| {})]);
    for finish in [-1, 0, 1, 6, 100] {
        base.refused(finish, "must be > 1");
    }
    // Event 5 (ActivityTaskScheduled) follows a completed task: no task is pending before it.
    base.refused(5, "Can only reset");
}

#[test]
fn children_pending_at_the_reset_point_are_refused() {
    let mut base = Base::new(&start_req());
    base.run_task(vec![start_child_cmd("child-1")]);
    base.signal("");
    let second = base.run_task(vec![]);
    base.refused(second, "child-1");
    assert!(
        base.reset(4, true).is_ok(),
        "before the child was initiated"
    );
}

#[test]
fn the_replaced_run_is_terminated_by_the_resetter_without_notifying_a_parent() {
    let parent = ParentInfo {
        namespace: "default".into(),
        workflow_id: "parent".into(),
        run_id: "parent-run".into(),
        initiated_event_id: 5,
    };
    let lineage = RunLineage {
        parent: Some(parent),
        ..Default::default()
    };
    let (mut child, _) = start_run(&start_req(), "run-1", &lineage, T0).unwrap();
    let mut terminated = child.clone();
    let by_client = terminate_workflow(
        &mut terminated,
        &TerminateWorkflowExecutionRequest::default(),
        T0,
    );
    assert!(
        by_client
            .unwrap()
            .effects
            .iter()
            .any(|e| matches!(e, Effect::NotifyParent(_)))
    );

    let t = terminate_for_reset(&mut child, "fix the bug", T0).unwrap();
    assert_eq!(types(&t), [EventType::WorkflowExecutionTerminated]);
    let Some(A::WorkflowExecutionTerminatedEventAttributes(a)) = &t.events[0].attributes else {
        panic!()
    };
    assert_eq!(
        (a.reason.as_str(), a.identity.as_str()),
        ("fix the bug", RESETTER_IDENTITY)
    );
    assert_eq!(t.effects, [Effect::Closed]);
    assert!(matches!(
        terminate_for_reset(&mut child, "again", T0),
        Err(EngineError::WorkflowClosed)
    ));
    record_reset(&mut child, "run-new");
    assert_eq!(child.reset_run_id(), "run-new");
}
