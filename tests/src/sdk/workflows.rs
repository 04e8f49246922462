//! The test workflows and activities, written with the official Rust SDK's macros. Each is
//! small and deterministic and returns a value the scenarios assert. Workflow types and
//! activity types get explicit, language-neutral names (the struct name; the activity's
//! short name) so other SDKs and the differential test can refer to them.

// `#[activities]` and `#[workflow_methods]` turn each method into an associated constant that
// does not carry the method's doc comment, and an outer `#[allow]` on the impl is dropped.
#![allow(missing_docs)]

use std::{io::Write, time::Duration};

use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, ApplicationFailure,
    ChildWorkflowOptions, ChildWorkflowStartError, ContinueAsNewOptions, SyncWorkflowContext,
    TimerResult, WorkflowContext, WorkflowContextView, WorkflowResult, WorkflowTermination,
    activities::{ActivityContext, ActivityError},
};

/// How long `step` sleeps after recording itself, so a test can SIGKILL a worker mid-run.
pub const STEP_DURATION: Duration = Duration::from_millis(300);
/// The heartbeat timeout of [`HeartbeatWorkflow`]'s activity.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
/// The start-to-close timeout of [`StartToCloseWorkflow`]'s activity.
pub const SHORT_START_TO_CLOSE: Duration = Duration::from_secs(1);
/// The start-to-close timeout of `step`: how long a killed worker's step blocks its workflow.
pub const STEP_START_TO_CLOSE: Duration = Duration::from_secs(2);
/// The duration of [`TimerWorkflow`]'s durable timer.
pub const TIMER_DURATION: Duration = Duration::from_secs(2);
/// How long a stalled activity attempt sleeps (well past its timeout) unless cancelled. Worker
/// shutdown waits for it: the SDK does not cancel an attempt that timed out on heartbeats, even
/// after `graceful_shutdown_period`.
const STALL: Duration = Duration::from_millis(3500);
/// A start-to-close timeout generous enough to never fire in a healthy run.
const GENEROUS: Duration = Duration::from_secs(30);

/// How often `heartbeat_until_cancelled` heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(200);
/// How many times `heartbeat_until_cancelled` heartbeats (30 s) before it gives up waiting to be
/// cancelled and returns.
pub const MAX_HEARTBEATS: u32 = 150;
/// The line `heartbeat_until_cancelled` logs after its first heartbeat.
pub const HEARTBEATING: &str = "heartbeating";
/// The line `heartbeat_until_cancelled` logs when it sees its cancellation.
pub const CANCELLED: &str = "cancelled";
/// The timer [`CancelTimerWorkflow`] waits on: far longer than any scenario.
pub const LONG_TIMER: Duration = Duration::from_secs(60);

/// The retry policy of every retried activity: first retry after 1 s, then doubling.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .build()
}

/// Input of the `step` activity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepInput {
    /// The step number, returned as the result.
    pub i: u32,
    /// A file each execution appends `"{i}\n"` to before it sleeps.
    pub log_path: String,
}

/// Input of [`CrashWorkflow`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CrashInput {
    /// How many `step` activities to run, numbered 1..=n.
    pub n: u32,
    /// The execution log each step appends to (see [`StepInput`]).
    pub log_path: String,
}

/// How long `record_step` sleeps after recording itself, so crashes hit activities in flight.
pub const RECORD_STEP_DURATION: Duration = Duration::from_millis(200);
/// The start-to-close timeout of `record_step`: how long an attempt whose completion the server
/// never got (it crashed) blocks its workflow before the retry.
pub const RECORD_STEP_START_TO_CLOSE: Duration = Duration::from_secs(5);

/// Input of the `record_step` activity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordStepInput {
    /// The step number.
    pub i: u32,
    /// Added to the step number to make the result: `base + i`.
    pub base: u32,
    /// A file each execution appends `"{workflow_id} {run_id} {i} {attempt}\n"` to (one
    /// `O_APPEND` write per line) before it sleeps.
    pub log_path: String,
}

