//! Workflow updates end to end, on either server: the official client's `execute_update`,
//! `execute_update_with_start_workflow` and raw update RPCs against [`CounterWorkflow`], whose
//! `add` update has a validator. Each scenario runs its own worker (registering only
//! [`CounterWorkflow`]) on a fresh task queue, asserts results and history, and returns the
//! main run's [`Outcome`] for the differential comparison.
//!
//! Updates are sent once the first workflow task has completed, so the workflow is idle and
//! each update rides a speculative workflow task on both servers (deterministic histories).
//!
//! - `scenarios.rs`: accepted, rejected, the same id twice, update-with-start (both servers,
//!   differential).
//! - `requests.rs`: bad requests (both servers) and durability across server crashes (Lockstep).
//! - `reset.rs`: a reset of a workflow with updates (both servers, differential).
//! - `raw_worker.rs`: the wire protocol from a plain gRPC worker, and the payload policy (Lockstep).

use std::{future::Future, time::Duration};

use temporalio_client::{
    Client, Connection, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowHandle,
    WorkflowIdConflictPolicy, WorkflowStartOptions, WorkflowUpdateWithStartOptions,
    errors::{WorkflowStartError, WorkflowUpdateError, WorkflowUpdateWithStartError},
};
use temporalio_protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowExecution},
    enums::v1::{EventType, UpdateWorkflowExecutionLifecycleStage as Stage},
    history::v1::{HistoryEvent, history_event::Attributes},
    update::v1::{Input, Meta, Request, UpdateRef, WaitPolicy, outcome},
    workflowservice::v1::{
        ExecuteMultiOperationRequest, PollWorkflowExecutionUpdateRequest,
        UpdateWorkflowExecutionRequest,
        execute_multi_operation_request::{Operation, operation::Operation as MultiOperation},
    },
};
use temporalio_sdk::WorkerOptions;
use tonic::Code;

mod raw_worker;
mod requests;
mod reset;
mod scenarios;

pub use counter::{CounterWorkflow, CounterWorkflowRun};
pub use raw_worker::raw_worker_update_protocol;
pub use requests::{update_bad_requests, updates_survive_server_crashes};
pub use reset::update_then_reset;
pub use scenarios::{update_accepted, update_rejected, update_same_id_twice, update_with_start};

use super::{
    NAMESPACE, STICKY_SCHEDULE_TO_START, Target, WorkerHandle, client, connect, event_types,
    fetch_history, run_worker_with,
    scenarios::{Outcome, STARTER, WORKER, events_of, history_of},
};

/// The validator's message for a negative amount.
pub const NEGATIVE: &str = "the amount must not be negative";
/// How long any single wait in these scenarios may take.
const WAIT: Duration = Duration::from_secs(60);

mod counter {
    // The macros turn each method into an associated constant without its doc comment.
    #![allow(missing_docs)]

    use temporalio_macros::{workflow, workflow_methods};
    use temporalio_sdk::{
        SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
    };

    use super::NEGATIVE;

    /// A counter that starts at its input; update `add` (validated: no negative amounts) adds
    /// and returns the new value; update `finish` ends the run, which returns the value.
    #[workflow]
    pub struct CounterWorkflow {
        value: i64,
        finished: bool,
    }

    #[workflow_methods]
    impl CounterWorkflow {
        #[init]
        pub fn new(_ctx: &WorkflowContextView, start: i64) -> Self {
            Self {
                value: start,
                finished: false,
            }
        }

        #[run(name = "CounterWorkflow")]
        pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<i64> {
            ctx.wait_condition(|s| s.finished).await?;
            Ok(ctx.state(|s| s.value))
        }

        #[update_validator(add)]
        pub fn validate_add(
            &self,
            _ctx: &WorkflowContextView,
            amount: &i64,
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            if *amount < 0 {
                Err(NEGATIVE.into())
            } else {
                Ok(())
            }
        }

