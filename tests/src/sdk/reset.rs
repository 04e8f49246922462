//! ResetWorkflowExecution end to end with the official Rust SDK, run against the real Temporal
//! dev server and against Lockstep with the same assertions: a workflow runs an activity,
//! sleeps on a timer and waits for signals; after two signals it is reset to its first workflow
//! task. The reset run re-executes from there (the activity runs again, its counter shows it),
//! keeps the two signals (reapplied), the base run is terminated by the resetter, and a client
//! following the workflow id gets the reset run's result.

use std::time::Duration;

use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowHandle,
    WorkflowSignalOptions, errors::WorkflowGetResultError,
};
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::{EventType, WorkflowTaskFailedCause},
    failure::v1::failure::FailureInfo,
    history::v1::{HistoryEvent, history_event::Attributes},
    workflowservice::v1::ResetWorkflowExecutionRequest,
};

pub use workflows::{ResetActivities, ResetInput, ResetOutput, ResetWorkflow, ResetWorkflowRun};

use super::{
    NAMESPACE, Target, connect, event_types,
    scenarios::{ADMIN, Outcome, Setup, events_of, history_of, unique, wait_for_history},
};

/// The reason the scenario gives for its reset.
pub const RESET_REASON: &str = "the test resets to the first workflow task";
/// How long [`ResetWorkflow`] sleeps after its activity.
pub const PAUSE: Duration = Duration::from_millis(500);

/// What [`reset_to_first_task`] leaves behind: the base run and the run the reset created.
#[derive(Clone, Debug)]
pub struct ResetOutcome {
    /// The run that was reset (terminated by the reset).
    pub base: Outcome,
    /// The run the reset created.
    pub reset: Outcome,
}

/// The scenario (see the module docs). Returns both runs' histories for the differential
/// comparison.
pub async fn reset_to_first_task(target: &Target) -> ResetOutcome {
    let setup = Setup::new(target, "reset").await;
    let workflow_id = unique("reset");
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("runs.log").display().to_string();
    let input = ResetInput {
        log_path: log_path.clone(),
        signals: 3,
    };
    let handle = setup.start(ResetWorkflow::run, input, &workflow_id).await;
    let base_run = handle.run_id().expect("run id").to_string();

    // The base run: activity, timer, then waiting; two signals, each seen by a workflow task.
    idle_after(&setup, &workflow_id, &base_run, 0).await;
    for (seen, item) in ["a", "b"].into_iter().enumerate() {
        signal(&setup, &handle, item).await;
        idle_after(&setup, &workflow_id, &base_run, seen + 1).await;
    }
    let base_history = history_of(&setup.connection, &workflow_id, &base_run).await;
    let first_completed = events_of(&base_history, EventType::WorkflowTaskCompleted)[0].event_id;
    assert_eq!(first_completed, 4, "{:?}", event_types(&base_history));

    let new_run = reset(target, &workflow_id, &base_run, first_completed).await;
    assert_ne!(new_run, base_run);

    // Follow the workflow id (no run id): the reset run is current.
    let current: WorkflowHandle<Client, ResetWorkflowRun> =
        setup.client.get_workflow_handle(workflow_id.clone());
    idle_after(&setup, &workflow_id, &new_run, 2).await;
    signal(&setup, &current, "c").await;
    let result = setup
        .result(&current)
        .await
        .expect("the reset run completes");
    assert_eq!(
        result,
        ResetOutput {
            activity_runs: 2,
            items: vec!["a".into(), "b".into(), "c".into()],
        },
        "the activity ran again and the signals were kept"
    );
    let log = std::fs::read_to_string(&log_path).expect("the activity log");
    assert_eq!(
        log.lines().count(),
        2,
        "two executions of the activity: {log:?}"
    );

    match setup.result(&handle).await {
        Err(WorkflowGetResultError::Terminated { .. }) => {}
        other => panic!("the base run's result must say terminated, got {other:?}"),
    }
    let described = setup
        .wait(
            "describe",
            handle.describe(WorkflowDescribeOptions::default()),
        )
        .await
        .expect("describe the base run");
    assert_eq!(described.status(), WorkflowExecutionStatus::Terminated);

    let reset_history = history_of(&setup.connection, &workflow_id, &new_run).await;
    check_reset_history(&reset_history, &base_history, &base_run, &new_run);
    let base = setup.finish(&handle).await;
    check_base_history(&base.history);
    ResetOutcome {
        base,
        reset: Outcome {
            workflow_id,
            run_id: new_run,
            history: reset_history,
        },
    }
}

