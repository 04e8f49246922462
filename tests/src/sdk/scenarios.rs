//! The end-to-end scenarios, each an `async fn` over a [`Target`], so the same scenario runs
//! against the real Temporal dev server (the baseline) and against Lockstep. Each one starts its
//! own worker on a fresh task queue and workflow id, asserts the result and the history the
//! feature demands, checks the history's event ids are 1..=n, and returns an [`Outcome`] (the
//! main run's history) for differential comparison with [`super::event_types`].
//!
//! Whatever principal a Lockstep [`Target`] names, the scenarios connect their workers as
//! [`WORKER`] and everything else as [`STARTER`]. Run them on a multi-threaded tokio runtime
//! (see [`super::run_worker`]).

use std::{
    collections::HashMap,
    future::Future,
    path::Path,
    time::{Duration, Instant},
};

use temporalio_client::{
    Client, Connection, WorkflowCancelOptions, WorkflowDescribeOptions, WorkflowExecutionInfo,
    WorkflowExecutionStatus, WorkflowGetResultOptions, WorkflowHandle, WorkflowQueryOptions,
    WorkflowSignalOptions, WorkflowStartOptions, WorkflowTerminateOptions,
    errors::{WorkflowGetResultError, WorkflowStartError},
};
use temporalio_common::HasWorkflowDefinition;
use temporalio_protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowType},
    enums::v1::StartChildWorkflowExecutionFailedCause,
    enums::v1::{EventType, TaskQueueKind, TimeoutType},
    failure::v1::{Failure, failure::FailureInfo},
    history::v1::{HistoryEvent, history_event::Attributes},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        DescribeWorkflowExecutionRequest, SignalWithStartWorkflowExecutionRequest,
        SignalWithStartWorkflowExecutionResponse,
    },
};

use super::{
    NAMESPACE, Target, WorkerHandle, WorkerProcess, client, connect, event_types, fetch_history,
    run_worker,
    workflows::{
        CANCELLED, CONTINUE_AS_NEW_TIMES, CancelActivityWorkflow, CancelTimerWorkflow,
        CollectWorkflowRun, ContinueAsNewWorkflow, CrashInput, CrashWorkflow, FlakyWorkflow,
        HEARTBEAT_TIMEOUT, HEARTBEATING, HeartbeatWorkflow, LONG_TIMER, NonRetryableWorkflow,
        OneActivityWorkflow, ParentInput, ParentWorkflow, SignalsWorkflow, SignalsWorkflowRun,
        StartToCloseWorkflow, TIMER_DURATION, TimerWorkflow,
    },
};

/// What a scenario leaves behind: its main workflow run and that run's full history.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The workflow id.
    pub workflow_id: String,
    /// The run id.
    pub run_id: String,
    /// The run's history, all pages.
    pub history: Vec<HistoryEvent>,
}

/// The principal the scenarios' workers connect as (Lockstep targets).
pub const WORKER: &str = "worker";
/// The principal that starts, signals, queries, describes and reads histories (Lockstep's dev
/// `client` holds the `client` and `reader` roles; `worker` may not start workflows).
pub const STARTER: &str = "client";
/// The principal that terminates workflows (Lockstep requires the `admin` role for
/// TerminateWorkflowExecution).
pub const ADMIN: &str = "admin";

/// How long any single wait in a scenario may take before it fails.
pub(super) const WAIT: Duration = Duration::from_secs(60);

/// A connection, a client and an in-process worker on a fresh task queue.
pub(crate) struct Setup {
    pub(crate) connection: Connection,
    pub(crate) client: Client,
    pub(crate) worker: WorkerHandle,
    pub(crate) task_queue: String,
}

impl Setup {
    pub(crate) async fn new(target: &Target, scenario: &str) -> Self {
        let connection = connect(&target.as_principal(STARTER)).await;
        let task_queue = unique(scenario);
        let worker = run_worker(connect(&target.as_principal(WORKER)).await, &task_queue);
        Self {
            client: client(&connection),
            connection,
            worker,
            task_queue,
        }
    }

    pub(super) fn start_options(&self, workflow_id: &str) -> WorkflowStartOptions {
        WorkflowStartOptions::new(self.task_queue.clone(), workflow_id.to_string()).build()
    }

    pub(crate) async fn start<W>(
        &self,
        workflow: W,
        input: W::Input,
        workflow_id: &str,
    ) -> WorkflowHandle<Client, W>
    where
        W: HasWorkflowDefinition,
        W::Input: Send,
    {
        let start = self
            .client
            .start_workflow(workflow, input, self.start_options(workflow_id));
        self.wait("start the workflow", start)
            .await
            .unwrap_or_else(|e| panic!("start {workflow_id}: {e}"))
    }

    /// Awaits `future` for at most [`WAIT`]; on timeout, panics saying what hung and whether
    /// the worker had died.
    pub(crate) async fn wait<T>(&self, what: &str, future: impl Future<Output = T>) -> T {
        match tokio::time::timeout(WAIT, future).await {
            Ok(value) => value,
            Err(_) => panic!(
                "{what}: no answer within {WAIT:?} (worker status: {:?})",
                self.worker.exit_status()
            ),
        }
    }