        #[update(name = "add")]
        pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, amount: i64) -> i64 {
            self.value += amount;
            self.value
        }

        #[update(name = "finish")]
        pub fn finish(&mut self, _ctx: &mut SyncWorkflowContext<Self>) -> i64 {
            self.finished = true;
            self.value
        }
    }

    /// The type a `WorkflowHandle` on a [`CounterWorkflow`] run is generic over.
    pub type CounterWorkflowRun = counter_workflow::Run;
}

type CounterHandle = WorkflowHandle<Client, CounterWorkflowRun>;

/// A client connection, a client and a worker for [`CounterWorkflow`] on a fresh task queue.
struct UpdateSetup {
    connection: Connection,
    client: Client,
    worker: WorkerHandle,
    task_queue: String,
}

impl UpdateSetup {
    async fn new(target: &Target, scenario: &str) -> Self {
        let connection = connect(&target.as_principal(STARTER)).await;
        let task_queue = unique(scenario);
        let worker = counter_worker(target, &task_queue).await;
        Self {
            client: client(&connection),
            connection,
            worker,
            task_queue,
        }
    }

    /// Awaits `future` for at most [`WAIT`], naming `what` and the worker's state on timeout.
    async fn wait<T>(&self, what: &str, future: impl Future<Output = T>) -> T {
        match tokio::time::timeout(WAIT, future).await {
            Ok(value) => value,
            Err(_) => panic!(
                "{what}: no answer within {WAIT:?} (worker status: {:?})",
                self.worker.exit_status()
            ),
        }
    }

    /// Starts a counter at `start` and waits until its first workflow task completed (the
    /// workflow is then idle, waiting for updates).
    async fn start_idle(&self, start: i64, workflow_id: &str) -> CounterHandle {
        let options =
            WorkflowStartOptions::new(self.task_queue.clone(), workflow_id.to_string()).build();
        let handle = self
            .wait(
                "start",
                self.client
                    .start_workflow(CounterWorkflow::run, start, options),
            )
            .await
            .unwrap_or_else(|e| panic!("start {workflow_id}: {e}"));
        self.wait_for_event(&handle, EventType::WorkflowTaskCompleted)
            .await;
        handle
    }

    /// A handle on run `run_id` of `workflow_id`.
    fn handle(&self, workflow_id: &str, run_id: &str) -> CounterHandle {
        let info = temporalio_client::WorkflowExecutionInfo::builder()
            .namespace(NAMESPACE)
            .workflow_id(workflow_id.to_string())
            .run_id(run_id.to_string())
            .build();
        WorkflowHandle::new(self.client.clone(), info)
    }

    async fn update(
        &self,
        handle: &CounterHandle,
        amount: i64,
        update_id: &str,
    ) -> Result<i64, WorkflowUpdateError> {
        let options = WorkflowExecuteUpdateOptions::builder()
            .update_id(update_id.to_string())
            .build();
        self.wait(
            "execute_update add",
            handle.execute_update(CounterWorkflow::add, amount, options),
        )
        .await
    }

