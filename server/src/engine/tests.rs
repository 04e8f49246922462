//! Property test: random sequences of operations — signals, updates, workflow tasks started
//! (speculative ones too), completed with random commands and update answers or failed,
//! activities started/completed/failed/canceled, heartbeats, timers fired (stale ones too),
//! cancellation, termination, resets (the driver follows the new run), sticky completions and
//! ResetStickyTaskQueue, on runs started plainly, with a retry policy, a start delay or a cron
//! schedule — keep the history invariants. Operations are driven like the real caller would: effects arm timers that later
//! fire, and a rejected completion is followed by `fail_workflow_task_by_server`. After every
//! operation the history must rebuild into the state the engine kept
//! (`rebuild::assert_rebuilds`).

use std::collections::BTreeMap;

use proptest::prelude::*;
use prost::Message;
use temporalio_protos::temporal::api::{
    command::v1::{
        Command, RecordMarkerCommandAttributes, UpsertWorkflowSearchAttributesCommandAttributes,
        command,
    },
    common::v1::{RetryPolicy, SearchAttributes, WorkflowExecution},
    enums::v1::{CommandType, EventType, StartChildWorkflowExecutionFailedCause},
    history::v1::{HistoryEvent, history_event::Attributes},
    taskqueue::v1::{StickyExecutionAttributes, TaskQueue},
    workflowservice::v1::{
        RequestCancelWorkflowExecutionRequest, RespondWorkflowTaskFailedRequest,
        StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
    },
};

use super::{
    ChildCompletion, ChildInfo, Effect, EngineError, ExternalOutcome, MutableState, ParentInfo,
    TimerTask, Transition, activity_task_started, admit_update, cancel_activity, child_closed,
    child_started, complete_activity, complete_workflow_task, events::is_close_event,
    external_resolved, fail_activity, fail_workflow_task, fail_workflow_task_by_server, fire_timer,
    record_heartbeat, request_cancel_workflow, reset_stickiness, signal, start_child_failed,
    start_run, start_workflow, terminate_workflow, test_support::*, time::duration,
    update::test_support::update_req, workflow_task_started,
};

mod updates_and_resets;

use updates_and_resets::{Ans, ans_strategy};

#[derive(Clone, Debug)]
enum Cmd {
    Schedule {
        id: u8,
        heartbeat: bool,
        schedule_to_close: bool,
    },
    StartTimer {
        id: u8,
        ms: i64,
    },
    CancelTimer {
        id: u8,
    },
    CancelActivity {
        pick: usize,
    },
    Marker,
    Upsert,
    Complete,
    Fail,
    CancelWorkflow,
    ContinueAsNew,
    StartChild {
        id: u8,
    },
    SignalExternal {
        id: u8,
    },
    CancelExternal {
        id: u8,
    },
}

#[derive(Clone, Debug)]
enum Op {
    Signal {
        request_id: u8,
    },
    Update {
        id: u8,
    },
    StartTask {
        wrong: bool,
    },
    CompleteTask {
        cmds: Vec<Cmd>,
        answers: Vec<Ans>,
        force: bool,
        wrong: bool,
        /// The worker asks for its sticky queue (else stickiness is cleared).
        sticky: bool,
    },
    ResetSticky,
    FailTask,
    ActivityStart {
        pick: usize,
        wrong: bool,
    },
    ActivityComplete {
        pick: usize,
        wrong: bool,
    },
    ActivityFail {
        pick: usize,
        non_retryable: bool,
    },
    ActivityCancel {
        pick: usize,
    },
    Heartbeat {
        pick: usize,
    },
    FireTimer {
        pick: usize,
    },
    Advance {
        ms: i64,
    },
    RequestCancel,
    Terminate,
    ChildStarted {
        pick: usize,
    },
    ChildStartFailed {
        pick: usize,
    },
    ChildClosed {
        pick: usize,
    },
    ExternalResolved {
        pick: usize,
        delivered: bool,
    },
    Reset {
        pick: usize,
        reapply: bool,
    },
}

