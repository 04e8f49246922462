//! Scenarios across runs, on both servers: a parent cancels its running child, a workflow
//! signals another workflow and a missing one, a workflow retried by its retry policy, and a
//! cron workflow. Their workflows are here too (registered on every test worker by
//! [`register`]).

// `#[workflow_methods]` turns each method into an associated constant without its doc comment.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowHandle,
    WorkflowTerminateOptions, errors::WorkflowStartError,
};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_protos::temporal::api::{
    enums::v1::{
        ContinueAsNewInitiator, EventType, RetryState, SignalExternalWorkflowExecutionFailedCause,
    },
    history::v1::{
        HistoryEvent, WorkflowExecutionStartedEventAttributes, history_event::Attributes,
    },
};
use temporalio_sdk::{
    ApplicationFailure, ChildWorkflowCancellationType, ChildWorkflowOptions, SignalWorkflowOptions,
    WorkerOptions, WorkflowContext, WorkflowResult, WorkflowSignalError,
};

use super::{
    Target, client, connect,
    scenarios::{
        ADMIN, Outcome, Setup, WAIT, events_of, history_of, last_event_type, only_event, signal,
        unique, wait_for_event,
    },
    workflows::{CancelTimerWorkflow, SignalsWorkflow},
};

/// Registers this file's workflows on a test worker.
pub fn register(options: &mut WorkerOptions) -> anyhow::Result<()> {
    options
        .register_workflow::<CancelChildWorkflow>()?
        .register_workflow::<SignalOtherWorkflow>()?
        .register_workflow::<FailTwiceWorkflow>()?
        .register_workflow::<CronTickWorkflow>()?;
    Ok(())
}

/// The reason [`CancelChildWorkflow`] gives when it cancels its child.
pub const CHILD_CANCEL_REASON: &str = "the parent no longer needs it";

/// Starts [`CancelTimerWorkflow`] as a child with id `child_id`, cancels it once it is started
/// (waiting for the child to acknowledge), and returns `"child cancelled"`.
#[workflow]
#[derive(Default)]
pub struct CancelChildWorkflow;

#[workflow_methods]
impl CancelChildWorkflow {
    #[run(name = "CancelChildWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, child_id: String) -> WorkflowResult<String> {
        let options = ChildWorkflowOptions::builder()
            .workflow_id(child_id)
            .cancel_type(ChildWorkflowCancellationType::WaitCancellationCompleted)
            .build();
        let started = ctx
            .start_child_workflow(CancelTimerWorkflow::run, (), options)
            .await?;
        started.cancel(CHILD_CANCEL_REASON.to_string());
        match started.result().await {
            Err(error) if error.as_cancelled().is_some() => Ok("child cancelled".to_string()),
            Ok(result) => Ok(format!("child finished: {result}")),
            Err(error) => Err(error.into()),
        }
    }
}

/// Input of [`SignalOtherWorkflow`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignalOtherInput {
    /// A running [`SignalsWorkflow`] to send `add("from a workflow")` to.
    pub target_id: String,
    /// A workflow id nobody uses.
    pub missing_id: String,
}

/// What [`SignalOtherWorkflow`] adds to its target.
pub const FROM_A_WORKFLOW: &str = "from a workflow";

/// Signals `add(FROM_A_WORKFLOW)` to `target_id`, then tries `missing_id`, and returns how the
/// second signal ended: `"missing: not found"` when the SDK reports the target not found.
#[workflow]
#[derive(Default)]
pub struct SignalOtherWorkflow;

#[workflow_methods]
impl SignalOtherWorkflow {
    #[run(name = "SignalOtherWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: SignalOtherInput,
    ) -> WorkflowResult<String> {
        ctx.external_workflow(input.target_id, None)
            .signal(
                SignalsWorkflow::add,
                FROM_A_WORKFLOW.to_string(),
                SignalWorkflowOptions::default(),
            )
            .await?;
        let missing = ctx
            .external_workflow(input.missing_id, None)
            .signal(
                SignalsWorkflow::add,
                "to nobody".to_string(),
                SignalWorkflowOptions::default(),
            )
            .await;
        Ok(match missing {
            Ok(()) => "missing: delivered".to_string(),
            Err(WorkflowSignalError::NotFound(_)) => "missing: not found".to_string(),
            Err(other) => format!("missing: {other}"),
        })
    }
}

/// How many attempts of [`FailTwiceWorkflow`] fail.
pub const FAILING_ATTEMPTS: u32 = 2;

/// Fails (a retryable application failure) on its first [`FAILING_ATTEMPTS`] attempts; then
/// returns its attempt number.
#[workflow]
#[derive(Default)]
pub struct FailTwiceWorkflow;