    /// Ends the run with the `finish` update; returns the run's result.
    async fn finish(&self, handle: &CounterHandle) -> i64 {
        let options = WorkflowExecuteUpdateOptions::builder()
            .update_id(unique("finish"))
            .build();
        let value = self
            .wait(
                "execute_update finish",
                handle.execute_update(CounterWorkflow::finish, (), options),
            )
            .await
            .unwrap_or_else(|e| panic!("update finish: {e}"));
        let result = self
            .wait(
                "the workflow result",
                handle.get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .unwrap_or_else(|e| panic!("result: {e}"));
        assert_eq!(result, value, "the run returns the value `finish` saw");
        result
    }

    async fn history(&self, handle: &CounterHandle) -> Vec<HistoryEvent> {
        let run_id = handle.run_id().expect("a started handle knows its run");
        history_of(&self.connection, &handle.info().workflow_id, run_id).await
    }

    async fn wait_for_event(&self, handle: &CounterHandle, event_type: EventType) {
        let run_id = handle.run_id().expect("a started handle knows its run");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let history = fetch_history(&self.connection, &handle.info().workflow_id, run_id).await;
            if history.iter().any(|e| e.event_type() == event_type) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {event_type:?} within {WAIT:?}: {:?}",
                event_types(&history)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The run's history; shuts the worker down.
    async fn done(self, handle: &CounterHandle) -> Outcome {
        let history = self.history(handle).await;
        if let Err(error) = self.worker.shutdown().await {
            panic!("the worker ended badly: {error}");
        }
        Outcome {
            workflow_id: handle.info().workflow_id.clone(),
            run_id: handle.run_id().unwrap_or_default().to_string(),
            history,
        }
    }
}

/// An in-process worker for [`CounterWorkflow`] on `task_queue`.
async fn counter_worker(target: &Target, task_queue: &str) -> WorkerHandle {
    let options = WorkerOptions::new(task_queue.to_string())
        .sticky_queue_schedule_to_start_timeout(STICKY_SCHEDULE_TO_START)
        .graceful_shutdown_period(Duration::from_secs(1))
        .register_workflow::<CounterWorkflow>()
        .expect("register CounterWorkflow")
        .build();
    run_worker_with(connect(&target.as_principal(WORKER)).await, options)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// The accepted/completed update events of `update_id`, asserted to pair up and to carry what
/// the SDKs read on replay; returns the completed event's result.
fn accepted_and_completed(history: &[HistoryEvent], update_id: &str, name: &str) -> i64 {
    let accepted: Vec<&HistoryEvent> = events_of(history, EventType::WorkflowExecutionUpdateAccepted)
        .into_iter()
        .filter(|e| matches!(&e.attributes,
            Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) if a.protocol_instance_id == update_id))
        .collect();
    assert_eq!(
        accepted.len(),
        1,
        "one Accepted for {update_id}: {:?}",
        event_types(history)
    );
    let Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) =
        &accepted[0].attributes
    else {
        unreachable!("filtered above")
    };
    let request = a
        .accepted_request
        .as_ref()
        .expect("the accepted request is recorded");
    assert_eq!(
        request.meta.as_ref().map(|m| m.update_id.as_str()),
        Some(update_id)
    );
    assert_eq!(request.input.as_ref().map(|i| i.name.as_str()), Some(name));
    assert!(!a.accepted_request_message_id.is_empty());
    assert!(a.accepted_request_sequencing_event_id > 0);
    let accepted_id = accepted[0].event_id;
    let completed: Vec<_> = events_of(history, EventType::WorkflowExecutionUpdateCompleted)
        .into_iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(c))
                if c.accepted_event_id == accepted_id =>
            {
                Some(c)
            }
            _ => None,
        })
        .collect();
    assert_eq!(completed.len(), 1, "one Completed for {update_id}");
    assert_eq!(
        completed[0].meta.as_ref().map(|m| m.update_id.as_str()),
        Some(update_id)
    );
    match completed[0].outcome.as_ref().and_then(|o| o.value.as_ref()) {
        Some(outcome::Value::Success(payloads)) => {
            serde_json::from_slice(&payloads.payloads[0].data).expect("a JSON result")
        }
        other => panic!("update {update_id} did not succeed: {other:?}"),
    }
}

/// An update request as a raw client sends it, waiting for COMPLETED.
fn raw_update(workflow_id: &str, update_id: &str, name: &str) -> UpdateWorkflowExecutionRequest {
    UpdateWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: String::new(),
        }),
        wait_policy: Some(WaitPolicy {
            lifecycle_stage: Stage::Completed as i32,
        }),
        request: Some(Request {
            meta: Some(Meta {
                update_id: update_id.into(),
                identity: "e2e".into(),
            }),
            input: Some(Input {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Awaits `future` for at most [`WAIT`], panicking with `what` on timeout.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}