    pub(crate) async fn result<W>(
        &self,
        handle: &WorkflowHandle<Client, W>,
    ) -> Result<W::Output, WorkflowGetResultError>
    where
        W: HasWorkflowDefinition,
    {
        self.wait(
            "the workflow result",
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
    }

    /// Fetches the run's history, checks its ids, shuts the worker down, returns the outcome.
    pub(crate) async fn finish<W>(self, handle: &WorkflowHandle<Client, W>) -> Outcome
    where
        W: HasWorkflowDefinition,
    {
        let workflow_id = handle.info().workflow_id.clone();
        let run_id = handle
            .run_id()
            .expect("a started handle knows its run")
            .to_string();
        let history = history_of(&self.connection, &workflow_id, &run_id).await;
        if let Err(error) = self.worker.shutdown().await {
            panic!("the worker ended badly: {error}");
        }
        Outcome {
            workflow_id,
            run_id,
            history,
        }
    }
}

/// Awaits `future` for at most [`WAIT`], panicking with `what` on timeout.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

/// A fresh name: `<prefix>-<uuid>`.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// The run's history, asserted to start with WorkflowExecutionStarted and to number its events
/// 1..=n.
pub async fn history_of(
    connection: &Connection,
    workflow_id: &str,
    run_id: &str,
) -> Vec<HistoryEvent> {
    let history = fetch_history(connection, workflow_id, run_id).await;
    assert_event_ids_contiguous(&history);
    assert_eq!(
        history.first().map(HistoryEvent::event_type),
        Some(EventType::WorkflowExecutionStarted),
        "a history starts with WorkflowExecutionStarted"
    );
    history
}

/// Asserts the event ids are exactly 1, 2, …, n.
pub fn assert_event_ids_contiguous(history: &[HistoryEvent]) {
    let ids: Vec<i64> = history.iter().map(|e| e.event_id).collect();
    let expected: Vec<i64> = (1..=history.len() as i64).collect();
    assert_eq!(ids, expected, "event ids must be 1..=n");
}

/// The events of `event_type`.
pub fn events_of(history: &[HistoryEvent], event_type: EventType) -> Vec<&HistoryEvent> {
    history
        .iter()
        .filter(|e| e.event_type() == event_type)
        .collect()
}

pub(super) fn last_event_type(history: &[HistoryEvent]) -> EventType {
    history
        .last()
        .map(HistoryEvent::event_type)
        .expect("non-empty history")
}

/// The one ActivityTaskStarted event's attempt and last failure (asserting there is exactly
/// one: retries are server-side and invisible in history).
fn only_activity_started(history: &[HistoryEvent]) -> (i32, Option<Failure>) {
    let started = events_of(history, EventType::ActivityTaskStarted);
    assert_eq!(
        started.len(),
        1,
        "exactly one ActivityTaskStarted event: {:?}",
        event_types(history)
    );
    match &started[0].attributes {
        Some(Attributes::ActivityTaskStartedEventAttributes(attrs)) => {
            (attrs.attempt, attrs.last_failure.clone())
        }
        other => panic!("ActivityTaskStarted without its attributes: {other:?}"),
    }
}

/// The failure and its causes, outermost first.
pub fn failure_chain(failure: &Failure) -> Vec<&Failure> {
    let mut chain = vec![failure];
    while let Some(cause) = chain.last().and_then(|f| f.cause.as_deref()) {
        chain.push(cause);
    }
    chain
}

fn timeout_type(failure: &Failure) -> Option<TimeoutType> {
    failure_chain(failure)
        .into_iter()
        .find_map(|f| match &f.failure_info {
            Some(FailureInfo::TimeoutFailureInfo(info)) => Some(info.timeout_type()),
            _ => None,
        })
}

/// a. One activity: `OneActivityWorkflow("Lockstep")` returns "Hello, Lockstep!"; the history
/// is Started, the activity's Scheduled/Started/Completed, and ends with Completed.
pub async fn one_activity(target: &Target) -> Outcome {
    let setup = Setup::new(target, "one-activity").await;
    let handle = setup
        .start(
            OneActivityWorkflow::run,
            "Lockstep".to_string(),
            &unique("one-activity"),
        )
        .await;
    let result = setup.result(&handle).await.expect("the workflow completes");
    assert_eq!(result, "Hello, Lockstep!");
    let outcome = setup.finish(&handle).await;
    let types = event_types(&outcome.history);
    for expected in [
        EventType::ActivityTaskScheduled,
        EventType::ActivityTaskStarted,
        EventType::ActivityTaskCompleted,
    ] {
        assert_eq!(
            types.iter().filter(|t| **t == expected).count(),
            1,
            "one {expected:?}: {types:?}"
        );
    }
    let scheduled = events_of(&outcome.history, EventType::ActivityTaskScheduled);
    match &scheduled[0].attributes {
        Some(Attributes::ActivityTaskScheduledEventAttributes(attrs)) => {
            let activity_type = attrs.activity_type.as_ref().map(|t| t.name.as_str());
            assert_eq!(activity_type, Some("greet"));
        }
        other => panic!("ActivityTaskScheduled without its attributes: {other:?}"),
    }
    assert_eq!(
        last_event_type(&outcome.history),
        EventType::WorkflowExecutionCompleted
    );
    assert_sticky_after_first_task(&outcome.history, &started_task_queue(&outcome));
    outcome
}

/// The task queue a scenario's run was started on (from its WorkflowExecutionStarted event).
fn started_task_queue(outcome: &Outcome) -> String {
    match outcome.history.first().and_then(|e| e.attributes.as_ref()) {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a
            .task_queue
            .as_ref()
            .map(|q| q.name.clone())
            .unwrap_or_default(),
        other => panic!("a history starts with WorkflowExecutionStarted: {other:?}"),
    }
}

/// Sticky execution, as the official SDK worker asks for it: the first workflow task is
/// scheduled on the normal queue, every later one on the worker's own sticky queue (whose
/// normal name is the workflow's queue).
pub fn assert_sticky_after_first_task(history: &[HistoryEvent], task_queue: &str) {
    let queues: Vec<(i32, String, String)> = events_of(history, EventType::WorkflowTaskScheduled)
        .iter()
        .map(|event| match &event.attributes {
            Some(Attributes::WorkflowTaskScheduledEventAttributes(a)) => {
                let queue = a.task_queue.clone().unwrap_or_default();
                (queue.kind, queue.name, queue.normal_name)
            }
            other => panic!("WorkflowTaskScheduled without its attributes: {other:?}"),
        })
        .collect();
    assert!(queues.len() >= 2, "at least two workflow tasks: {queues:?}");
    assert_eq!(
        (queues[0].0, queues[0].1.as_str()),
        (TaskQueueKind::Normal as i32, task_queue),
        "the first task goes to the normal queue"
    );
    for (kind, name, normal_name) in &queues[1..] {
        assert_eq!(
            *kind,
            TaskQueueKind::Sticky as i32,
            "later tasks are sticky: {queues:?}"
        );
        assert_ne!(name, task_queue, "a sticky queue is the worker's own");
        assert_eq!(normal_name, task_queue);
    }
}

/// b. Retries: `flaky` fails on attempts 1 and 2 (backoff 1 s, then 2 s) and the workflow
/// returns 3; the history holds exactly one ActivityTaskStarted, with attempt 3 and attempt 2's
/// failure as its last failure, and no ActivityTaskFailed.
pub async fn activity_retries(target: &Target) -> Outcome {
    let setup = Setup::new(target, "flaky").await;
    let started_at = Instant::now();
    let handle = setup.start(FlakyWorkflow::run, (), &unique("flaky")).await;
    let result = setup.result(&handle).await.expect("the workflow completes");
    let elapsed = started_at.elapsed();
    assert_eq!(result, 3, "the third attempt succeeds");
    assert!(
        elapsed >= Duration::from_millis(2500),
        "two retries with backoff 1 s then 2 s took only {elapsed:?}"
    );
    let outcome = setup.finish(&handle).await;
    let (attempt, last_failure) = only_activity_started(&outcome.history);
    assert_eq!(attempt, 3);
    let last_failure = last_failure.expect("ActivityTaskStarted carries the last failure");
    assert!(
        last_failure.message.contains("flaky failure on attempt 2"),
        "last failure: {last_failure:?}"
    );
    assert!(
        events_of(&outcome.history, EventType::ActivityTaskFailed).is_empty(),
        "retried failures are not in history"
    );
    outcome
}

/// c. A non-retryable activity failure: `charge` fails once with "card declined" (type
/// "PaymentError", non-retryable); the workflow fails, and the failure the client sees carries
/// it in its cause chain. The history shows attempt 1, ActivityTaskFailed and ends with
/// WorkflowExecutionFailed.
pub async fn non_retryable_failure(target: &Target) -> Outcome {
    let setup = Setup::new(target, "non-retryable").await;
    let handle = setup
        .start(NonRetryableWorkflow::run, (), &unique("non-retryable"))
        .await;
    let error = match setup.result(&handle).await {
        Err(WorkflowGetResultError::Failed(error)) => error,
        other => panic!("the workflow must fail, got {other:?}"),
    };
    let chain = failure_chain(error.failure());
    assert!(
        chain.iter().any(|f| f.message == "card declined"),
        "\"card declined\" in the cause chain: {chain:#?}"
    );
    let payment = chain
        .iter()
        .find_map(|f| match &f.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) if info.r#type == "PaymentError" => {
                Some(info)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("a PaymentError application failure in {chain:#?}"));
    assert!(payment.non_retryable, "PaymentError is non-retryable");
    let outcome = setup.finish(&handle).await;
    let (attempt, _) = only_activity_started(&outcome.history);
    assert_eq!(attempt, 1, "a non-retryable failure is not retried");
    assert_eq!(
        events_of(&outcome.history, EventType::ActivityTaskFailed).len(),
        1
    );
    assert_eq!(
        last_event_type(&outcome.history),
        EventType::WorkflowExecutionFailed
    );
    outcome
}