#[workflow_methods]
impl FailTwiceWorkflow {
    #[run(name = "FailTwiceWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
        let attempt = ctx.info().attempt();
        if attempt <= FAILING_ATTEMPTS {
            return Err(
                ApplicationFailure::builder(format!("attempt {attempt} fails"))
                    .type_name("FlakyWorkflowError".to_string())
                    .build()
                    .into(),
            );
        }
        Ok(attempt)
    }
}

/// One run of a cron chain: returns "tick" at once.
#[workflow]
#[derive(Default)]
pub struct CronTickWorkflow;

#[workflow_methods]
impl CronTickWorkflow {
    #[run(name = "CronTickWorkflow")]
    pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        Ok("tick".to_string())
    }
}

fn started_attributes(history: &[HistoryEvent]) -> WorkflowExecutionStartedEventAttributes {
    match history.first().and_then(|e| e.attributes.clone()) {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(attrs)) => attrs,
        other => panic!("a history starts with WorkflowExecutionStarted, got {other:?}"),
    }
}

/// The run that follows a closed run (its closing event's `new_execution_run_id`).
fn next_run_id(history: &[HistoryEvent]) -> String {
    match history.last().and_then(|e| e.attributes.clone()) {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => a.new_execution_run_id,
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => a.new_execution_run_id,
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(a)) => a.new_execution_run_id,
        other => panic!("not a close event that names a next run: {other:?}"),
    }
}

/// r. A parent cancels its running child: `CancelChildWorkflow` returns "child cancelled". The
/// parent's history has RequestCancelExternalWorkflowExecutionInitiated (child only, naming
/// the child), ExternalWorkflowExecutionCancelRequested and ChildWorkflowExecutionCanceled,
/// linked by event ids; the child's history has WorkflowExecutionCancelRequested (carrying the
/// reason) and ends WorkflowExecutionCanceled. The outcome is the parent's history.
pub async fn cancel_child_from_parent(target: &Target) -> Outcome {
    let setup = Setup::new(target, "cancel-child").await;
    let child_id = unique("cancelled-child");
    let handle = setup
        .start(
            CancelChildWorkflow::run,
            child_id.clone(),
            &unique("parent"),
        )
        .await;
    let result = setup.result(&handle).await.expect("the parent completes");
    assert_eq!(result, "child cancelled");
    let history = history_of(
        &setup.connection,
        &handle.info().workflow_id,
        handle.run_id().expect("run id"),
    )
    .await;
    let child_initiated = only_event(&history, EventType::StartChildWorkflowExecutionInitiated);
    let child_run = match &only_event(&history, EventType::ChildWorkflowExecutionStarted).attributes
    {
        Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(a)) => {
            a.workflow_execution
                .clone()
                .expect("the child's execution")
                .run_id
        }
        other => panic!("ChildWorkflowExecutionStarted without attributes: {other:?}"),
    };
    let initiated = only_event(
        &history,
        EventType::RequestCancelExternalWorkflowExecutionInitiated,
    );
    match &initiated.attributes {
        Some(Attributes::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(a)) => {
            assert!(a.child_workflow_only, "the SDK cancels children only");
            let execution = a.workflow_execution.as_ref().expect("the target");
            assert_eq!(execution.workflow_id, child_id);
        }
        other => panic!("Initiated without attributes: {other:?}"),
    }
    match &only_event(
        &history,
        EventType::ExternalWorkflowExecutionCancelRequested,
    )
    .attributes
    {
        Some(Attributes::ExternalWorkflowExecutionCancelRequestedEventAttributes(a)) => {
            assert_eq!(a.initiated_event_id, initiated.event_id);
        }
        other => panic!("CancelRequested without attributes: {other:?}"),
    }
    match &only_event(&history, EventType::ChildWorkflowExecutionCanceled).attributes {
        Some(Attributes::ChildWorkflowExecutionCanceledEventAttributes(a)) => {
            assert_eq!(a.initiated_event_id, child_initiated.event_id);
        }
        other => panic!("ChildWorkflowExecutionCanceled without attributes: {other:?}"),
    }
    assert!(
        events_of(
            &history,
            EventType::RequestCancelExternalWorkflowExecutionFailed
        )
        .is_empty()
    );

    let child = history_of(&setup.connection, &child_id, &child_run).await;
    match &only_event(&child, EventType::WorkflowExecutionCancelRequested).attributes {
        Some(Attributes::WorkflowExecutionCancelRequestedEventAttributes(a)) => {
            assert_eq!(a.cause, CHILD_CANCEL_REASON);
        }
        other => panic!("WorkflowExecutionCancelRequested without attributes: {other:?}"),
    }
    assert_eq!(
        last_event_type(&child),
        EventType::WorkflowExecutionCanceled
    );
    setup.finish(&handle).await
}