/// Input of [`DurableWorkflow`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DurableInput {
    /// How many `record_step` activities to run, numbered 1..=steps.
    pub steps: u32,
    /// Each step returns `base + i` (see [`RecordStepInput`]).
    pub base: u32,
    /// The durable timer after step 1, in milliseconds.
    pub timer_ms: u64,
    /// The execution log every step appends to.
    pub log_path: String,
}

impl DurableInput {
    /// What [`DurableWorkflow`] returns for this input: the sum of `base + i` over the steps.
    pub fn expected_result(&self) -> u32 {
        self.steps * self.base + self.steps * (self.steps + 1) / 2
    }
}

/// Every activity the test workers register.
pub struct TestActivities;

#[activities]
impl TestActivities {
    /// Returns `"Hello, {name}!"`.
    #[activity(name = "greet")]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }

    /// Fails with a retryable application error ("FlakyError") on attempts 1 and 2; returns the
    /// attempt number from then on.
    #[activity(name = "flaky")]
    pub async fn flaky(ctx: ActivityContext) -> Result<u32, ActivityError> {
        let attempt = ctx.info().attempt;
        if attempt < 3 {
            return Err(ActivityError::application(
                ApplicationFailure::builder(format!("flaky failure on attempt {attempt}"))
                    .type_name("FlakyError".to_string())
                    .build(),
            ));
        }
        Ok(attempt)
    }

    /// Always fails with the non-retryable application error "card declined"
    /// (type "PaymentError").
    #[activity(name = "charge")]
    pub async fn charge(_ctx: ActivityContext) -> Result<(), ActivityError> {
        Err(ActivityError::application(
            ApplicationFailure::builder("card declined")
                .type_name("PaymentError".to_string())
                .non_retryable(true)
                .build(),
        ))
    }

    /// Attempt 1 heartbeats `"progress-1"`, then stops heartbeating and stalls past the
    /// heartbeat timeout. Later attempts return the last heartbeat details they were given
    /// (a non-retryable failure if there are none).
    #[activity(name = "heartbeat_then_stall")]
    pub async fn heartbeat_then_stall(ctx: ActivityContext) -> Result<String, ActivityError> {
        let attempt = ctx.info().attempt;
        if attempt == 1 {
            ctx.record_heartbeat("progress-1".to_string()).await?;
            stall(&ctx).await;
            return Err(ActivityError::application(ApplicationFailure::new(
                "attempt 1 outlived its heartbeat timeout",
            )));
        }
        match ctx.heartbeat_details().deserialize::<String>()? {
            Some(details) => Ok(details),
            None => Err(ActivityError::application(
                ApplicationFailure::non_retryable(format!(
                    "attempt {attempt} got no heartbeat details"
                )),
            )),
        }
    }

    /// Attempt 1 stalls past its start-to-close timeout; every attempt returns its number.
    #[activity(name = "slow_first_attempt")]
    pub async fn slow_first_attempt(ctx: ActivityContext) -> Result<u32, ActivityError> {
        let attempt = ctx.info().attempt;
        if attempt == 1 {
            stall(&ctx).await;
        }
        Ok(attempt)
    }