/// d. Heartbeat timeout: attempt 1 heartbeats "progress-1" and then goes silent past its 2 s
/// heartbeat timeout; attempt 2 gets the last heartbeat details and returns them. The history's
/// one ActivityTaskStarted has attempt 2 and a heartbeat timeout as its last failure.
pub async fn heartbeat_timeout(target: &Target) -> Outcome {
    let setup = Setup::new(target, "heartbeat").await;
    let handle = setup
        .start(HeartbeatWorkflow::run, (), &unique("heartbeat"))
        .await;
    let result = setup.result(&handle).await.expect("the workflow completes");
    assert_eq!(
        result, "progress-1",
        "attempt 2 sees attempt 1's heartbeat details"
    );
    let outcome = setup.finish(&handle).await;
    let (attempt, last_failure) = only_activity_started(&outcome.history);
    assert_eq!(attempt, 2);
    let last_failure = last_failure.expect("ActivityTaskStarted carries the last failure");
    assert_eq!(
        timeout_type(&last_failure),
        Some(TimeoutType::Heartbeat),
        "last failure: {last_failure:?}"
    );
    outcome
}

/// e. Start-to-close timeout: attempt 1 outlives its 1 s start-to-close timeout, attempt 2
/// returns 2. The history's one ActivityTaskStarted has attempt 2 and a start-to-close timeout
/// as its last failure.
pub async fn start_to_close_timeout(target: &Target) -> Outcome {
    let setup = Setup::new(target, "start-to-close").await;
    let handle = setup
        .start(StartToCloseWorkflow::run, (), &unique("start-to-close"))
        .await;
    let result = setup.result(&handle).await.expect("the workflow completes");
    assert_eq!(result, 2, "the second attempt finishes in time");
    let outcome = setup.finish(&handle).await;
    let (attempt, last_failure) = only_activity_started(&outcome.history);
    assert_eq!(attempt, 2);
    let last_failure = last_failure.expect("ActivityTaskStarted carries the last failure");
    assert_eq!(
        timeout_type(&last_failure),
        Some(TimeoutType::StartToClose),
        "last failure: {last_failure:?}"
    );
    outcome
}

/// f. A durable 2 s timer: the workflow returns "timer fired" no sooner than 2 s after start;
/// the history has TimerStarted (start_to_fire_timeout 2 s) and TimerFired for it.
pub async fn durable_timer(target: &Target) -> Outcome {
    let setup = Setup::new(target, "timer").await;
    let started_at = Instant::now();
    let handle = setup.start(TimerWorkflow::run, (), &unique("timer")).await;
    let result = setup.result(&handle).await.expect("the workflow completes");
    let elapsed = started_at.elapsed();
    assert_eq!(result, "timer fired");
    assert!(
        elapsed >= TIMER_DURATION,
        "the timer fired after only {elapsed:?}"
    );
    let outcome = setup.finish(&handle).await;
    let started = events_of(&outcome.history, EventType::TimerStarted);
    assert_eq!(started.len(), 1, "{:?}", event_types(&outcome.history));
    let (started_id, timer_id) = match &started[0].attributes {
        Some(Attributes::TimerStartedEventAttributes(attrs)) => {
            let timeout = attrs.start_to_fire_timeout.expect("start_to_fire_timeout");
            assert_eq!((timeout.seconds, timeout.nanos), (2, 0));
            (started[0].event_id, attrs.timer_id.clone())
        }
        other => panic!("TimerStarted without its attributes: {other:?}"),
    };
    let fired = events_of(&outcome.history, EventType::TimerFired);
    assert_eq!(fired.len(), 1);
    match &fired[0].attributes {
        Some(Attributes::TimerFiredEventAttributes(attrs)) => {
            assert_eq!(attrs.started_event_id, started_id);
            assert_eq!(attrs.timer_id, timer_id);
        }
        other => panic!("TimerFired without its attributes: {other:?}"),
    }
    outcome
}