/// Waits until the run's activity completed, its timer fired, it has seen `signals` signals
/// and its last workflow task completed (so the next step's events have a fixed place).
async fn idle_after(setup: &Setup, workflow_id: &str, run_id: &str, signals: usize) {
    let what = format!("an idle run after {signals} signals");
    wait_for_history(&setup.connection, workflow_id, run_id, &what, |history| {
        let count = |ty| history.iter().filter(|e| e.event_type() == ty).count();
        count(EventType::TimerFired) == 1
            && count(EventType::WorkflowExecutionSignaled) == signals
            && history.last().map(HistoryEvent::event_type)
                == Some(EventType::WorkflowTaskCompleted)
    })
    .await;
}

async fn signal(setup: &Setup, handle: &WorkflowHandle<Client, ResetWorkflowRun>, item: &str) {
    let sent = handle.signal(
        ResetWorkflow::add,
        item.to_string(),
        WorkflowSignalOptions::default(),
    );
    setup
        .wait("signal", sent)
        .await
        .unwrap_or_else(|e| panic!("signal add({item}): {e}"));
}

/// ResetWorkflowExecution through the raw service, as [`ADMIN`]; returns the new run id.
pub(crate) async fn reset(
    target: &Target,
    workflow_id: &str,
    run_id: &str,
    finish_event_id: i64,
) -> String {
    let admin = connect(&target.as_principal(ADMIN)).await;
    let request = ResetWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: run_id.into(),
        }),
        reason: RESET_REASON.into(),
        workflow_task_finish_event_id: finish_event_id,
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    admin
        .workflow_service()
        .reset_workflow_execution(tonic::Request::new(request))
        .await
        .unwrap_or_else(|e| panic!("ResetWorkflowExecution {workflow_id}: {e}"))
        .into_inner()
        .run_id
}

/// The reset run: the base's first three events, the reset failure, the two signals
/// reapplied, a new task; then the activity (again), the timer, signal "c", completion.
fn check_reset_history(
    history: &[HistoryEvent],
    base: &[HistoryEvent],
    base_run: &str,
    new_run: &str,
) {
    assert_eq!(history[..3], base[..3], "the prefix is the base run's");
    assert_eq!(
        event_types(&history[3..7]),
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled,
        ],
        "{:?}",
        event_types(history)
    );
    match &history[3].attributes {
        Some(Attributes::WorkflowTaskFailedEventAttributes(failed)) => {
            assert_eq!(failed.cause(), WorkflowTaskFailedCause::ResetWorkflow);
            assert_eq!(failed.base_run_id, base_run);
            assert_eq!(failed.new_run_id, new_run);
            assert_eq!(failed.identity, "history-service");
            let failure = failed.failure.as_ref().expect("a reset failure");
            assert_eq!(failure.message, RESET_REASON);
            assert!(
                matches!(
                    failure.failure_info,
                    Some(FailureInfo::ResetWorkflowFailureInfo(_))
                ),
                "{failure:?}"
            );
        }
        other => panic!("WorkflowTaskFailed without its attributes: {other:?}"),
    }
    let base_signals = events_of(base, EventType::WorkflowExecutionSignaled);
    for (reapplied, original) in history[4..6].iter().zip(base_signals) {
        match (&reapplied.attributes, &original.attributes) {
            (
                Some(Attributes::WorkflowExecutionSignaledEventAttributes(new)),
                Some(Attributes::WorkflowExecutionSignaledEventAttributes(old)),
            ) => {
                assert_eq!(new.signal_name, "add");
                assert_eq!((&new.input, &new.identity), (&old.input, &old.identity));
            }
            other => panic!("signals without their attributes: {other:?}"),
        }
    }
    for (ty, count) in [
        (EventType::ActivityTaskScheduled, 1),
        (EventType::TimerFired, 1),
        (EventType::WorkflowExecutionSignaled, 3),
        (EventType::WorkflowExecutionCompleted, 1),
    ] {
        assert_eq!(
            events_of(history, ty).len(),
            count,
            "{ty:?}: {:?}",
            event_types(history)
        );
    }
}