    /// Appends `"{i}\n"` to `log_path`, sleeps [`STEP_DURATION`], returns `i`.
    #[activity(name = "step")]
    pub async fn step(_ctx: ActivityContext, input: StepInput) -> Result<u32, ActivityError> {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&input.log_path)?;
        writeln!(log, "{}", input.i)?;
        log.sync_data()?;
        tokio::time::sleep(STEP_DURATION).await;
        Ok(input.i)
    }

    /// Appends `"{workflow_id} {run_id} {i} {attempt}\n"` to `log_path` in one `O_APPEND`
    /// write, sleeps [`RECORD_STEP_DURATION`], returns `base + i`.
    #[activity(name = "record_step")]
    pub async fn record_step(
        ctx: ActivityContext,
        input: RecordStepInput,
    ) -> Result<u32, ActivityError> {
        let info = ctx.info();
        let line = format!(
            "{} {} {} {}\n",
            info.workflow_id.as_deref().unwrap_or("-"),
            info.workflow_run_id.as_deref().unwrap_or("-"),
            input.i,
            info.attempt
        );
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&input.log_path)?
            .write_all(line.as_bytes())?;
        tokio::time::sleep(RECORD_STEP_DURATION).await;
        Ok(input.base + input.i)
    }

    /// Heartbeats (the count so far) every [`HEARTBEAT_INTERVAL`]. After its first heartbeat it
    /// appends [`HEARTBEATING`] to `log_path`; once cancelled it appends [`CANCELLED`] and ends
    /// cancelled. If never cancelled it returns the number of heartbeats after
    /// [`MAX_HEARTBEATS`].
    #[activity(name = "heartbeat_until_cancelled")]
    pub async fn heartbeat_until_cancelled(
        ctx: ActivityContext,
        log_path: String,
    ) -> Result<u32, ActivityError> {
        for beat in 0..MAX_HEARTBEATS {
            ctx.record_heartbeat(beat).await?;
            if beat == 0 {
                append_line(&log_path, HEARTBEATING)?;
            }
            tokio::select! {
                () = tokio::time::sleep(HEARTBEAT_INTERVAL) => {}
                () = ctx.cancelled() => {
                    append_line(&log_path, CANCELLED)?;
                    return Err(ActivityError::cancelled());
                }
            }
        }
        Ok(MAX_HEARTBEATS)
    }
}

/// Appends `line` and a newline to the file at `path` (one `O_APPEND` write).
fn append_line(path: &str, line: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(format!("{line}\n").as_bytes())
}

/// Sleeps [`STALL`] or until the activity is cancelled (e.g. at worker shutdown).
async fn stall(ctx: &ActivityContext) {
    tokio::select! {
        () = tokio::time::sleep(STALL) => {}
        () = ctx.cancelled() => {}
    }
}

/// a. Calls `greet(name)` and returns its greeting.
#[workflow]
#[derive(Default)]
pub struct OneActivityWorkflow;

#[workflow_methods]
impl OneActivityWorkflow {
    /// Runs the workflow.
    #[run(name = "OneActivityWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let options = ActivityOptions::start_to_close_timeout(GENEROUS);
        Ok(ctx
            .execute_activity(TestActivities::greet, name, options)
            .await?)
    }
}

/// b. Calls `flaky()` with [`fast_retry`] and returns the attempt that succeeded (3).
#[workflow]
#[derive(Default)]
pub struct FlakyWorkflow;

#[workflow_methods]
impl FlakyWorkflow {
    /// Runs the workflow.
    #[run(name = "FlakyWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
        let options = ActivityOptions::with_start_to_close_timeout(GENEROUS)
            .retry_policy(fast_retry())
            .build();
        Ok(ctx
            .execute_activity(TestActivities::flaky, (), options)
            .await?)
    }
}

/// c. Calls `charge()`, which fails non-retryably; the workflow fails with that failure as the
/// cause.
#[workflow]
#[derive(Default)]
pub struct NonRetryableWorkflow;

#[workflow_methods]
impl NonRetryableWorkflow {
    /// Runs the workflow.
    #[run(name = "NonRetryableWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let options = ActivityOptions::with_start_to_close_timeout(GENEROUS)
            .retry_policy(fast_retry())
            .build();
        ctx.execute_activity(TestActivities::charge, (), options)
            .await?;
        Ok(())
    }
}

/// d. Calls `heartbeat_then_stall()` with a [`HEARTBEAT_TIMEOUT`]; returns what attempt 2 read
/// from the heartbeat details (`"progress-1"`).
#[workflow]
#[derive(Default)]
pub struct HeartbeatWorkflow;

#[workflow_methods]
impl HeartbeatWorkflow {
    /// Runs the workflow.
    #[run(name = "HeartbeatWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        let options = ActivityOptions::with_start_to_close_timeout(GENEROUS)
            .heartbeat_timeout(HEARTBEAT_TIMEOUT)
            .retry_policy(fast_retry())
            .build();
        Ok(ctx
            .execute_activity(TestActivities::heartbeat_then_stall, (), options)
            .await?)
    }
}