/// A handle on a [`SignalsWorkflow`] run.
pub(super) type SignalsHandle = WorkflowHandle<Client, SignalsWorkflowRun>;

pub(super) async fn signal(setup: &Setup, handle: &SignalsHandle, item: &str) {
    setup
        .wait(
            "signal",
            handle.signal(
                SignalsWorkflow::add,
                item.to_string(),
                WorkflowSignalOptions::default(),
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("signal add({item}): {e}"));
}

async fn query_items(setup: &Setup, handle: &SignalsHandle) -> Vec<String> {
    setup
        .wait(
            "query",
            handle.query(SignalsWorkflow::items, (), WorkflowQueryOptions::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("query items: {e}"))
}

pub(super) async fn status<W: HasWorkflowDefinition>(
    setup: &Setup,
    handle: &WorkflowHandle<Client, W>,
) -> WorkflowExecutionStatus {
    setup
        .wait(
            "describe",
            handle.describe(WorkflowDescribeOptions::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("describe: {e}"))
        .status()
}

/// g. Signal, query, signal: after two `add` signals the `items` query returns both; after the
/// third the workflow returns all three in order. The history has three
/// WorkflowExecutionSignaled events carrying signal name "add".
pub async fn signal_query_signal(target: &Target) -> Outcome {
    let setup = Setup::new(target, "signals").await;
    let handle = setup
        .start(SignalsWorkflow::run, (), &unique("signals"))
        .await;
    signal(&setup, &handle, "one").await;
    signal(&setup, &handle, "two").await;
    assert_eq!(query_items(&setup, &handle).await, ["one", "two"]);
    signal(&setup, &handle, "three").await;
    let result = setup.result(&handle).await.expect("the workflow completes");
    assert_eq!(result, ["one", "two", "three"]);
    let outcome = setup.finish(&handle).await;
    let signaled = events_of(&outcome.history, EventType::WorkflowExecutionSignaled);
    assert_eq!(signaled.len(), 3, "{:?}", event_types(&outcome.history));
    for event in signaled {
        match &event.attributes {
            Some(Attributes::WorkflowExecutionSignaledEventAttributes(attrs)) => {
                assert_eq!(attrs.signal_name, "add");
            }
            other => panic!("WorkflowExecutionSignaled without its attributes: {other:?}"),
        }
    }
    outcome
}

/// Starting a workflow id that is already running fails with the client's
/// `WorkflowStartError::AlreadyStarted` carrying the running run's id. (The first run is then
/// finished with three signals.)
pub async fn already_started(target: &Target) -> Outcome {
    let setup = Setup::new(target, "already-started").await;
    let workflow_id = unique("already-started");
    let handle = setup.start(SignalsWorkflow::run, (), &workflow_id).await;
    let first_run = handle.run_id().expect("run id").to_string();
    let again = setup
        .wait(
            "the second start",
            setup.client.start_workflow(
                SignalsWorkflow::run,
                (),
                setup.start_options(&workflow_id),
            ),
        )
        .await;
    match again {
        Err(WorkflowStartError::AlreadyStarted { run_id, source }) => {
            assert_eq!(source.code(), tonic::Code::AlreadyExists);
            assert_eq!(
                run_id.as_deref(),
                Some(first_run.as_str()),
                "the running run's id"
            );
        }
        Err(other) => panic!("expected AlreadyStarted, got {other:?}"),
        Ok(second) => panic!("a second run started: {:?}", second.run_id()),
    }
    for item in ["a", "b", "c"] {
        signal(&setup, &handle, item).await;
    }
    let result = setup
        .result(&handle)
        .await
        .expect("the first run completes");
    assert_eq!(result, ["a", "b", "c"]);
    setup.finish(&handle).await
}

/// Describe says RUNNING while the workflow waits for signals and COMPLETED once it returned;
/// its history length matches the fetched history.
pub async fn describe_running_then_completed(target: &Target) -> Outcome {
    let setup = Setup::new(target, "describe").await;
    let handle = setup
        .start(SignalsWorkflow::run, (), &unique("describe"))
        .await;
    assert_eq!(
        status(&setup, &handle).await,
        WorkflowExecutionStatus::Running
    );
    for item in ["x", "y", "z"] {
        signal(&setup, &handle, item).await;
    }
    setup.result(&handle).await.expect("the workflow completes");
    let described = setup
        .wait(
            "describe",
            handle.describe(WorkflowDescribeOptions::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("describe: {e}"));
    assert_eq!(described.status(), WorkflowExecutionStatus::Completed);
    let history_length = described.history_length();
    let outcome = setup.finish(&handle).await;
    assert_eq!(
        history_length,
        outcome.history.len(),
        "describe's history length"
    );
    outcome
}

/// h. Worker-crash takeover: worker process A runs `CrashWorkflow(n = 6)`; once two steps have
/// started, A is SIGKILLed and worker process B (same task queue) finishes the run, which
/// returns 1 + … + 6 = 21. The step log shows every step, in order, each at most twice (the
/// step A was running may run again on B after its start-to-close timeout).
pub async fn worker_crash_takeover(target: &Target, worker_bin: &Path) -> Outcome {
    const N: u32 = 6;
    let connection = connect(&target.as_principal(STARTER)).await;
    let client = client(&connection);
    let worker_target = target.as_principal(WORKER);
    let task_queue = unique("crash");
    let workflow_id = unique("crash");
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("steps.log");

    let mut worker_a = WorkerProcess::spawn(worker_bin, &worker_target, &task_queue);
    let input = CrashInput {
        n: N,
        log_path: log_path.display().to_string(),
    };
    let options = WorkflowStartOptions::new(task_queue.clone(), workflow_id.clone()).build();
    let handle = within(
        "start",
        client.start_workflow(CrashWorkflow::run, input, options),
    )
    .await
    .expect("start CrashWorkflow");

    let steps_started = || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let deadline = Instant::now() + WAIT;
    while steps_started() < 2 {
        assert!(Instant::now() < deadline, "worker A never ran two steps");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker_a.kill();
    let at_kill = steps_started();
    assert!(
        at_kill < N as usize,
        "worker A finished too fast to be interrupted"
    );

    let _worker_b = WorkerProcess::spawn(worker_bin, &worker_target, &task_queue);
    let result = within(
        "the result after takeover",
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("the workflow completes on worker B");
    assert_eq!(result, N * (N + 1) / 2);

    let log = std::fs::read_to_string(&log_path).expect("step log");
    let steps: Vec<u32> = log
        .lines()
        .map(|l| l.parse().expect("step number"))
        .collect();
    assert!(steps.is_sorted(), "steps ran in order: {steps:?}");
    for i in 1..=N {
        let runs = steps.iter().filter(|s| **s == i).count();
        assert!(
            (1..=2).contains(&runs),
            "step {i} ran {runs} times: {steps:?}"
        );
    }
    assert!(
        steps.len() <= N as usize + 1,
        "only the interrupted step may run twice: {steps:?}"
    );

    let run_id = handle.run_id().expect("run id").to_string();
    let history = history_of(&connection, &workflow_id, &run_id).await;
    assert_eq!(
        events_of(&history, EventType::ActivityTaskCompleted).len(),
        N as usize
    );
    assert_eq!(
        last_event_type(&history),
        EventType::WorkflowExecutionCompleted
    );
    Outcome {
        workflow_id,
        run_id,
        history,
    }
}

/// The one event of `event_type` in `history` (asserting there is exactly one).
pub(super) fn only_event(history: &[HistoryEvent], event_type: EventType) -> &HistoryEvent {
    let found = events_of(history, event_type);
    assert_eq!(
        found.len(),
        1,
        "exactly one {event_type:?}: {:?}",
        event_types(history)
    );
    found[0]
}

/// l. Continue-as-new: `ContinueAsNewWorkflow(0)` continues as new twice and its third run
/// returns 2; the client's result call follows the runs. The three runs link up: each closes
/// with WorkflowExecutionContinuedAsNew naming the next run, whose WorkflowExecutionStarted
/// names the previous one as `continued_execution_run_id` and the first as
/// `first_execution_run_id`. The outcome is the first run's history.
pub async fn continue_as_new(target: &Target) -> Outcome {
    let setup = Setup::new(target, "continue-as-new").await;
    let workflow_id = unique("continue-as-new");
    let handle = setup
        .start(ContinueAsNewWorkflow::run, 0, &workflow_id)
        .await;
    let result = setup.result(&handle).await.expect("the workflow completes");
    assert_eq!(result, CONTINUE_AS_NEW_TIMES);

    let first_run = handle.run_id().expect("run id").to_string();
    let mut run_id = first_run.clone();
    let mut previous = String::new();
    for run in 0..=CONTINUE_AS_NEW_TIMES {
        let history = history_of(&setup.connection, &workflow_id, &run_id).await;
        match &history[0].attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) => {
                assert_eq!(started.continued_execution_run_id, previous, "run {run}");
                assert_eq!(started.first_execution_run_id, first_run, "run {run}");
                assert_eq!(started.original_execution_run_id, run_id, "run {run}");
                assert_eq!(started.attempt, 1, "run {run}");
            }
            other => panic!("WorkflowExecutionStarted without its attributes: {other:?}"),
        }
        if run == CONTINUE_AS_NEW_TIMES {
            assert_eq!(
                last_event_type(&history),
                EventType::WorkflowExecutionCompleted
            );
            break;
        }
        let next = match &history.last().and_then(|e| e.attributes.clone()) {
            Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(attrs)) => {
                assert_eq!(
                    attrs.workflow_type.as_ref().map(|t| t.name.as_str()),
                    Some("ContinueAsNewWorkflow")
                );
                assert_eq!(
                    attrs.task_queue.as_ref().map(|q| q.name.as_str()),
                    Some(setup.task_queue.as_str())
                );
                attrs.new_execution_run_id.clone()
            }
            other => panic!("run {run} must end with ContinuedAsNew, got {other:?}"),
        };
        assert!(!next.is_empty() && next != run_id);
        previous = std::mem::replace(&mut run_id, next);
    }
    setup.finish(&handle).await
}

/// m. A child workflow: `ParentWorkflow` starts `ChildWorkflow` and returns
/// "parent got: child got Lockstep". The parent's history links Initiated → ChildStarted →
/// ChildCompleted by event ids; the child's WorkflowExecutionStarted and its description name
/// the parent. The outcome is the parent's history.
pub async fn child_workflow(target: &Target) -> Outcome {
    let setup = Setup::new(target, "child").await;
    let child_id = unique("child");
    let input = ParentInput {
        child_id: child_id.clone(),
        name: "Lockstep".into(),
    };
    let parent_id = unique("parent");
    let handle = setup.start(ParentWorkflow::run, input, &parent_id).await;
    let result = setup.result(&handle).await.expect("the parent completes");
    assert_eq!(result, "parent got: child got Lockstep");
    let parent_run = handle.run_id().expect("run id").to_string();
    let history = history_of(&setup.connection, &parent_id, &parent_run).await;

    let initiated = only_event(&history, EventType::StartChildWorkflowExecutionInitiated);
    match &initiated.attributes {
        Some(Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(attrs)) => {
            assert_eq!(attrs.workflow_id, child_id);
            assert_eq!(
                attrs.workflow_type.as_ref().map(|t| t.name.as_str()),
                Some("ChildWorkflow")
            );
        }
        other => panic!("Initiated without its attributes: {other:?}"),
    }
    let started = only_event(&history, EventType::ChildWorkflowExecutionStarted);
    let child_run = match &started.attributes {
        Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(attrs)) => {
            assert_eq!(attrs.initiated_event_id, initiated.event_id);
            let execution = attrs.workflow_execution.clone().expect("child execution");
            assert_eq!(execution.workflow_id, child_id);
            execution.run_id
        }
        other => panic!("ChildWorkflowExecutionStarted without its attributes: {other:?}"),
    };
    let completed = only_event(&history, EventType::ChildWorkflowExecutionCompleted);
    match &completed.attributes {
        Some(Attributes::ChildWorkflowExecutionCompletedEventAttributes(attrs)) => {
            assert_eq!(attrs.initiated_event_id, initiated.event_id);
            assert_eq!(attrs.started_event_id, started.event_id);
        }
        other => panic!("ChildWorkflowExecutionCompleted without its attributes: {other:?}"),
    }

    let child_history = history_of(&setup.connection, &child_id, &child_run).await;
    match &child_history[0].attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(attrs)) => {
            let parent = attrs.parent_workflow_execution.as_ref().expect("parent");
            assert_eq!(
                (parent.workflow_id.as_str(), parent.run_id.as_str()),
                (parent_id.as_str(), parent_run.as_str())
            );
            assert_eq!(attrs.parent_initiated_event_id, initiated.event_id);
            if let Some(root) = &attrs.root_workflow_execution {
                assert_eq!(root.workflow_id, parent_id, "the parent is the root");
            }
        }
        other => panic!("WorkflowExecutionStarted without its attributes: {other:?}"),
    }
    assert_eq!(
        last_event_type(&child_history),
        EventType::WorkflowExecutionCompleted
    );
    let described = setup
        .wait(
            "describe the child",
            setup
                .connection
                .workflow_service()
                .describe_workflow_execution(tonic::Request::new(
                    DescribeWorkflowExecutionRequest {
                        namespace: super::NAMESPACE.into(),
                        execution: Some(
                            temporalio_protos::temporal::api::common::v1::WorkflowExecution {
                                workflow_id: child_id.clone(),
                                run_id: child_run.clone(),
                            },
                        ),
                    },
                )),
        )
        .await
        .unwrap_or_else(|e| panic!("describe the child: {e}"))
        .into_inner();
    let info = described.workflow_execution_info.expect("execution info");
    let parent = info
        .parent_execution
        .expect("the child's description names its parent");
    assert_eq!(
        (parent.workflow_id.as_str(), parent.run_id.as_str()),
        (parent_id.as_str(), parent_run.as_str())
    );
    setup.finish(&handle).await
}