/// s. A workflow signals another workflow and a missing one: `SignalOtherWorkflow` returns
/// "missing: not found"; the target receives `add("from a workflow")` (its signal event names
/// the sender) and returns it with two more items. The sender's history has two
/// SignalExternalWorkflowExecutionInitiated events, ExternalWorkflowExecutionSignaled for the
/// first and SignalExternalWorkflowExecutionFailed (EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND) for
/// the second. The outcome is the sender's history.
pub async fn signal_external_workflows(target: &Target) -> Outcome {
    let setup = Setup::new(target, "signal-external").await;
    let target_id = unique("signal-target");
    let receiver = setup.start(SignalsWorkflow::run, (), &target_id).await;
    let input = SignalOtherInput {
        target_id: target_id.clone(),
        missing_id: unique("nobody"),
    };
    let sender = setup
        .start(SignalOtherWorkflow::run, input, &unique("signal-sender"))
        .await;
    let result = setup.result(&sender).await.expect("the sender completes");
    assert_eq!(result, "missing: not found");
    for item in ["b", "c"] {
        signal(&setup, &receiver, item).await;
    }
    let items = setup
        .result(&receiver)
        .await
        .expect("the receiver completes");
    assert_eq!(items, [FROM_A_WORKFLOW, "b", "c"]);

    let received = history_of(
        &setup.connection,
        &target_id,
        receiver.run_id().expect("run id"),
    )
    .await;
    let first_signal = events_of(&received, EventType::WorkflowExecutionSignaled)[0];
    match &first_signal.attributes {
        Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => {
            let from = a.external_workflow_execution.as_ref().expect("the sender");
            assert_eq!(from.workflow_id, sender.info().workflow_id);
        }
        other => panic!("WorkflowExecutionSignaled without attributes: {other:?}"),
    }
    let outcome = setup.finish(&sender).await;
    let history = &outcome.history;
    let initiated = events_of(history, EventType::SignalExternalWorkflowExecutionInitiated);
    assert_eq!(initiated.len(), 2, "two signals sent");
    match &only_event(history, EventType::ExternalWorkflowExecutionSignaled).attributes {
        Some(Attributes::ExternalWorkflowExecutionSignaledEventAttributes(a)) => {
            assert_eq!(a.initiated_event_id, initiated[0].event_id);
        }
        other => panic!("ExternalWorkflowExecutionSignaled without attributes: {other:?}"),
    }
    match &only_event(history, EventType::SignalExternalWorkflowExecutionFailed).attributes {
        Some(Attributes::SignalExternalWorkflowExecutionFailedEventAttributes(a)) => {
            assert_eq!(a.initiated_event_id, initiated[1].event_id);
            assert_eq!(
                a.cause(),
                SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound
            );
        }
        other => panic!("SignalExternalWorkflowExecutionFailed without attributes: {other:?}"),
    }
    outcome
}

/// The backoff of [`retry_until_success`]'s retry policy.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// t. A workflow retry policy: `FailTwiceWorkflow` fails on attempts 1 and 2 and returns 3 on
/// attempt 3; the client's result call follows the chain to 3. Each failed run ends
/// WorkflowExecutionFailed (retry state IN_PROGRESS) naming the next run, whose
/// WorkflowExecutionStarted has attempt + 1, initiator RETRY, the backoff, the previous
/// failure and the chain's first run. The outcome is the first run's history.
pub async fn retry_until_success(target: &Target) -> Outcome {
    let setup = Setup::new(target, "workflow-retry").await;
    let workflow_id = unique("workflow-retry");
    let handle = start_fail_twice(&setup, &workflow_id, RETRY_INTERVAL).await;
    let result = setup.result(&handle).await.expect("the chain completes");
    assert_eq!(result, FAILING_ATTEMPTS + 1);
    check_retry_chain(&setup, &handle, RETRY_INTERVAL).await;
    setup.finish(&handle).await
}

/// The backoff of [`retry_backoff_survives_a_crash`]: long enough to SIGKILL the server in it.
pub const CRASH_RETRY_INTERVAL: Duration = Duration::from_secs(3);