/// e. Calls `slow_first_attempt()` with a [`SHORT_START_TO_CLOSE`]; returns the attempt that
/// finished in time (2).
#[workflow]
#[derive(Default)]
pub struct StartToCloseWorkflow;

#[workflow_methods]
impl StartToCloseWorkflow {
    /// Runs the workflow.
    #[run(name = "StartToCloseWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
        let options = ActivityOptions::with_start_to_close_timeout(SHORT_START_TO_CLOSE)
            .retry_policy(fast_retry())
            .build();
        Ok(ctx
            .execute_activity(TestActivities::slow_first_attempt, (), options)
            .await?)
    }
}

/// f. Sleeps on a durable [`TIMER_DURATION`] timer, then returns `"timer fired"`.
#[workflow]
#[derive(Default)]
pub struct TimerWorkflow;

#[workflow_methods]
impl TimerWorkflow {
    /// Runs the workflow.
    #[run(name = "TimerWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        ctx.timer(TIMER_DURATION).await;
        Ok("timer fired".to_string())
    }
}

/// g. Collects the strings of three `add` signals, exposes them through the `items` query, and
/// returns them.
#[workflow]
#[derive(Default)]
pub struct SignalsWorkflow {
    items: Vec<String>,
}

#[workflow_methods]
impl SignalsWorkflow {
    /// Runs the workflow.
    #[run(name = "SignalsWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<Vec<String>> {
        ctx.wait_condition(|s| s.items.len() >= 3).await?;
        Ok(ctx.state(|s| s.items.clone()))
    }

    /// Signal `add`: appends an item.
    #[signal(name = "add")]
    pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, item: String) {
        self.items.push(item);
    }

    /// Query `items`: the items received so far.
    #[query(name = "items")]
    pub fn items(&self, _ctx: &WorkflowContextView) -> Vec<String> {
        self.items.clone()
    }
}

/// The type a `WorkflowHandle` on a [`SignalsWorkflow`] run is generic over: the macros name it
/// `signals_workflow::Run` in a private module they generate.
pub type SignalsWorkflowRun = signals_workflow::Run;

/// h. Runs `step(i)` for i in 1..=n, one after another, and returns the sum of their results
/// (n(n+1)/2). Used for worker-crash takeover.
#[workflow]
#[derive(Default)]
pub struct CrashWorkflow;

#[workflow_methods]
impl CrashWorkflow {
    /// Runs the workflow.
    #[run(name = "CrashWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: CrashInput) -> WorkflowResult<u32> {
        let mut sum = 0;
        for i in 1..=input.n {
            let options = ActivityOptions::with_start_to_close_timeout(STEP_START_TO_CLOSE)
                .retry_policy(fast_retry())
                .build();
            let step = StepInput {
                i,
                log_path: input.log_path.clone(),
            };
            sum += ctx
                .execute_activity(TestActivities::step, step, options)
                .await?;
        }
        Ok(sum)
    }
}

/// i. Returns its input unchanged: a workflow with no activity and no timer (benchmarks).
#[workflow]
#[derive(Default)]
pub struct EchoWorkflow;

#[workflow_methods]
impl EchoWorkflow {
    /// Runs the workflow.
    #[run(name = "EchoWorkflow")]
    pub async fn run(_ctx: &mut WorkflowContext<Self>, input: String) -> WorkflowResult<String> {
        Ok(input)
    }
}

/// j. Sleeps on one durable timer of the given number of milliseconds, then returns it
/// (benchmarks; [`TimerWorkflow`] is the fixed-duration scenario).
#[workflow]
#[derive(Default)]
pub struct SleepWorkflow;

#[workflow_methods]
impl SleepWorkflow {
    /// Runs the workflow.
    #[run(name = "SleepWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, millis: u64) -> WorkflowResult<u64> {
        ctx.timer(Duration::from_millis(millis)).await;
        Ok(millis)
    }
}