fn cmd_strategy() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        4 => (0u8..4, any::<bool>(), any::<bool>()).prop_map(|(id, heartbeat, schedule_to_close)| {
            Cmd::Schedule { id, heartbeat, schedule_to_close }
        }),
        3 => (0u8..3, 1i64..20_000).prop_map(|(id, ms)| Cmd::StartTimer { id, ms }),
        1 => (0u8..3).prop_map(|id| Cmd::CancelTimer { id }),
        1 => (0usize..4).prop_map(|pick| Cmd::CancelActivity { pick }),
        1 => Just(Cmd::Marker),
        1 => Just(Cmd::Upsert),
        2 => (0u8..3).prop_map(|id| Cmd::StartChild { id }),
        1 => (0u8..3).prop_map(|id| Cmd::SignalExternal { id }),
        1 => (0u8..3).prop_map(|id| Cmd::CancelExternal { id }),
        1 => prop_oneof![
            Just(Cmd::Complete),
            Just(Cmd::Fail),
            Just(Cmd::CancelWorkflow),
            Just(Cmd::ContinueAsNew)
        ],
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..6).prop_map(|request_id| Op::Signal { request_id }),
        4 => (0u8..4).prop_map(|id| Op::Update { id }),
        6 => prop::bool::weighted(0.1).prop_map(|wrong| Op::StartTask { wrong }),
        6 => (
            prop::collection::vec(cmd_strategy(), 0..4),
            prop::collection::vec(ans_strategy(), 0..3),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.1),
            any::<bool>(),
        )
            .prop_map(|(cmds, answers, force, wrong, sticky)| Op::CompleteTask { cmds, answers, force, wrong, sticky }),
        1 => Just(Op::ResetSticky),
        1 => Just(Op::FailTask),
        4 => (0usize..4, prop::bool::weighted(0.1)).prop_map(|(pick, wrong)| Op::ActivityStart { pick, wrong }),
        3 => (0usize..4, prop::bool::weighted(0.1)).prop_map(|(pick, wrong)| Op::ActivityComplete { pick, wrong }),
        3 => (0usize..4, prop::bool::weighted(0.2)).prop_map(|(pick, non_retryable)| Op::ActivityFail { pick, non_retryable }),
        1 => (0usize..4).prop_map(|pick| Op::ActivityCancel { pick }),
        2 => (0usize..4).prop_map(|pick| Op::Heartbeat { pick }),
        5 => (0usize..16).prop_map(|pick| Op::FireTimer { pick }),
        2 => (1i64..30_000).prop_map(|ms| Op::Advance { ms }),
        1 => prop::bool::weighted(0.3).prop_map(|cancel| if cancel { Op::RequestCancel } else { Op::Advance { ms: 1 } }),
        1 => prop::bool::weighted(0.1).prop_map(|end| if end { Op::Terminate } else { Op::Advance { ms: 1 } }),
        3 => (0usize..4).prop_map(|pick| Op::ChildStarted { pick }),
        1 => (0usize..4).prop_map(|pick| Op::ChildStartFailed { pick }),
        3 => (0usize..4).prop_map(|pick| Op::ChildClosed { pick }),
        2 => (0usize..4, any::<bool>()).prop_map(|(pick, delivered)| Op::ExternalResolved { pick, delivered }),
        2 => (0usize..16, prop::bool::weighted(0.8)).prop_map(|(pick, reapply)| Op::Reset { pick, reapply }),
    ]
}

/// The caller's view: the whole history, the armed timers, the clock, how many resets.
struct Driver {
    state: MutableState,
    history: Vec<HistoryEvent>,
    timers: Vec<TimerTask>,
    now: i64,
    resets: u32,
}

/// How the property test's first run is started.
#[derive(Clone, Copy, Debug)]
enum Start {
    Plain,
    /// A workflow retry policy, with run and execution timeouts (the run timeout clamped).
    Retried,
    /// `workflow_start_delay`: the first task waits out a backoff.
    Delayed,
    /// A cron schedule: every run waits for its slot.
    Cron,
}

fn start_strategy() -> impl Strategy<Value = Start> {
    prop_oneof![
        3 => Just(Start::Plain),
        1 => Just(Start::Retried),
        1 => Just(Start::Delayed),
        1 => Just(Start::Cron),
    ]
}

impl Start {
    fn request(self) -> StartWorkflowExecutionRequest {
        let mut req = start_req();
        match self {
            Start::Plain => {}
            Start::Retried => {
                req.retry_policy = Some(RetryPolicy {
                    maximum_attempts: 3,
                    ..Default::default()
                });
                req.workflow_execution_timeout = Some(duration(60_000));
                req.workflow_run_timeout = Some(duration(90_000));
            }
            Start::Delayed => req.workflow_start_delay = Some(duration(2_000)),
            Start::Cron => req.cron_schedule = "* * * * *".into(),
        }
        req
    }
}

