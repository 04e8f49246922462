//! Workflow updates end to end, on either server: the official client's `execute_update`,
//! `execute_update_with_start_workflow` and raw update RPCs against [`CounterWorkflow`], whose
//! `add` update has a validator. Each scenario runs its own worker (registering only
//! [`CounterWorkflow`]) on a fresh task queue, asserts results and history, and returns the
//! main run's [`Outcome`] for the differential comparison.
//!
//! Updates are sent once the first workflow task has completed, so the workflow is idle and
//! each update rides a speculative workflow task on both servers (deterministic histories).

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

pub use counter::{CounterWorkflow, CounterWorkflowRun};

use crate::DevServer;

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

    let info = temporalio_client::WorkflowExecutionInfo::builder()
        .namespace(NAMESPACE)
        .workflow_id(workflow_id.clone())
        .run_id(run_id.clone())
        .build();
    let handle: CounterHandle = WorkflowHandle::new(setup.client.clone(), info);
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

/// Bad update requests get the status Temporal gives them and store nothing: an unknown
/// workflow, another chain's `first_execution_run_id` and an unknown update id (polling) are
/// NotFound, an empty update name, no update
/// meta or a multi-operation that is not [Start, Update] InvalidArgument, an update of a
/// completed run NotFound. On Lockstep an empty update id
/// is InvalidArgument too (Temporal makes one up; see docs/decisions.md). The history is the
/// same before and after.
pub async fn update_bad_requests(target: &Target) -> Outcome {
    let setup = UpdateSetup::new(target, "update-bad").await;
    let workflow_id = unique("update-bad");
    let handle = setup.start_idle(10, &workflow_id).await;
    let before = setup.history(&handle).await;
    let mut service = setup.connection.workflow_service();
    let mut no_meta = raw_update(&workflow_id, "x", "add");
    if let Some(request) = no_meta.request.as_mut() {
        request.meta = None;
    }
    let mut other_chain = raw_update(&workflow_id, "x", "add");
    other_chain.first_execution_run_id = uuid::Uuid::new_v4().to_string();
    let mut cases = vec![
        (
            "another first_execution_run_id",
            other_chain,
            Code::NotFound,
        ),
        (
            "unknown workflow",
            raw_update(&unique("nobody"), "x", "add"),
            Code::NotFound,
        ),
        (
            "empty name",
            raw_update(&workflow_id, "x", ""),
            Code::InvalidArgument,
        ),
        ("no meta", no_meta, Code::InvalidArgument),
    ];
    if matches!(target, Target::Lockstep { .. }) {
        cases.push((
            "empty update id",
            raw_update(&workflow_id, "", "add"),
            Code::InvalidArgument,
        ));
    }
    for (what, request, code) in cases {
        let status = setup
            .wait(
                what,
                service.update_workflow_execution(tonic::Request::new(request)),
            )
            .await
            .expect_err(what);
        assert_eq!(status.code(), code, "{what}: {status:?}");
        assert!(!status.message().is_empty(), "{what}: a message");
    }
    let poll = PollWorkflowExecutionUpdateRequest {
        namespace: NAMESPACE.into(),
        update_ref: Some(UpdateRef {
            workflow_execution: Some(WorkflowExecution {
                workflow_id: workflow_id.clone(),
                run_id: String::new(),
            }),
            update_id: "never-sent".into(),
        }),
        ..Default::default()
    };
    let status = setup
        .wait(
            "poll unknown update",
            service.poll_workflow_execution_update(tonic::Request::new(poll)),
        )
        .await
        .expect_err("unknown update");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let only_update = ExecuteMultiOperationRequest {
        namespace: NAMESPACE.into(),
        operations: vec![Operation {
            operation: Some(MultiOperation::UpdateWorkflow(raw_update(
                &workflow_id,
                "alone",
                "add",
            ))),
        }],
        resource_id: workflow_id.clone(),
    };
    let status = setup
        .wait(
            "multi-operation without a start",
            service.execute_multi_operation(tonic::Request::new(only_update)),
        )
        .await
        .expect_err("only [Start, Update] is allowed");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let after = setup.history(&handle).await;
    assert_eq!(event_types(&after), event_types(&before), "nothing stored");

    assert_eq!(setup.finish(&handle).await, 10);
    let closed = setup
        .wait(
            "update a completed run",
            service.update_workflow_execution(tonic::Request::new(raw_update(
                &workflow_id,
                "late",
                "add",
            ))),
        )
        .await
        .expect_err("a completed run takes no update");
    assert_eq!(closed.code(), Code::NotFound, "{closed:?}");
    setup.done(&handle).await
}