/// k. Waits until it has received as many `tick` signals as its input says, then returns how
/// many it received (benchmarks).
#[workflow]
#[derive(Default)]
pub struct CountSignalsWorkflow {
    ticks: u32,
}

#[workflow_methods]
impl CountSignalsWorkflow {
    /// Runs the workflow.
    #[run(name = "CountSignalsWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, expected: u32) -> WorkflowResult<u32> {
        ctx.wait_condition(move |s| s.ticks >= expected).await?;
        Ok(ctx.state(|s| s.ticks))
    }

    /// Signal `tick`: counts one (the payload, a sequence number, is not used).
    #[signal(name = "tick")]
    pub fn tick(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _seq: u32) {
        self.ticks += 1;
    }
}

/// i. Runs `record_step(i)` for i in 1..=steps, one after another, with a durable timer of
/// `timer_ms` after step 1, and returns the sum of the steps' results (see
/// [`DurableInput::expected_result`]). Used for server-crash durability.
#[workflow]
#[derive(Default)]
pub struct DurableWorkflow;

#[workflow_methods]
impl DurableWorkflow {
    /// Runs the workflow.
    #[run(name = "DurableWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: DurableInput) -> WorkflowResult<u32> {
        let mut sum = 0;
        for i in 1..=input.steps {
            let options = ActivityOptions::with_start_to_close_timeout(RECORD_STEP_START_TO_CLOSE)
                .retry_policy(fast_retry())
                .build();
            let step = RecordStepInput {
                i,
                base: input.base,
                log_path: input.log_path.clone(),
            };
            sum += ctx
                .execute_activity(TestActivities::record_step, step, options)
                .await?;
            if i == 1 {
                ctx.timer(Duration::from_millis(input.timer_ms)).await;
            }
        }
        Ok(sum)
    }
}

/// How many times [`ContinueAsNewWorkflow`] continues as new when started with 0.
pub const CONTINUE_AS_NEW_TIMES: u32 = 2;

/// l. Continues as new with `count + 1` while `count` < [`CONTINUE_AS_NEW_TIMES`], then returns
/// `count`: started with 0 it runs three times and returns 2.
#[workflow]
#[derive(Default)]
pub struct ContinueAsNewWorkflow;

#[workflow_methods]
impl ContinueAsNewWorkflow {
    /// Runs the workflow.
    #[run(name = "ContinueAsNewWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, count: u32) -> WorkflowResult<u32> {
        if count < CONTINUE_AS_NEW_TIMES {
            ctx.continue_as_new(count + 1, ContinueAsNewOptions::default())?;
        }
        Ok(count)
    }
}

/// Input of [`ParentWorkflow`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParentInput {
    /// The child's workflow id.
    pub child_id: String,
    /// What the child is given (it returns `"child got {name}"`).
    pub name: String,
}

/// m. Starts [`ChildWorkflow`] with id `child_id` and returns `"parent got: {child result}"`,
/// or `"start failed: {cause:?}"` if the child could not start (its id is taken).
#[workflow]
#[derive(Default)]
pub struct ParentWorkflow;

#[workflow_methods]
impl ParentWorkflow {
    /// Runs the workflow.
    #[run(name = "ParentWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: ParentInput,
    ) -> WorkflowResult<String> {
        let options = ChildWorkflowOptions::builder()
            .workflow_id(input.child_id)
            .build();
        let started = match ctx
            .start_child_workflow(ChildWorkflow::run, input.name, options)
            .await
        {
            Ok(started) => started,
            Err(ChildWorkflowStartError::StartFailed { cause, .. }) => {
                return Ok(format!("start failed: {cause:?}"));
            }
            Err(other) => return Err(other.into()),
        };
        let result = started.result().await?;
        Ok(format!("parent got: {result}"))
    }
}

/// How long [`ChildWorkflow`] sleeps before it returns, so that its parent's history does not
/// depend on a race between the child's start and its close.
pub const CHILD_SLEEP: Duration = Duration::from_millis(500);