impl Driver {
    fn new(start: Start) -> Self {
        let (state, t) = start_workflow(&start.request(), "run-1", T0).expect("start");
        let mut driver = Driver {
            state,
            history: Vec::new(),
            timers: Vec::new(),
            now: T0,
            resets: 0,
        };
        driver.absorb(&t);
        driver
    }

    fn absorb(&mut self, t: &Transition) {
        for event in &t.events {
            let expected = i64::try_from(self.history.len()).unwrap() + 1;
            assert_eq!(event.event_id, expected, "ids are contiguous from 1");
            assert!(event.event_time.is_some(), "every event has a time");
            if let Some(last) = self.history.last() {
                assert!(!is_close_event(ty(last)), "nothing after a close event");
            } else {
                assert_eq!(ty(event), EventType::WorkflowExecutionStarted);
            }
            self.history.push(event.clone());
        }
        for effect in &t.effects {
            if let Effect::Timer(timer) = effect {
                self.timers.push(timer.clone());
            }
        }
        if t.effects.contains(&Effect::Closed) {
            assert!(self.state.is_closed());
            // Updates answered before the close still wake their waiters; then the close.
            let first = t.effects.iter().find(|e| !matches!(e, Effect::Update(_)));
            assert_eq!(first, Some(&Effect::Closed));
            assert!(
                t.effects.iter().all(Effect::follows_close),
                "nothing but follow-ups of the close is asked for: {:?}",
                t.effects
            );
        }
        for effect in &t.effects {
            if let Effect::StartRun(new) = effect {
                assert_eq!(new.lineage.continued_execution_run_id, self.state.run_id());
                let (next, started) = start_run(&new.request, &new.run_id, &new.lineage, self.now)
                    .expect("a continued run always starts");
                assert_eq!(next.first_execution_run_id(), "run-1");
                assert_eq!(started.events[0].event_id, 1);
                super::rebuild::assert_rebuilds(&next, &started.events);
            }
        }
    }

    /// Runs one engine call; an `Err` must leave the state byte-identical.
    fn run(
        &mut self,
        call: impl FnOnce(&mut MutableState, i64) -> Result<Transition, EngineError>,
    ) -> Option<EngineError> {
        let before = self.state.encode_to_vec();
        match call(&mut self.state, self.now) {
            Ok(t) => {
                self.absorb(&t);
                None
            }
            Err(err) => {
                assert_eq!(
                    self.state.encode_to_vec(),
                    before,
                    "Err changed the state: {err:?}"
                );
                Some(err)
            }
        }
    }

