//! The benchmark's worker: the test suite's workflows the workloads use, plus
//! [`ManyStepsWorkflow`] for long histories.

// `#[workflow_methods]` turns each method into an associated constant that does not carry the
// method's doc comment, and an outer `#[allow]` on the impl is dropped.
#![allow(missing_docs)]

use std::time::Duration;

use lockstep_tests::sdk::{
    STICKY_SCHEDULE_TO_START,
    workflows::{
        CountSignalsWorkflow, EchoWorkflow, OneActivityWorkflow, SleepWorkflow, TestActivities,
    },
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkerOptions, WorkflowContext, WorkflowResult};

/// The start-to-close timeout of each step's activity.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `steps` `greet` activities one after another and returns `steps`.
#[workflow]
#[derive(Default)]
pub(crate) struct ManyStepsWorkflow;

#[workflow_methods]
impl ManyStepsWorkflow {
    #[run(name = "ManyStepsWorkflow")]
    pub(crate) async fn run(ctx: &mut WorkflowContext<Self>, steps: u32) -> WorkflowResult<u32> {
        for step in 0..steps {
            let options = ActivityOptions::start_to_close_timeout(STEP_TIMEOUT);
            ctx.execute_activity(TestActivities::greet, step.to_string(), options)
                .await?;
        }
        Ok(steps)
    }
}

/// Worker options with every workflow a workload runs, on `task_queue`.
pub(crate) fn worker_options(task_queue: &str) -> anyhow::Result<WorkerOptions> {
    Ok(WorkerOptions::new(task_queue)
        .sticky_queue_schedule_to_start_timeout(STICKY_SCHEDULE_TO_START)
        .graceful_shutdown_period(Duration::from_secs(1))
        .register_activities(TestActivities)
        .register_workflow::<OneActivityWorkflow>()?
        .register_workflow::<EchoWorkflow>()?
        .register_workflow::<SleepWorkflow>()?
        .register_workflow::<CountSignalsWorkflow>()?
        .register_workflow::<ManyStepsWorkflow>()?
        .build())
}