/// n. A child whose workflow id is taken by a running workflow does not start: the parent's
/// history has StartChildWorkflowExecutionFailed (cause WORKFLOW_ALREADY_EXISTS, linked to
/// the Initiated event) and the parent returns "start failed: …AlreadyExists". The outcome is
/// the parent's history.
pub async fn child_id_conflict(target: &Target) -> Outcome {
    let setup = Setup::new(target, "child-conflict").await;
    let taken = unique("taken");
    let blocker = setup.start(SignalsWorkflow::run, (), &taken).await;
    let input = ParentInput {
        child_id: taken.clone(),
        name: "nobody".into(),
    };
    let handle = setup
        .start(ParentWorkflow::run, input, &unique("parent"))
        .await;
    let result = setup.result(&handle).await.expect("the parent completes");
    assert!(
        result.starts_with("start failed:") && result.contains("AlreadyExists"),
        "{result}"
    );
    let outcome_history = history_of(
        &setup.connection,
        &handle.info().workflow_id,
        handle.run_id().expect("run id"),
    )
    .await;
    let initiated = only_event(
        &outcome_history,
        EventType::StartChildWorkflowExecutionInitiated,
    );
    let failed = only_event(
        &outcome_history,
        EventType::StartChildWorkflowExecutionFailed,
    );
    match &failed.attributes {
        Some(Attributes::StartChildWorkflowExecutionFailedEventAttributes(attrs)) => {
            assert_eq!(
                attrs.cause(),
                StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists
            );
            assert_eq!(attrs.initiated_event_id, initiated.event_id);
            assert_eq!(attrs.workflow_id, taken);
        }
        other => panic!("StartChildWorkflowExecutionFailed without its attributes: {other:?}"),
    }
    for item in ["a", "b", "c"] {
        signal(&setup, &blocker, item).await;
    }
    setup.result(&blocker).await.expect("the blocker completes");
    setup.finish(&handle).await
}