    fn activity(&self, pick: usize) -> Option<(i64, i32)> {
        let pending: Vec<_> = self.state.pending_activities().collect();
        (!pending.is_empty()).then(|| {
            let info = pending[pick % pending.len()];
            (info.scheduled_event_id, info.attempt)
        })
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Signal { request_id } => {
                let req = signal_req("s", &format!("r{request_id}"));
                self.run(|s, now| signal(s, &req, now));
            }
            Op::Update { id } => {
                let req = update_req(&format!("u{id}"), "set");
                self.run(|s, now| admit_update(s, &req, now).map(|(t, _)| t));
            }
            Op::StartTask { wrong } => {
                let Some(task) = self.state.pending_workflow_task().cloned() else {
                    return;
                };
                let attempt = task.attempt + i32::from(wrong);
                self.run(|s, now| {
                    workflow_task_started(s, task.scheduled_event_id, attempt, "w", "p", now)
                });
            }
            Op::CompleteTask {
                cmds,
                answers,
                force,
                wrong,
                sticky,
            } => {
                let Some(task) = self.state.pending_workflow_task().cloned() else {
                    return;
                };
                let (named, messages) = self.answers(&answers);
                let mut commands = named;
                commands.extend(cmds.iter().map(|c| self.command(c)));
                let mut req = completed_req(commands);
                req.messages = messages;
                req.force_create_new_workflow_task = force;
                req.sticky_attributes = sticky.then(|| StickyExecutionAttributes {
                    worker_task_queue: Some(TaskQueue {
                        name: "worker-sticky".into(),
                        ..Default::default()
                    }),
                    schedule_to_start_timeout: Some(duration(5_000)),
                });
                let started = task.started_event_id + i64::from(wrong);
                let err = self.run(|s, now| {
                    complete_workflow_task(
                        s,
                        task.scheduled_event_id,
                        started,
                        task.attempt,
                        &req,
                        "run-2",
                        now,
                    )
                });
                if let Some(EngineError::CommandRejected { cause, message }) = err {
                    let failed =
                        self.run(|s, now| fail_workflow_task_by_server(s, cause, &message, now));
                    assert!(
                        failed.is_none(),
                        "a rejected task can always be failed: {failed:?}"
                    );
                }
            }
            Op::FailTask => {
                let Some(task) = self.state.pending_workflow_task().cloned() else {
                    return;
                };
                let req = RespondWorkflowTaskFailedRequest::default();
                self.run(|s, now| {
                    fail_workflow_task(
                        s,
                        task.scheduled_event_id,
                        task.started_event_id,
                        task.attempt,
                        &req,
                        now,
                    )
                });
            }
            Op::ActivityStart { pick, wrong } => {
                let Some((sched, attempt)) = self.activity(pick) else {
                    return;
                };
                let attempt = attempt + i32::from(wrong);
                self.run(|s, now| activity_task_started(s, sched, attempt, "w", "p", now));
            }
            Op::ActivityComplete { pick, wrong } => {
                let Some((sched, attempt)) = self.activity(pick) else {
                    return;
                };
                let attempt = attempt - i32::from(wrong);
                self.run(|s, now| {
                    complete_activity(s, sched, attempt, Some(payloads("r")), "w", now)
                });
            }
            Op::ActivityFail {
                pick,
                non_retryable,
            } => {
                let Some((sched, attempt)) = self.activity(pick) else {
                    return;
                };
                let failure = app_failure("f", non_retryable);
                self.run(|s, now| fail_activity(s, sched, attempt, Some(failure), None, "w", now));
            }
            Op::ActivityCancel { pick } => {
                let Some((sched, attempt)) = self.activity(pick) else {
                    return;
                };
                self.run(|s, now| cancel_activity(s, sched, attempt, None, "w", now));
            }
            Op::Heartbeat { pick } => {
                let Some((sched, attempt)) = self.activity(pick) else {
                    return;
                };
                self.run(|s, now| {
                    record_heartbeat(s, sched, attempt, Some(payloads("h")), now).map(|(t, _)| t)
                });
            }
            Op::FireTimer { pick } => {
                if self.timers.is_empty() {
                    return;
                }
                let timer = self.timers.remove(pick % self.timers.len());
                self.now = self.now.max(timer.fire_at);
                let err = self.run(|s, now| fire_timer(s, &timer, now));
                assert!(err.is_none(), "timers never fail: {err:?}");
            }
            Op::Advance { ms } => self.now += ms,
            Op::RequestCancel => {
                let req = RequestCancelWorkflowExecutionRequest::default();
                self.run(|s, now| request_cancel_workflow(s, &req, now));
            }
            Op::Terminate => {
                let req = TerminateWorkflowExecutionRequest::default();
                self.run(|s, now| terminate_workflow(s, &req, now));
            }
            Op::ChildStarted { pick } => {
                let Some(child) = self.child(pick) else {
                    return;
                };
                let run = format!("cr{}", child.initiated_event_id);
                let err = self.run(|s, now| child_started(s, child.initiated_event_id, &run, now));
                assert!(err.is_none(), "{err:?}");
            }
            Op::ChildStartFailed { pick } => {
                let Some(child) = self.child(pick) else {
                    return;
                };
                let err = self.run(|s, now| {
                    start_child_failed(
                        s,
                        child.initiated_event_id,
                        StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                        now,
                    )
                });
                assert!(err.is_none(), "{err:?}");
            }
            Op::ChildClosed { pick } => {
                let Some(child) = self.child(pick) else {
                    return;
                };
                let run = format!("cr{}", child.initiated_event_id);
                let completion = ChildCompletion {
                    parent: Some(ParentInfo {
                        namespace: self.state.namespace().into(),
                        workflow_id: self.state.workflow_id().into(),
                        run_id: self.state.run_id().into(),
                        initiated_event_id: child.initiated_event_id,
                    }),
                    child_execution: Some(WorkflowExecution {
                        workflow_id: child.workflow_id().into(),
                        run_id: run.clone(),
                    }),
                    first_run_id: run,
                    workflow_type: "ChildWorkflow".into(),
                    namespace: self.state.namespace().into(),
                    close_event: Some(HistoryEvent {
                        attributes: Some(Attributes::WorkflowExecutionCompletedEventAttributes(
                            Default::default(),
                        )),
                        ..Default::default()
                    }),
                };
                let err = self.run(|s, now| child_closed(s, &completion, now));
                assert!(err.is_none(), "{err:?}");
            }
            Op::ExternalResolved { pick, delivered } => {
                let ids: Vec<i64> = self.state.externals.keys().copied().collect();
                let Some(id) = (!ids.is_empty()).then(|| ids[pick % ids.len()]) else {
                    return;
                };
                let outcome = if delivered {
                    ExternalOutcome::Delivered
                } else {
                    ExternalOutcome::NotFound
                };
                let err = self.run(|s, now| external_resolved(s, id, outcome, now));
                assert!(err.is_none(), "{err:?}");
                assert!(!self.state.externals.contains_key(&id), "resolved once");
            }
            Op::ResetSticky => {
                self.run(reset_stickiness);
            }
            Op::Reset { pick, reapply } => self.reset(pick, reapply),
        }
        self.check_state();
    }

    fn child(&self, pick: usize) -> Option<ChildInfo> {
        let children: Vec<_> = self.state.children.values().collect();
        (!children.is_empty()).then(|| children[pick % children.len()].clone())
    }

    fn command(&self, cmd: &Cmd) -> Command {
        match cmd {
            Cmd::Schedule {
                id,
                heartbeat,
                schedule_to_close,
            } => schedule_activity_cmd(&format!("a{id}"), |a| {
                a.start_to_close_timeout = Some(duration(5_000));
                if *heartbeat {
                    a.heartbeat_timeout = Some(duration(1_000));
                }
                if *schedule_to_close {
                    a.schedule_to_close_timeout = Some(duration(12_000));
                    a.schedule_to_start_timeout = Some(duration(3_000));
                }
            }),
            Cmd::StartTimer { id, ms } => start_timer_cmd(&format!("t{id}"), *ms),
            Cmd::CancelTimer { id } => cancel_timer_cmd(&format!("t{id}")),
            Cmd::CancelActivity { pick } => {
                cancel_activity_cmd(self.activity(*pick).map_or(999, |(sched, _)| sched))
            }
            Cmd::Marker => Command {
                command_type: CommandType::RecordMarker as i32,
                attributes: Some(command::Attributes::RecordMarkerCommandAttributes(
                    RecordMarkerCommandAttributes {
                        marker_name: "m".into(),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            },
            Cmd::Upsert => Command {
                command_type: CommandType::UpsertWorkflowSearchAttributes as i32,
                attributes: Some(
                    command::Attributes::UpsertWorkflowSearchAttributesCommandAttributes(
                        UpsertWorkflowSearchAttributesCommandAttributes {
                            search_attributes: Some(SearchAttributes {
                                indexed_fields: [("k".to_string(), payload("v"))]
                                    .into_iter()
                                    .collect(),
                            }),
                        },
                    ),
                ),
                ..Default::default()
            },
            Cmd::Complete => complete_cmd(),
            Cmd::Fail => fail_cmd("no"),
            Cmd::CancelWorkflow => cancel_workflow_cmd(),
            Cmd::ContinueAsNew => continue_as_new_cmd("next"),
            Cmd::StartChild { id } => start_child_cmd(&format!("c{id}")),
            Cmd::SignalExternal { id } => signal_external_cmd(&format!("x{id}"), "", "s"),
            Cmd::CancelExternal { id } => cancel_external_cmd(&format!("x{id}"), *id == 0),
        }
    }

    fn check_state(&self) {
        let state = &self.state;
        super::rebuild::assert_rebuilds(state, &self.history);
        assert_eq!(
            state.next_event_id(),
            i64::try_from(self.history.len()).unwrap() + 1
        );
        assert_eq!(
            MutableState::decode(state.encode_to_vec().as_slice()).unwrap(),
            *state
        );
        if state.is_closed() {
            assert!(state.pending_workflow_task().is_none());
            assert_eq!(state.pending_activities().count(), 0);
            assert!(state.buffered_events.is_empty());
        }
        if !state.task_started() {
            assert!(
                state.buffered_events.is_empty(),
                "buffering only while a task is started"
            );
        }
        if let Some(task) = state.pending_workflow_task() {
            if task.speculative {
                assert_eq!(
                    task.scheduled_event_id,
                    state.next_event_id(),
                    "not written yet"
                );
            } else {
                let index = usize::try_from(task.scheduled_event_id - 1).unwrap();
                assert_eq!(ty(&self.history[index]), EventType::WorkflowTaskScheduled);
            }
        }
    }

    /// Whole-history shape checks.
    fn check_history(&self) {
        let mut started_activity: BTreeMap<i64, i64> = BTreeMap::new();
        let mut started_child: BTreeMap<i64, i64> = BTreeMap::new();
        for (index, event) in self.history.iter().enumerate() {
            if let Some(attributes) = &event.attributes
                && let Some(initiated) = super::events::child_close_initiated_id(attributes)
            {
                let initiated_event = &self.history[usize::try_from(initiated - 1).unwrap()];
                assert_eq!(
                    ty(initiated_event),
                    EventType::StartChildWorkflowExecutionInitiated
                );
                let started = match attributes {
                    Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => {
                        a.started_event_id
                    }
                    _ => 0,
                };
                assert_eq!(Some(&started), started_child.get(&initiated), "{event:?}");
            }
            match &event.attributes {
                Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(a)) => {
                    assert!(
                        started_child
                            .insert(a.initiated_event_id, event.event_id)
                            .is_none(),
                        "one ChildWorkflowExecutionStarted per child"
                    );
                }
                Some(Attributes::WorkflowTaskStartedEventAttributes(a)) => {
                    let scheduled =
                        &self.history[usize::try_from(a.scheduled_event_id - 1).unwrap()];
                    assert_eq!(ty(scheduled), EventType::WorkflowTaskScheduled);
                    // Nothing is appended while a task is started: its outcome comes next.
                    if let Some(next) = self.history.get(index + 1) {
                        assert!(
                            matches!(
                                ty(next),
                                EventType::WorkflowTaskCompleted
                                    | EventType::WorkflowTaskFailed
                                    | EventType::WorkflowTaskTimedOut
                            ),
                            "event after WorkflowTaskStarted: {:?}",
                            ty(next)
                        );
                    }
                }
                Some(Attributes::ActivityTaskStartedEventAttributes(a)) => {
                    started_activity.insert(a.scheduled_event_id, event.event_id);
                }
                Some(attributes) => {
                    if let Some(scheduled) = super::events::activity_final_scheduled_id(attributes)
                    {
                        let started = match attributes {
                            Attributes::ActivityTaskCompletedEventAttributes(a) => {
                                a.started_event_id
                            }
                            Attributes::ActivityTaskFailedEventAttributes(a) => a.started_event_id,
                            Attributes::ActivityTaskTimedOutEventAttributes(a) => {
                                a.started_event_id
                            }
                            Attributes::ActivityTaskCanceledEventAttributes(a) => {
                                a.started_event_id
                            }
                            _ => 0,
                        };
                        assert_eq!(
                            started,
                            started_activity.get(&scheduled).copied().unwrap_or(0)
                        );
                    }
                }
                None => panic!("event without attributes"),
            }
        }
    }
}

fn ty(event: &HistoryEvent) -> EventType {
    EventType::try_from(event.event_type).unwrap_or(EventType::Unspecified)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_operations_keep_history_invariants(
        start in start_strategy(),
        ops in prop::collection::vec(op_strategy(), 1..80),
    ) {
        let mut driver = Driver::new(start);
        for op in ops {
            driver.apply(op);
        }
        driver.check_history();
    }
}

#[test]
fn exactly_one_started_event_after_retries() {
    // Scenario of the brief, end to end through the driver: fail twice, then succeed.
    let mut driver = Driver::new(Start::Plain);
    driver.apply(Op::StartTask { wrong: false });
    driver.apply(Op::CompleteTask {
        cmds: vec![Cmd::Schedule {
            id: 0,
            heartbeat: false,
            schedule_to_close: false,
        }],
        answers: vec![],
        force: false,
        wrong: false,
        sticky: true,
    });
    for _ in 0..2 {
        driver.apply(Op::ActivityStart {
            pick: 0,
            wrong: false,
        });
        driver.apply(Op::ActivityFail {
            pick: 0,
            non_retryable: false,
        });
        let retry = driver
            .timers
            .iter()
            .position(|t| t.kind() == super::TimerKind::ActivityRetry)
            .unwrap();
        driver.apply(Op::FireTimer { pick: retry });
    }
    driver.apply(Op::ActivityStart {
        pick: 0,
        wrong: false,
    });
    driver.apply(Op::ActivityComplete {
        pick: 0,
        wrong: false,
    });
    let started: Vec<_> = driver
        .history
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskStartedEventAttributes(a)) => Some(a.attempt),
            _ => None,
        })
        .collect();
    assert_eq!(started, [3]);
    driver.check_history();
}