/// Lockstep only — its admitted updates are durable: an update admitted (the call answered
/// ADMITTED) while no worker runs survives a SIGKILL of the server and is delivered by the
/// restarted one; once COMPLETED it survives another SIGKILL, and polling it or sending the
/// same id again returns the same outcome without running it twice.
pub async fn updates_survive_server_crashes(server: &mut DevServer) {
    let target = Target::Lockstep {
        addr: server.addr(),
        certs_dir: server.certs_dir(),
        principal: STARTER,
    };
    let task_queue = unique("update-crash");
    let workflow_id = unique("update-crash");
    let starter = client(&connect(&target).await);
    let options = WorkflowStartOptions::new(task_queue.clone(), workflow_id.clone()).build();
    let handle = within(
        "start",
        starter.start_workflow(CounterWorkflow::run, 10, options),
    )
    .await
    .unwrap_or_else(|e| panic!("start: {e}"));
    let mut admit = raw_update(&workflow_id, "before-crash", "add");
    admit.wait_policy = Some(WaitPolicy {
        lifecycle_stage: Stage::Admitted as i32,
    });
    if let Some(input) = admit.request.as_mut().and_then(|r| r.input.as_mut()) {
        input.args = Some(Payloads {
            payloads: vec![serde_json::to_vec(&5).map(json_payload).expect("json")],
        });
    }
    let mut service = connect(&target).await.workflow_service();
    let admitted = within(
        "admit",
        service.update_workflow_execution(tonic::Request::new(admit)),
    )
    .await
    .expect("admitted")
    .into_inner();
    assert_eq!(admitted.stage, Stage::Admitted as i32, "{admitted:?}");

    tokio::task::block_in_place(|| server.restart());
    let worker = counter_worker(&target, &task_queue).await;
    let connection = connect(&target).await;
    let completed = poll_completed(&connection, &workflow_id, "before-crash").await;
    assert_eq!(completed, 15, "the admitted update ran after the restart");

    tokio::task::block_in_place(|| server.restart());
    let connection = connect(&target).await;
    assert_eq!(
        poll_completed(&connection, &workflow_id, "before-crash").await,
        15
    );
    let handle: CounterHandle = WorkflowHandle::new(client(&connection), handle.info().clone());
    let options = WorkflowExecuteUpdateOptions::builder()
        .update_id("before-crash".to_string())
        .build();
    let again = within(
        "the same update id again",
        handle.execute_update(CounterWorkflow::add, 5, options),
    )
    .await
    .expect("the same outcome");
    assert_eq!(again, 15, "not run twice");
    let options = WorkflowExecuteUpdateOptions::builder()
        .update_id(unique("finish"))
        .build();
    let finished = within(
        "finish",
        handle.execute_update(CounterWorkflow::finish, (), options),
    )
    .await
    .expect("finish");
    assert_eq!(finished, 15);
    let history = history_of(
        &connection,
        &workflow_id,
        handle.run_id().unwrap_or_default(),
    )
    .await;
    assert_eq!(accepted_and_completed(&history, "before-crash", "add"), 15);
    if let Err(error) = worker.shutdown().await {
        panic!("the worker ended badly: {error}");
    }
}

/// Polls update `update_id` until COMPLETED (the poll answers early with no outcome when its
/// long poll ends); returns its JSON result.
async fn poll_completed(connection: &Connection, workflow_id: &str, update_id: &str) -> i64 {
    let mut service = connection.workflow_service();
    let request = PollWorkflowExecutionUpdateRequest {
        namespace: NAMESPACE.into(),
        update_ref: Some(UpdateRef {
            workflow_execution: Some(WorkflowExecution {
                workflow_id: workflow_id.into(),
                run_id: String::new(),
            }),
            update_id: update_id.into(),
        }),
        wait_policy: Some(WaitPolicy {
            lifecycle_stage: Stage::Completed as i32,
        }),
        ..Default::default()
    };
    let response = within(
        "poll the update",
        service.poll_workflow_execution_update(tonic::Request::new(request)),
    )
    .await
    .unwrap_or_else(|e| panic!("poll {update_id}: {e}"))
    .into_inner();
    match response.outcome.and_then(|o| o.value) {
        Some(outcome::Value::Success(payloads)) => {
            serde_json::from_slice(&payloads.payloads[0].data).expect("a JSON result")
        }
        other => panic!("update {update_id}: {other:?} (stage {})", response.stage),
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

fn json_payload(data: Vec<u8>) -> Payload {
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
        data,
        ..Default::default()
    }
}