/// Polls the run's history until it holds an event of `event_type` (at most [`WAIT`]).
pub(super) async fn wait_for_event(
    connection: &Connection,
    workflow_id: &str,
    run_id: &str,
    event_type: EventType,
) {
    let what = format!("{event_type:?}");
    wait_for_history(connection, workflow_id, run_id, &what, |history| {
        history.iter().any(|e| e.event_type() == event_type)
    })
    .await;
}

/// Polls the run's history until `ready` holds for it (at most [`WAIT`]) and returns it;
/// `what` names the wait in the panic message.
pub(crate) async fn wait_for_history(
    connection: &Connection,
    workflow_id: &str,
    run_id: &str,
    what: &str,
    ready: impl Fn(&[HistoryEvent]) -> bool,
) -> Vec<HistoryEvent> {
    let deadline = Instant::now() + WAIT;
    loop {
        let history = fetch_history(connection, workflow_id, run_id).await;
        if ready(&history) {
            return history;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {WAIT:?}: {:?}",
            event_types(&history)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A JSON payload as the SDK's default converter writes it (`encoding: json/plain`).
fn json_payload(value: &impl serde::Serialize) -> Payload {
    Payload {
        metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
        data: serde_json::to_vec(value).expect("JSON"),
        ..Default::default()
    }
}

/// The JSON value of a single-payload `Payloads`.
fn json_of(payloads: Option<&Payloads>) -> serde_json::Value {
    let payloads = payloads.map(|p| p.payloads.as_slice()).unwrap_or_default();
    assert_eq!(payloads.len(), 1, "one payload: {payloads:?}");
    serde_json::from_slice(&payloads[0].data).expect("a JSON payload")
}

/// The reason of the cancel request in [`cancel_timer_workflow`].
pub const CANCEL_REASON: &str = "the test cancels the timer";

/// o. Cancelling a workflow: `CancelTimerWorkflow` waits on a 60 s timer; once TimerStarted is
/// in history the client requests cancellation (with a reason). The workflow sees it (its timer
/// resolves as cancelled, and it ends cancelled with details naming the reason); the client's
/// result call gets `Cancelled` with those details, describe says CANCELED, and the history
/// has WorkflowExecutionCancelRequested (carrying the reason), TimerCanceled, and ends with
/// WorkflowExecutionCanceled (carrying the details).
pub async fn cancel_timer_workflow(target: &Target) -> Outcome {
    let setup = Setup::new(target, "cancel-timer").await;
    let workflow_id = unique("cancel-timer");
    let started_at = Instant::now();
    let handle = setup
        .start(CancelTimerWorkflow::run, (), &workflow_id)
        .await;
    let run_id = handle.run_id().expect("run id").to_string();
    wait_for_event(
        &setup.connection,
        &workflow_id,
        &run_id,
        EventType::TimerStarted,
    )
    .await;
    assert_eq!(
        status(&setup, &handle).await,
        WorkflowExecutionStatus::Running
    );
    let cancel = WorkflowCancelOptions::builder()
        .reason(CANCEL_REASON)
        .build();
    setup
        .wait("cancel", handle.cancel(cancel))
        .await
        .unwrap_or_else(|e| panic!("cancel {workflow_id}: {e}"));
    let expected_details = format!("cancelled while waiting: {CANCEL_REASON}");
    match setup.result(&handle).await {
        Err(WorkflowGetResultError::Cancelled { details }) => assert_eq!(
            details.deserialize::<String>().expect("string details"),
            expected_details
        ),
        other => panic!("the result call must say cancelled, got {other:?}"),
    }
    let elapsed = started_at.elapsed();
    assert!(elapsed < LONG_TIMER / 2, "cancelled only after {elapsed:?}");
    assert_eq!(
        status(&setup, &handle).await,
        WorkflowExecutionStatus::Canceled
    );
    let outcome = setup.finish(&handle).await;
    let history = &outcome.history;
    let requested = only_event(history, EventType::WorkflowExecutionCancelRequested);
    match &requested.attributes {
        Some(Attributes::WorkflowExecutionCancelRequestedEventAttributes(attrs)) => {
            assert_eq!(attrs.cause, CANCEL_REASON, "the request's reason");
        }
        other => panic!("WorkflowExecutionCancelRequested without its attributes: {other:?}"),
    }
    let timer_started = only_event(history, EventType::TimerStarted);
    let timer_canceled = only_event(history, EventType::TimerCanceled);
    match &timer_canceled.attributes {
        Some(Attributes::TimerCanceledEventAttributes(attrs)) => {
            assert_eq!(attrs.started_event_id, timer_started.event_id);
        }
        other => panic!("TimerCanceled without its attributes: {other:?}"),
    }
    assert!(events_of(history, EventType::TimerFired).is_empty());
    let canceled = history.last().expect("non-empty history");
    match &canceled.attributes {
        Some(Attributes::WorkflowExecutionCanceledEventAttributes(attrs)) => {
            assert_eq!(json_of(attrs.details.as_ref()), expected_details.as_str());
        }
        other => panic!("the history must end with WorkflowExecutionCanceled, got {other:?}"),
    }
    assert!(requested.event_id < timer_canceled.event_id);
    outcome
}

/// p. Cancelling a heartbeating activity from its workflow: `CancelActivityWorkflow` runs
/// `heartbeat_until_cancelled` (heartbeats every 200 ms, heartbeat timeout 2 s); once the
/// activity has heartbeated, the client sends `cancel_activity` and the workflow cancels the
/// activity's token. The activity learns of it through its heartbeats and ends cancelled; the
/// workflow returns "activity cancelled". The history has ActivityTaskCancelRequested and then
/// ActivityTaskCanceled, both for the one scheduled activity, and ends with
/// WorkflowExecutionCompleted.
pub async fn cancel_heartbeating_activity(target: &Target) -> Outcome {
    let setup = Setup::new(target, "cancel-activity").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("activity.log");
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let handle = setup
        .start(
            CancelActivityWorkflow::run,
            log_path.display().to_string(),
            &unique("cancel-activity"),
        )
        .await;
    let deadline = Instant::now() + WAIT;
    while !read_log().lines().any(|l| l == HEARTBEATING) {
        assert!(
            Instant::now() < deadline,
            "the activity never heartbeated (worker status: {:?})",
            setup.worker.exit_status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    setup
        .wait(
            "signal cancel_activity",
            handle.signal(
                CancelActivityWorkflow::cancel_activity,
                (),
                WorkflowSignalOptions::default(),
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("signal cancel_activity: {e}"));
    let result = setup.result(&handle).await.expect("the workflow completes");
    assert_eq!(result, "activity cancelled");
    let log: Vec<String> = read_log().lines().map(str::to_string).collect();
    assert_eq!(
        log,
        [HEARTBEATING, CANCELLED],
        "the activity saw its cancellation"
    );
    let outcome = setup.finish(&handle).await;
    let history = &outcome.history;
    let scheduled = only_event(history, EventType::ActivityTaskScheduled);
    match &scheduled.attributes {
        Some(Attributes::ActivityTaskScheduledEventAttributes(attrs)) => {
            let activity_type = attrs.activity_type.as_ref().map(|t| t.name.as_str());
            assert_eq!(activity_type, Some("heartbeat_until_cancelled"));
            let timeout = attrs.heartbeat_timeout.expect("heartbeat_timeout");
            assert_eq!(
                Duration::new(timeout.seconds as u64, timeout.nanos as u32),
                HEARTBEAT_TIMEOUT
            );
        }
        other => panic!("ActivityTaskScheduled without its attributes: {other:?}"),
    }
    let requested = only_event(history, EventType::ActivityTaskCancelRequested);
    match &requested.attributes {
        Some(Attributes::ActivityTaskCancelRequestedEventAttributes(attrs)) => {
            assert_eq!(attrs.scheduled_event_id, scheduled.event_id);
        }
        other => panic!("ActivityTaskCancelRequested without its attributes: {other:?}"),
    }
    let started = only_event(history, EventType::ActivityTaskStarted);
    let canceled = only_event(history, EventType::ActivityTaskCanceled);
    match &canceled.attributes {
        Some(Attributes::ActivityTaskCanceledEventAttributes(attrs)) => {
            assert_eq!(attrs.scheduled_event_id, scheduled.event_id);
            assert_eq!(attrs.started_event_id, started.event_id);
            assert_eq!(attrs.latest_cancel_requested_event_id, requested.event_id);
        }
        other => panic!("ActivityTaskCanceled without its attributes: {other:?}"),
    }
    assert!(requested.event_id < canceled.event_id);
    for unexpected in [
        EventType::ActivityTaskCompleted,
        EventType::ActivityTaskFailed,
        EventType::ActivityTaskTimedOut,
    ] {
        assert!(
            events_of(history, unexpected).is_empty(),
            "no {unexpected:?}: {:?}",
            event_types(history)
        );
    }
    assert_eq!(
        last_event_type(history),
        EventType::WorkflowExecutionCompleted
    );
    outcome
}

/// The reason and the details of the termination in [`terminate_with_reason`].
pub const TERMINATE_REASON: &str = "the test terminates it";
/// See [`TERMINATE_REASON`].
pub const TERMINATE_DETAILS: &str = "no signals are coming";

/// q. Terminating a workflow: a `SignalsWorkflow` waiting for signals is terminated by the
/// client (as [`ADMIN`]) with a reason and details (once its first workflow task completed). The client's
/// result call gets `Terminated` with the details, describe says TERMINATED, and the history
/// ends with WorkflowExecutionTerminated carrying the reason, the details and the client's
/// identity.
pub async fn terminate_with_reason(target: &Target) -> Outcome {
    let setup = Setup::new(target, "terminate").await;
    let workflow_id = unique("terminate");
    let handle = setup.start(SignalsWorkflow::run, (), &workflow_id).await;
    let run_id = handle.run_id().expect("run id").to_string();
    wait_for_event(
        &setup.connection,
        &workflow_id,
        &run_id,
        EventType::WorkflowTaskCompleted,
    )
    .await;
    assert_eq!(
        status(&setup, &handle).await,
        WorkflowExecutionStatus::Running
    );
    let terminate = WorkflowTerminateOptions::builder()
        .reason(TERMINATE_REASON)
        .details(Payloads {
            payloads: vec![json_payload(&TERMINATE_DETAILS)],
        })
        .build();
    let admin = client(&connect(&target.as_principal(ADMIN)).await);
    let as_admin: WorkflowHandle<Client, SignalsWorkflowRun> =
        WorkflowHandle::new(admin, handle.info().clone());
    setup
        .wait("terminate", as_admin.terminate(terminate))
        .await
        .unwrap_or_else(|e| panic!("terminate {workflow_id}: {e}"));
    match setup.result(&handle).await {
        Err(WorkflowGetResultError::Terminated { details }) => assert_eq!(
            details.deserialize::<String>().expect("string details"),
            TERMINATE_DETAILS
        ),
        other => panic!("the result call must say terminated, got {other:?}"),
    }
    assert_eq!(
        status(&setup, &handle).await,
        WorkflowExecutionStatus::Terminated
    );
    let outcome = setup.finish(&handle).await;
    match &outcome.history.last().and_then(|e| e.attributes.clone()) {
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(attrs)) => {
            assert_eq!(attrs.reason, TERMINATE_REASON);
            assert_eq!(json_of(attrs.details.as_ref()), TERMINATE_DETAILS);
            assert!(
                attrs.identity.starts_with("lockstep-e2e-"),
                "the terminating client's identity: {:?}",
                attrs.identity
            );
        }
        other => panic!("the history must end with WorkflowExecutionTerminated, got {other:?}"),
    }
    assert_eq!(
        events_of(&outcome.history, EventType::WorkflowExecutionTerminated).len(),
        1
    );
    outcome
}

/// SignalWithStartWorkflowExecution of `CollectWorkflow(2)` with a `collect(item)` signal,
/// through the raw service (the SDK's client does not expose `started`).
async fn signal_with_start_collect(
    setup: &Setup,
    workflow_id: &str,
    item: &str,
) -> SignalWithStartWorkflowExecutionResponse {
    let request = SignalWithStartWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType {
            name: "CollectWorkflow".into(),
        }),
        task_queue: Some(TaskQueue {
            name: setup.task_queue.clone(),
            ..Default::default()
        }),
        input: Some(Payloads {
            payloads: vec![json_payload(&2)],
        }),
        identity: "lockstep-e2e-signal-with-start".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        signal_name: "collect".into(),
        signal_input: Some(Payloads {
            payloads: vec![json_payload(&item)],
        }),
        ..Default::default()
    };
    setup
        .wait(
            "signal-with-start",
            setup
                .connection
                .workflow_service()
                .signal_with_start_workflow_execution(tonic::Request::new(request)),
        )
        .await
        .unwrap_or_else(|e| panic!("signal-with-start {workflow_id} ({item}): {e}"))
        .into_inner()
}

/// r. Signal-with-start, twice, same workflow id: the first call starts `CollectWorkflow(2)`
/// (`started`) with its signal; once that run's first workflow task completed, the second call
/// only signals it (not `started`, same run id). The run returns both items in order; its
/// history is the only run of the id and has two WorkflowExecutionSignaled events, the first
/// right after WorkflowExecutionStarted.
pub async fn signal_with_start_once(target: &Target) -> Outcome {
    let setup = Setup::new(target, "signal-with-start").await;
    let workflow_id = unique("signal-with-start");
    let first = signal_with_start_collect(&setup, &workflow_id, "first").await;
    assert!(first.started, "the first call starts the workflow");
    assert!(!first.run_id.is_empty());
    wait_for_event(
        &setup.connection,
        &workflow_id,
        &first.run_id,
        EventType::WorkflowTaskCompleted,
    )
    .await;
    let second = signal_with_start_collect(&setup, &workflow_id, "second").await;
    assert!(!second.started, "the second call only signals");
    assert_eq!(
        second.run_id, first.run_id,
        "the second call signals the same run"
    );

    let info = WorkflowExecutionInfo::builder()
        .namespace(NAMESPACE)
        .workflow_id(workflow_id.clone())
        .run_id(first.run_id.clone())
        .build();
    let handle: WorkflowHandle<Client, CollectWorkflowRun> =
        WorkflowHandle::new(setup.client.clone(), info);
    let result = setup.result(&handle).await.expect("the workflow completes");
    assert_eq!(result, ["first", "second"]);
    let latest: WorkflowHandle<Client, CollectWorkflowRun> =
        setup.client.get_workflow_handle(workflow_id.clone());
    let described = setup
        .wait(
            "describe",
            latest.describe(WorkflowDescribeOptions::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("describe: {e}"));
    assert_eq!(described.run_id(), first.run_id, "no other run was started");
    assert_eq!(described.status(), WorkflowExecutionStatus::Completed);

    let outcome = setup.finish(&handle).await;
    let history = &outcome.history;
    let signaled = events_of(history, EventType::WorkflowExecutionSignaled);
    assert_eq!(signaled.len(), 2, "{:?}", event_types(history));
    let items: Vec<serde_json::Value> = signaled
        .iter()
        .map(|event| match &event.attributes {
            Some(Attributes::WorkflowExecutionSignaledEventAttributes(attrs)) => {
                assert_eq!(attrs.signal_name, "collect");
                json_of(attrs.input.as_ref())
            }
            other => panic!("WorkflowExecutionSignaled without its attributes: {other:?}"),
        })
        .collect();
    assert_eq!(items, ["first", "second"]);
    assert_eq!(
        signaled[0].event_id, 2,
        "the start's signal follows Started"
    );
    assert_eq!(
        last_event_type(history),
        EventType::WorkflowExecutionCompleted
    );
    outcome
}