/// The base run ends with WorkflowExecutionTerminated by the resetter, with the reason.
fn check_base_history(history: &[HistoryEvent]) {
    match history.last().and_then(|e| e.attributes.as_ref()) {
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(terminated)) => {
            assert_eq!(terminated.reason, RESET_REASON);
            assert_eq!(terminated.identity, "history-resetter");
        }
        other => panic!("the base run must end terminated, got {other:?}"),
    }
}

/// The workflow and activity of the scenario.
mod workflows {
    // The macros turn each method into an associated constant without its doc comment.
    #![allow(missing_docs)]

    use std::{io::Write, time::Duration};

    use serde::{Deserialize, Serialize};
    use temporalio_macros::{activities, workflow, workflow_methods};
    use temporalio_sdk::{
        ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowResult,
        activities::{ActivityContext, ActivityError},
    };

    use super::PAUSE;

    /// The activity's start-to-close timeout; never reached in a healthy run.
    const ACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);

    /// Input of [`ResetWorkflow`].
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct ResetInput {
        /// The file `count_run` appends a line to on every execution.
        pub log_path: String,
        /// How many `add` signals to wait for.
        pub signals: u32,
    }

    /// What [`ResetWorkflow`] returns.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ResetOutput {
        /// What `count_run` returned: how many times it has run for this log.
        pub activity_runs: u32,
        /// The `add` signals, in the order the workflow saw them.
        pub items: Vec<String>,
    }

    /// The activity of [`ResetWorkflow`].
    pub struct ResetActivities;

    #[activities]
    impl ResetActivities {
        /// Appends a line to `log_path` and returns how many lines it has.
        #[activity(name = "count_run")]
        pub async fn count_run(
            _ctx: ActivityContext,
            log_path: String,
        ) -> Result<u32, ActivityError> {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)?
                .write_all(b"run\n")?;
            let lines = std::fs::read_to_string(&log_path)?.lines().count();
            Ok(u32::try_from(lines).unwrap_or(u32::MAX))
        }
    }

    /// Runs `count_run`, sleeps [`PAUSE`], waits for `signals` `add` signals, returns both.
    #[workflow]
    #[derive(Default)]
    pub struct ResetWorkflow {
        items: Vec<String>,
    }

    #[workflow_methods]
    impl ResetWorkflow {
        /// Runs the workflow.
        #[run(name = "ResetWorkflow")]
        pub async fn run(
            ctx: &mut WorkflowContext<Self>,
            input: ResetInput,
        ) -> WorkflowResult<ResetOutput> {
            let options = ActivityOptions::start_to_close_timeout(ACTIVITY_TIMEOUT);
            let activity_runs = ctx
                .execute_activity(ResetActivities::count_run, input.log_path, options)
                .await?;
            let _ = ctx.timer(PAUSE).await;
            let expected = input.signals as usize;
            ctx.wait_condition(move |s| s.items.len() >= expected)
                .await?;
            Ok(ResetOutput {
                activity_runs,
                items: ctx.state(|s| s.items.clone()),
            })
        }

        /// Signal `add`: appends an item.
        #[signal(name = "add")]
        pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, item: String) {
            self.items.push(item);
        }
    }

    /// The type a `WorkflowHandle` on a [`ResetWorkflow`] run is generic over.
    pub type ResetWorkflowRun = reset_workflow::Run;
}