/// n. The child of [`ParentWorkflow`]: sleeps [`CHILD_SLEEP`], returns `"child got {name}"`.
#[workflow]
#[derive(Default)]
pub struct ChildWorkflow;

#[workflow_methods]
impl ChildWorkflow {
    /// Runs the workflow.
    #[run(name = "ChildWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        ctx.timer(CHILD_SLEEP).await;
        Ok(format!("child got {name}"))
    }
}

/// o. Waits on a [`LONG_TIMER`]. If the workflow is cancelled meanwhile, the timer is cancelled
/// with it and the workflow ends cancelled with the details
/// `"cancelled while waiting: {reason}"` (the reason of the cancel request).
#[workflow]
#[derive(Default)]
pub struct CancelTimerWorkflow;

#[workflow_methods]
impl CancelTimerWorkflow {
    /// Runs the workflow.
    #[run(name = "CancelTimerWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        match ctx.timer(LONG_TIMER).await {
            TimerResult::Fired => Ok("timer fired".to_string()),
            TimerResult::Cancelled => {
                let reason = ctx.cancellation_token().reason().unwrap_or_default();
                Err(WorkflowTermination::cancelled_with_details(format!(
                    "cancelled while waiting: {reason}"
                )))
            }
        }
    }
}

/// p. Runs `heartbeat_until_cancelled(log_path)` (heartbeat timeout [`HEARTBEAT_TIMEOUT`]) under
/// its own cancellation token; on the `cancel_activity` signal it cancels that token and waits
/// for the activity to acknowledge (`WaitCancellationCompleted`). Returns
/// `"activity cancelled"`, or `"activity finished after {n} heartbeats"` if it never was.
#[workflow]
#[derive(Default)]
pub struct CancelActivityWorkflow {
    cancel_requested: bool,
}

#[workflow_methods]
impl CancelActivityWorkflow {
    /// Runs the workflow.
    #[run(name = "CancelActivityWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, log_path: String) -> WorkflowResult<String> {
        let token = ctx.cancellation_token().child_token();
        let options = ActivityOptions::with_start_to_close_timeout(GENEROUS)
            .heartbeat_timeout(HEARTBEAT_TIMEOUT)
            .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
            .cancellation_token(token.clone())
            .build();
        let activity =
            ctx.execute_activity(TestActivities::heartbeat_until_cancelled, log_path, options);
        ctx.wait_condition(|s| s.cancel_requested).await?;
        token.cancel_with_reason("the cancel_activity signal");
        match activity.await {
            Err(ActivityExecutionError::Cancelled(_)) => Ok("activity cancelled".to_string()),
            Ok(beats) => Ok(format!("activity finished after {beats} heartbeats")),
            Err(other) => Err(other.into()),
        }
    }

    /// Signal `cancel_activity`: asks the workflow to cancel its activity.
    #[signal(name = "cancel_activity")]
    pub fn cancel_activity(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.cancel_requested = true;
    }
}

/// The type a `WorkflowHandle` on a [`CancelActivityWorkflow`] run is generic over.
pub type CancelActivityWorkflowRun = cancel_activity_workflow::Run;

/// q. Collects the strings of `collect` signals until it has as many as its input says, then
/// returns them in arrival order (signal-with-start).
#[workflow]
#[derive(Default)]
pub struct CollectWorkflow {
    items: Vec<String>,
}

#[workflow_methods]
impl CollectWorkflow {
    /// Runs the workflow.
    #[run(name = "CollectWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        expected: u32,
    ) -> WorkflowResult<Vec<String>> {
        ctx.wait_condition(move |s| s.items.len() >= expected as usize)
            .await?;
        Ok(ctx.state(|s| s.items.clone()))
    }

    /// Signal `collect`: appends an item.
    #[signal(name = "collect")]
    pub fn collect(&mut self, _ctx: &mut SyncWorkflowContext<Self>, item: String) {
        self.items.push(item);
    }
}

/// The type a `WorkflowHandle` on a [`CollectWorkflow`] run is generic over.
pub type CollectWorkflowRun = collect_workflow::Run;