/// v. (Lockstep only) The backoff before a retry is durable: once the first attempt failed,
/// the server is SIGKILLed and restarted (`restart`); the chain still runs attempts 2 and 3
/// and the result call (through the restart) gets 3, with the same chain as in
/// [`retry_until_success`].
pub async fn retry_backoff_survives_a_crash(target: &Target, restart: impl FnOnce()) -> Outcome {
    let setup = Setup::new(target, "workflow-retry-crash").await;
    let workflow_id = unique("workflow-retry-crash");
    let handle = start_fail_twice(&setup, &workflow_id, CRASH_RETRY_INTERVAL).await;
    let first_run = handle.run_id().expect("run id").to_string();
    wait_for_event(
        &setup.connection,
        &workflow_id,
        &first_run,
        EventType::WorkflowExecutionFailed,
    )
    .await;
    tokio::task::block_in_place(restart);
    let restarted = std::time::SystemTime::now();
    let result = setup.result(&handle).await.expect("the chain completes");
    assert_eq!(result, FAILING_ATTEMPTS + 1);
    check_retry_chain(&setup, &handle, CRASH_RETRY_INTERVAL).await;
    // The second attempt's first task was scheduled by the restarted server (from the stored
    // backoff timer), not before the crash.
    let first = history_of(&setup.connection, &workflow_id, &first_run).await;
    let second = history_of(&setup.connection, &workflow_id, &next_run_id(&first)).await;
    let scheduled = only_event(&second, EventType::WorkflowTaskScheduled)
        .event_time
        .expect("event time");
    let restarted_s = restarted
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    assert!(
        scheduled.seconds >= restarted_s - 1,
        "the retry's first task ({scheduled:?}) comes after the restart ({restarted_s} s)"
    );
    setup.finish(&handle).await
}

type FailTwiceHandle = WorkflowHandle<Client, fail_twice_workflow::Run>;

/// Starts `FailTwiceWorkflow` with a retry policy of constant `interval`, five attempts.
async fn start_fail_twice(setup: &Setup, workflow_id: &str, interval: Duration) -> FailTwiceHandle {
    let policy = RetryPolicy::builder()
        .initial_interval(interval)
        .backoff_coefficient(1.0)
        .maximum_attempts(5)
        .build();
    let mut options = setup.start_options(workflow_id);
    options.retry_policy = Some(policy);
    setup
        .wait(
            "start the workflow",
            setup
                .client
                .start_workflow(FailTwiceWorkflow::run, (), options),
        )
        .await
        .unwrap_or_else(|e| panic!("start {workflow_id}: {e}"))
}

/// Follows a completed `FailTwiceWorkflow` chain from its first run and checks every link.
async fn check_retry_chain(setup: &Setup, handle: &FailTwiceHandle, interval: Duration) {
    let workflow_id = handle.info().workflow_id.clone();
    let first_run = handle.run_id().expect("run id").to_string();
    let mut run_id = first_run.clone();
    let mut previous = String::new();
    for attempt in 1..=FAILING_ATTEMPTS + 1 {
        let history = history_of(&setup.connection, &workflow_id, &run_id).await;
        let started = started_attributes(&history);
        assert_eq!(started.attempt, attempt as i32, "run {run_id}");
        assert_eq!(started.first_execution_run_id, first_run);
        if attempt == 1 {
            assert!(started.continued_failure.is_none());
        } else {
            assert_eq!(started.initiator(), ContinueAsNewInitiator::Retry);
            assert_eq!(started.continued_execution_run_id, previous);
            let backoff = started.first_workflow_task_backoff.expect("a backoff");
            assert_eq!(backoff.seconds, interval.as_secs() as i64);
            let failure = started.continued_failure.expect("the previous failure");
            assert_eq!(failure.message, format!("attempt {} fails", attempt - 1));
        }
        if attempt > FAILING_ATTEMPTS {
            assert_eq!(
                last_event_type(&history),
                EventType::WorkflowExecutionCompleted
            );
            return;
        }
        match history.last().and_then(|e| e.attributes.clone()) {
            Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
                assert_eq!(a.retry_state(), RetryState::InProgress);
            }
            other => panic!("attempt {attempt} must end failed, got {other:?}"),
        }
        let next = next_run_id(&history);
        assert!(!next.is_empty() && next != run_id);
        previous = std::mem::replace(&mut run_id, next);
    }
}

/// The schedule of [`cron_every_two_seconds`].
pub const CRON_SCHEDULE: &str = "@every 2s";

/// u. A cron workflow (`@every 2s`; a four-field schedule is refused with InvalidArgument):
/// right after the start the run is RUNNING with an execution
/// time after its start and no workflow task yet (its history is WorkflowExecutionStarted
/// alone, with the schedule and the backoff). Two runs complete, each naming the next run
/// (initiator CRON_SCHEDULE, attempt 1, the previous result as last completion result); then
/// the client terminates the chain, and no run follows the terminated one.
pub async fn cron_every_two_seconds(target: &Target) -> Outcome {
    let setup = Setup::new(target, "cron").await;
    let workflow_id = unique("cron");
    let mut bad = setup.start_options(&workflow_id);
    bad.cron_schedule = Some("* * * *".to_string());
    let refused = setup
        .wait(
            "start with a bad schedule",
            setup.client.start_workflow(CronTickWorkflow::run, (), bad),
        )
        .await;
    match refused {
        Err(WorkflowStartError::Rpc(status)) => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        }
        Err(other) => panic!("a four-field schedule must be refused by the server, got {other}"),
        Ok(_) => panic!("a four-field schedule must be refused"),
    }
    let mut options = setup.start_options(&workflow_id);
    options.cron_schedule = Some(CRON_SCHEDULE.to_string());
    let handle = setup
        .wait(
            "start the workflow",
            setup
                .client
                .start_workflow(CronTickWorkflow::run, (), options),
        )
        .await
        .unwrap_or_else(|e| panic!("start {workflow_id}: {e}"));
    let first_run = handle.run_id().expect("run id").to_string();
    let described = setup
        .wait(
            "describe",
            handle.describe(WorkflowDescribeOptions::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("describe: {e}"));
    assert_eq!(described.status(), WorkflowExecutionStatus::Running);
    let info = described
        .raw_description
        .workflow_execution_info
        .expect("execution info");
    let (start, execution) = (
        info.start_time.expect("start time"),
        info.execution_time.expect("execution time"),
    );
    assert!(
        (execution.seconds, execution.nanos) > (start.seconds, start.nanos),
        "a waiting cron run's execution time is after its start: {start:?} / {execution:?}"
    );
    let waiting = history_of(&setup.connection, &workflow_id, &first_run).await;
    assert_eq!(
        waiting.len(),
        1,
        "no workflow task before the schedule: {waiting:?}"
    );
    let started = started_attributes(&waiting);
    assert_eq!(started.cron_schedule, CRON_SCHEDULE);
    assert!(started.first_workflow_task_backoff.is_some());

    let mut run_id = first_run.clone();
    for run in 1..=2 {
        wait_for_event(
            &setup.connection,
            &workflow_id,
            &run_id,
            EventType::WorkflowExecutionCompleted,
        )
        .await;
        let history = history_of(&setup.connection, &workflow_id, &run_id).await;
        let next = next_run_id(&history);
        assert!(!next.is_empty(), "cron run {run} names the next run");
        let following = history_of(&setup.connection, &workflow_id, &next).await;
        let attrs = started_attributes(&following);
        assert_eq!(attrs.initiator(), ContinueAsNewInitiator::CronSchedule);
        assert_eq!(
            (attrs.attempt, attrs.first_execution_run_id.as_str()),
            (1, first_run.as_str())
        );
        assert_eq!(attrs.continued_execution_run_id, run_id);
        assert!(
            attrs.last_completion_result.is_some(),
            "the previous result"
        );
        run_id = next;
    }
    let admin = client(&connect(&target.as_principal(ADMIN)).await);
    let mut info = handle.info().clone();
    info.run_id = None;
    let current: WorkflowHandle<Client, cron_tick_workflow::Run> = WorkflowHandle::new(admin, info);
    setup
        .wait(
            "terminate",
            current.terminate(WorkflowTerminateOptions::builder().reason("enough").build()),
        )
        .await
        .unwrap_or_else(|e| panic!("terminate {workflow_id}: {e}"));
    let deadline = Instant::now() + WAIT;
    let terminated = loop {
        let history = history_of(&setup.connection, &workflow_id, &run_id).await;
        match last_event_type(&history) {
            EventType::WorkflowExecutionTerminated => break history,
            EventType::WorkflowExecutionCompleted => run_id = next_run_id(&history),
            _ => {}
        }
        assert!(Instant::now() < deadline, "the chain was not terminated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        events_of(&terminated, EventType::WorkflowExecutionTerminated).len(),
        1
    );
    let described = setup
        .wait(
            "describe",
            current.describe(WorkflowDescribeOptions::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("describe: {e}"));
    assert_eq!(described.status(), WorkflowExecutionStatus::Terminated);
    assert_eq!(
        described
            .raw_description
            .workflow_execution_info
            .and_then(|i| i.execution)
            .map(|e| e.run_id),
        Some(run_id),
        "no run follows the terminated one"
    );
    setup.finish(&handle).await
}
