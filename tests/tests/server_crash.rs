//! Durability across server crashes: ≥ 200 workflows in flight while the Lockstep server is
//! SIGKILLed and restarted (same data dir, same port) three times. Every workflow must complete
//! exactly once: one run per workflow id, the right result, history ids 1..n without gaps, and
//! exactly one accepted completion per scheduled activity. Activities are at-least-once (a crash
//! between an activity finishing and the server recording its completion legitimately re-runs
//! it), so the activity log only has to show every step at least once.
//!
//! The worker is a separate process (`lockstep-test-worker`) and the SDK client is connected
//! before the first crash: both must reconnect to the restarted server on their own. Starts go
//! through a raw gRPC client so that a start interrupted by a crash is retried with the same
//! workflow id and the same request id (the server dedupes on the request id).

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use lockstep_tests::{
    DevServer, Identity,
    sdk::{
        NAMESPACE, Target, WorkerProcess, connect, event_types, fetch_history,
        workflows::DurableInput,
    },
    server::free_port,
    workflow_client,
};
use temporalio_client::Connection;
use temporalio_protos::{
    coresdk::{AsJsonPayloadExt, FromJsonPayloadExt},
    temporal::api::{
        common::v1::{Payloads, WorkflowExecution, WorkflowType},
        enums::v1::{EventType, TaskQueueKind, WorkflowExecutionStatus},
        errordetails::v1::WorkflowExecutionAlreadyStartedFailure,
        history::v1::{HistoryEvent, history_event::Attributes},
        taskqueue::v1::TaskQueue,
        workflowservice::v1::{
            DescribeWorkflowExecutionRequest, StartWorkflowExecutionRequest,
            workflow_service_client::WorkflowServiceClient,
        },
    },
    utilities::decode_status_detail,
};
use tonic::{Code, transport::Channel};

/// How many workflows are in flight.
const WORKFLOWS: usize = 240;
/// Activities per workflow.
const STEPS: u32 = 3;
/// The durable timer after step 1.
const TIMER_MS: u64 = 1000;
/// Starts are spread over `WORKFLOWS × START_SPACING` (≈ 2 s) so that crashes hit them.
const START_SPACING: Duration = Duration::from_millis(8);
/// Concurrent start calls.
const START_CONCURRENCY: usize = 8;
/// The workflow task timeout of every run: how long a workflow task lost in a crash (polled,
/// never answered) blocks its workflow.
const WORKFLOW_TASK_TIMEOUT: Duration = Duration::from_secs(5);
/// When the first SIGKILL comes, after the first start.
const FIRST_KILL_AFTER: Duration = Duration::from_millis(500);
/// How long each restarted server lives before the next SIGKILL.
const KILL_INTERVAL: Duration = Duration::from_secs(1);
/// SIGKILL + restart cycles.
const CRASHES: usize = 3;
/// How long every start may take, retries across crashes included.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long the workflows may take to complete after the last restart.
const COMPLETE_DEADLINE: Duration = Duration::from_secs(120);
/// The bound on any single RPC.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

fn worker_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lockstep-test-worker"))
}

/// One workflow of the test and what its start calls saw.
#[derive(Debug, Default)]
struct Started {
    workflow_id: String,
    request_id: String,
    input: Option<DurableInput>,
    /// Start calls made (1 if the first went through).
    attempts: usize,
    /// Every run id a start call answered (Ok, or AlreadyStarted's details). All must agree.
    run_ids: Vec<String>,
    /// How many Ok answers said `started = false` (the request id was deduplicated).
    deduplicated: usize,
    /// The errors of the failed attempts (crash windows), or why it never started.
    errors: Vec<String>,
}

impl Started {
    fn run_id(&self) -> Option<&str> {
        self.run_ids.first().map(String::as_str)
    }
}

/// Starts one workflow, retrying with the same workflow id and request id until the server
/// answers with a run, or the deadline passes.
async fn start_one(
    mut service: WorkflowServiceClient<Channel>,
    mut started: Started,
    task_queue: String,
    deadline: Instant,
) -> Started {
    let input = started.input.clone().expect("input");
    let request = StartWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        workflow_id: started.workflow_id.clone(),
        workflow_type: Some(WorkflowType {
            name: "DurableWorkflow".into(),
        }),
        task_queue: Some(TaskQueue {
            name: task_queue,
            kind: TaskQueueKind::Normal as i32,
            ..Default::default()
        }),
        input: Some(Payloads {
            payloads: vec![input.as_json_payload().expect("json payload")],
        }),
        workflow_task_timeout: Some(WORKFLOW_TASK_TIMEOUT.try_into().expect("duration")),
        identity: format!("server-crash-starter@{}", std::process::id()),
        request_id: started.request_id.clone(),
        ..Default::default()
    };
    loop {
        started.attempts += 1;
        let answer = tokio::time::timeout(
            RPC_TIMEOUT,
            service.start_workflow_execution(tonic::Request::new(request.clone())),
        )
        .await;
        match answer {
            Ok(Ok(response)) => {
                let response = response.into_inner();
                if !response.started {
                    started.deduplicated += 1;
                }
                started.run_ids.push(response.run_id);
                return started;
            }
            Ok(Err(status)) if status.code() == Code::AlreadyExists => {
                // Acceptable for a retry, as long as it names the same run (checked later).
                match decode_status_detail::<WorkflowExecutionAlreadyStartedFailure>(
                    status.details(),
                ) {
                    Some(details) => started.run_ids.push(details.run_id),
                    None => started
                        .errors
                        .push(format!("AlreadyExists without details: {status:?}")),
                }
                return started;
            }
            Ok(Err(status))
                if matches!(
                    status.code(),
                    Code::InvalidArgument
                        | Code::PermissionDenied
                        | Code::Unauthenticated
                        | Code::NotFound
                        | Code::Unimplemented
                ) =>
            {
                started
                    .errors
                    .push(format!("start refused for good: {status:?}"));
                return started;
            }
            Ok(Err(status)) => {
                started
                    .errors
                    .push(format!("{:?}: {}", status.code(), status.message()))
            }
            Err(_) => started
                .errors
                .push(format!("no answer within {RPC_TIMEOUT:?}")),
        }
        if Instant::now() >= deadline {
            started
                .errors
                .push(format!("not started within {START_DEADLINE:?}"));
            return started;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Describes the current run of `workflow_id`: (run id, status, history length).
async fn describe(
    connection: &Connection,
    workflow_id: &str,
) -> Result<(String, WorkflowExecutionStatus, i64), String> {
    let mut service = connection.workflow_service();
    let response = tokio::time::timeout(
        RPC_TIMEOUT,
        service.describe_workflow_execution(tonic::Request::new(
            DescribeWorkflowExecutionRequest {
                namespace: NAMESPACE.into(),
                execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.into(),
                    run_id: String::new(),
                }),
            },
        )),
    )
    .await
    .map_err(|_| format!("describe {workflow_id}: no answer within {RPC_TIMEOUT:?}"))?
    .map_err(|status| format!("describe {workflow_id}: {status:?}"))?
    .into_inner();
    let info = response
        .workflow_execution_info
        .ok_or_else(|| format!("describe {workflow_id}: no execution info"))?;
    let run_id = info.execution.clone().unwrap_or_default().run_id;
    Ok((run_id, info.status(), info.history_length))
}

/// The log's lines per workflow id: (run id, step, attempt).
fn read_log(path: &Path) -> HashMap<String, Vec<(String, u32, u32)>> {
    let mut lines: HashMap<String, Vec<(String, u32, u32)>> = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [workflow_id, run_id, step, attempt] = fields[..] else {
            panic!("malformed activity log line {line:?}");
        };
        lines.entry(workflow_id.to_string()).or_default().push((
            run_id.to_string(),
            step.parse().expect("step"),
            attempt.parse().expect("attempt"),
        ));
    }
    lines
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What is wrong with one completed workflow's history (empty if nothing).
fn check_history(history: &[HistoryEvent], run_id: &str, expected: u32) -> Vec<String> {
    let mut problems = Vec::new();
    let ids: Vec<i64> = history.iter().map(|e| e.event_id).collect();
    if ids != (1..=history.len() as i64).collect::<Vec<_>>() {
        problems.push(format!("event ids are not 1..=n: {ids:?}"));
    }
    match history.first().map(|e| &e.attributes) {
        Some(Some(Attributes::WorkflowExecutionStartedEventAttributes(attrs))) => {
            if attrs.first_execution_run_id != run_id {
                problems.push(format!(
                    "first_execution_run_id {} is not the run {run_id}",
                    attrs.first_execution_run_id
                ));
            }
        }
        other => problems.push(format!(
            "the history does not start with WorkflowExecutionStarted: {other:?}"
        )),
    }
    let count = |t: EventType| history.iter().filter(|e| e.event_type() == t).count();
    let completed = count(EventType::WorkflowExecutionCompleted);
    if completed != 1 {
        problems.push(format!("{completed} WorkflowExecutionCompleted events"));
    }
    match history.last().map(|e| &e.attributes) {
        Some(Some(Attributes::WorkflowExecutionCompletedEventAttributes(attrs))) => {
            let result = attrs
                .result
                .as_ref()
                .and_then(|p| p.payloads.first())
                .map(u32::from_json_payload);
            match result {
                Some(Ok(result)) if result == expected => {}
                other => problems.push(format!("result {other:?}, expected {expected}")),
            }
        }
        _ => problems.push("the history does not end with WorkflowExecutionCompleted".into()),
    }
    for unexpected in [
        EventType::WorkflowExecutionFailed,
        EventType::WorkflowExecutionTimedOut,
        EventType::WorkflowExecutionTerminated,
        EventType::WorkflowExecutionContinuedAsNew,
        EventType::ActivityTaskFailed,
        EventType::ActivityTaskTimedOut,
        EventType::ActivityTaskCanceled,
    ] {
        if count(unexpected) > 0 {
            problems.push(format!("{} {unexpected:?} events", count(unexpected)));
        }
    }
    let scheduled: Vec<i64> = history
        .iter()
        .filter(|e| e.event_type() == EventType::ActivityTaskScheduled)
        .map(|e| e.event_id)
        .collect();
    if scheduled.len() != STEPS as usize {
        problems.push(format!(
            "{} ActivityTaskScheduled events, expected {STEPS}",
            scheduled.len()
        ));
    }
    let mut completions: BTreeMap<i64, usize> = BTreeMap::new();
    for event in history {
        if let Some(Attributes::ActivityTaskCompletedEventAttributes(attrs)) = &event.attributes {
            *completions.entry(attrs.scheduled_event_id).or_default() += 1;
        }
    }
    for id in &scheduled {
        match completions.get(id).copied().unwrap_or(0) {
            1 => {}
            n => problems.push(format!(
                "activity scheduled at event {id} has {n} ActivityTaskCompleted events"
            )),
        }
    }
    for id in completions.keys() {
        if !scheduled.contains(id) {
            problems.push(format!(
                "ActivityTaskCompleted for event {id}, which is no ActivityTaskScheduled"
            ));
        }
    }
    let (timers, fired) = (count(EventType::TimerStarted), count(EventType::TimerFired));
    if (timers, fired) != (1, 1) {
        problems.push(format!(
            "{timers} TimerStarted and {fired} TimerFired events"
        ));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workflows_survive_three_server_crashes() {
    let test_started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let log_path = dir.path().join("steps.log");
    let port = free_port();
    let mut server = DevServer::start_on(&data_dir, port, &[]);
    let certs = server.certs_dir();
    let target = Target::Lockstep {
        addr: server.addr(),
        certs_dir: certs.clone(),
        principal: "worker",
    };
    let task_queue = format!("server-crash-{}", uuid::Uuid::new_v4());
    let mut worker = WorkerProcess::spawn(worker_bin(), &target, &task_queue);
    // Both clients connect before the first crash and must reconnect by themselves.
    let connection = connect(&target.as_principal("client")).await;
    let ca = std::fs::read(certs.join("ca.pem")).expect("dev CA");
    let starter = workflow_client(
        server.addr(),
        &ca,
        Some(&Identity::from_dir(&certs, "client")),
    )
    .await
    .expect("raw gRPC client");

    // Start every workflow (paced, retried across crashes) while the server gets killed.
    let run_tag = uuid::Uuid::new_v4().simple().to_string();
    let workflows: Vec<Started> = (0..WORKFLOWS)
        .map(|i| Started {
            workflow_id: format!("durable-{run_tag}-{i:03}"),
            request_id: uuid::Uuid::new_v4().to_string(),
            input: Some(DurableInput {
                steps: STEPS,
                base: 100 * i as u32,
                timer_ms: TIMER_MS,
                log_path: log_path.display().to_string(),
            }),
            ..Default::default()
        })
        .collect();
    let starts_done = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let starting = {
        let (starter, task_queue, starts_done) =
            (starter.clone(), task_queue.clone(), starts_done.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + START_DEADLINE;
            futures::stream::iter(workflows.into_iter().enumerate())
                .map(|(i, workflow)| {
                    let (starter, task_queue, starts_done) =
                        (starter.clone(), task_queue.clone(), starts_done.clone());
                    async move {
                        tokio::time::sleep_until((t0 + START_SPACING * i as u32).into()).await;
                        let started = start_one(starter, workflow, task_queue, deadline).await;
                        starts_done.fetch_add(1, Ordering::Relaxed);
                        started
                    }
                })
                .buffer_unordered(START_CONCURRENCY)
                .collect::<Vec<Started>>()
                .await
        })
    };

    // Distinct (workflow, step) pairs that ran so far.
    let steps_run = || {
        read_log(&log_path)
            .values()
            .map(|lines| {
                let mut steps: Vec<u32> = lines.iter().map(|(_, step, _)| *step).collect();
                steps.sort_unstable();
                steps.dedup();
                steps.len()
            })
            .sum::<usize>()
    };
    let total_steps = WORKFLOWS * STEPS as usize;
    let mut steps_left_at_last_kill = 0;
    for crash in 1..=CRASHES {
        let wait = if crash == 1 {
            FIRST_KILL_AFTER
        } else {
            KILL_INTERVAL
        };
        tokio::time::sleep(wait).await;
        let (starts, steps) = (starts_done.load(Ordering::Relaxed), steps_run());
        let down = Instant::now();
        tokio::task::block_in_place(|| server.restart());
        eprintln!(
            "crash {crash} at {:?}: {starts}/{WORKFLOWS} starts answered, \
             {steps}/{total_steps} steps had run; SIGKILLed and restarted on port {port} in {:?}",
            t0.elapsed(),
            down.elapsed()
        );
        steps_left_at_last_kill = total_steps - steps.min(total_steps);
    }

    let workflows = tokio::time::timeout(START_DEADLINE + RPC_TIMEOUT, starting)
        .await
        .expect("the starts end by their deadline")
        .expect("the start task does not panic");
    let retried_starts = workflows.iter().filter(|w| w.attempts > 1).count();
    let deduplicated: usize = workflows.iter().map(|w| w.deduplicated).sum();
    eprintln!(
        "starts: {WORKFLOWS} workflows, {retried_starts} needed more than one call, \
         {deduplicated} retries answered by request-id dedup (started = false)"
    );

    // Wait (bounded) until every started workflow is closed.
    let mut problems: Vec<String> = Vec::new();
    if steps_left_at_last_kill == 0 {
        problems.push(
            "every step had already run at the last crash: the test no longer crashes the \
             server under load (make the workflows longer)"
                .into(),
        );
    }
    for workflow in &workflows {
        if workflow.run_id().is_none() {
            problems.push(format!(
                "{}: never started: {:?}",
                workflow.workflow_id, workflow.errors
            ));
        } else if workflow
            .run_ids
            .iter()
            .any(|r| Some(r.as_str()) != workflow.run_id())
        {
            problems.push(format!(
                "{}: start calls answered different runs: {:?}",
                workflow.workflow_id, workflow.run_ids
            ));
        }
    }
    let mut open: Vec<&Started> = workflows.iter().filter(|w| w.run_id().is_some()).collect();
    let mut described: HashMap<String, (String, WorkflowExecutionStatus, i64)> = HashMap::new();
    let wait_deadline = Instant::now() + COMPLETE_DEADLINE;
    let mut last_error = None;
    while !open.is_empty() && Instant::now() < wait_deadline {
        let mut still_open = Vec::new();
        for workflow in open {
            match describe(&connection, &workflow.workflow_id).await {
                Ok(answer) if answer.1 != WorkflowExecutionStatus::Running => {
                    described.insert(workflow.workflow_id.clone(), answer);
                }
                Ok(_) => still_open.push(workflow),
                Err(error) => {
                    last_error = Some(error);
                    still_open.push(workflow);
                }
            }
        }
        open = still_open;
        if !open.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    eprintln!(
        "all but {} workflows closed {:?} after the first start (last describe error: {:?})",
        open.len(),
        t0.elapsed(),
        last_error
    );
    for (shown, workflow) in open.iter().enumerate() {
        let run_id = workflow.run_id().unwrap_or_default();
        let detail = if shown < 5 {
            let history = tokio::time::timeout(
                RPC_TIMEOUT,
                fetch_history(&connection, &workflow.workflow_id, run_id),
            )
            .await
            .map(|h| format!("{:?}", event_types(&h)))
            .unwrap_or_else(|_| "history: no answer".into());
            format!("; history: {detail}", detail = history)
        } else {
            String::new()
        };
        problems.push(format!(
            "{}/{run_id}: still open after {COMPLETE_DEADLINE:?} ({:?}){detail}",
            workflow.workflow_id,
            describe(&connection, &workflow.workflow_id).await
        ));
    }

    // Every closed workflow: one run, completed, the right result, a sound history.
    let log = read_log(&log_path);
    let mut repeated_executions = 0;
    let mut retried_attempts = 0;
    for workflow in &workflows {
        let Some((current_run, status, history_length)) = described.get(&workflow.workflow_id)
        else {
            continue;
        };
        let id = &workflow.workflow_id;
        let run_id = workflow.run_id().expect("started");
        let mut mine = Vec::new();
        if current_run != run_id {
            mine.push(format!(
                "the current run is {current_run}, the start answered {run_id}"
            ));
        }
        if *status != WorkflowExecutionStatus::Completed {
            mine.push(format!("status {status:?}"));
        }
        let history = tokio::time::timeout(RPC_TIMEOUT, fetch_history(&connection, id, run_id))
            .await
            .expect("GetWorkflowExecutionHistory answers");
        if *history_length != history.len() as i64 {
            mine.push(format!(
                "describe says {history_length} events, the history has {}",
                history.len()
            ));
        }
        let expected = workflow.input.as_ref().expect("input").expected_result();
        mine.extend(check_history(&history, run_id, expected));
        let lines = log.get(id).map(Vec::as_slice).unwrap_or_default();
        for step in 1..=STEPS {
            let runs = lines.iter().filter(|(_, s, _)| *s == step).count();
            if runs == 0 {
                mine.push(format!("step {step} never ran (activity log)"));
            }
            repeated_executions += runs.saturating_sub(1);
        }
        retried_attempts += lines.iter().filter(|(_, _, attempt)| *attempt > 1).count();
        for (logged_run, step, _) in lines {
            if logged_run != run_id {
                mine.push(format!("step {step} ran for another run {logged_run}"));
            }
        }
        if !mine.is_empty() {
            problems.push(format!(
                "{id}/{run_id}: {}; history: {:?}",
                mine.join("; "),
                event_types(&history)
            ));
        }
    }
    eprintln!(
        "activity log: {} executions for {} steps; {repeated_executions} repeated executions \
         (at-least-once), {retried_attempts} of them attempts > 1",
        log.values().map(Vec::len).sum::<usize>(),
        WORKFLOWS * STEPS as usize
    );
    if let Some(status) = worker.exit_status() {
        problems.push(format!("the worker process exited: {status}"));
    }
    eprintln!("server_crash took {:?}", test_started.elapsed());
    if !problems.is_empty() {
        let stderr = server.stderr();
        let noteworthy: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("WARN") || l.contains("panicked"))
            .collect();
        panic!(
            "{} problems after {CRASHES} server crashes:\n{}\n\nserver stderr, ERROR/WARN \
             lines ({} of them, last 40):\n{}\n\nserver stderr, last 40 lines:\n{}",
            problems.len(),
            problems
                .iter()
                .take(25)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
            noteworthy.len(),
            tail(&noteworthy.join("\n"), 40),
            tail(&stderr, 40)
        );
    }
    drop(worker);
    drop(server);
    drop(dir);
}

/// The history checks bite: a gap, a second completion of one activity and a wrong result are
/// all reported.
#[test]
fn check_history_reports_gaps_and_double_completions() {
    use temporalio_protos::temporal::api::history::v1::{
        ActivityTaskCompletedEventAttributes, ActivityTaskScheduledEventAttributes,
        TimerFiredEventAttributes, TimerStartedEventAttributes,
        WorkflowExecutionCompletedEventAttributes, WorkflowExecutionStartedEventAttributes,
    };
    let event = |event_id: i64, event_type: EventType, attributes: Attributes| HistoryEvent {
        event_id,
        event_type: event_type as i32,
        attributes: Some(attributes),
        ..Default::default()
    };
    let result = |value: u32| Payloads {
        payloads: vec![value.as_json_payload().expect("json")],
    };
    let mut history = vec![event(
        1,
        EventType::WorkflowExecutionStarted,
        Attributes::WorkflowExecutionStartedEventAttributes(
            WorkflowExecutionStartedEventAttributes {
                first_execution_run_id: "run".into(),
                ..Default::default()
            },
        ),
    )];
    for _ in 0..STEPS {
        let scheduled = history.len() as i64 + 1;
        history.push(event(
            scheduled,
            EventType::ActivityTaskScheduled,
            Attributes::ActivityTaskScheduledEventAttributes(
                ActivityTaskScheduledEventAttributes::default(),
            ),
        ));
        history.push(event(
            scheduled + 1,
            EventType::ActivityTaskCompleted,
            Attributes::ActivityTaskCompletedEventAttributes(
                ActivityTaskCompletedEventAttributes {
                    scheduled_event_id: scheduled,
                    ..Default::default()
                },
            ),
        ));
    }
    let next = history.len() as i64 + 1;
    history.push(event(
        next,
        EventType::TimerStarted,
        Attributes::TimerStartedEventAttributes(TimerStartedEventAttributes::default()),
    ));
    history.push(event(
        next + 1,
        EventType::TimerFired,
        Attributes::TimerFiredEventAttributes(TimerFiredEventAttributes::default()),
    ));
    let completed = |event_id: i64, value: u32| {
        event(
            event_id,
            EventType::WorkflowExecutionCompleted,
            Attributes::WorkflowExecutionCompletedEventAttributes(
                WorkflowExecutionCompletedEventAttributes {
                    result: Some(result(value)),
                    ..Default::default()
                },
            ),
        )
    };
    let mut sound = history.clone();
    sound.push(completed(sound.len() as i64 + 1, 6));
    assert_eq!(check_history(&sound, "run", 6), Vec::<String>::new());

    let mut broken = history;
    let duplicate = broken[2].clone();
    broken.push(HistoryEvent {
        event_id: broken.len() as i64 + 1,
        ..duplicate
    });
    broken.push(completed(broken.len() as i64 + 2, 7));
    let problems = check_history(&broken, "run", 6);
    for expected in [
        "event ids are not 1..=n",
        "has 2 ActivityTaskCompleted events",
        "expected 6",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected:?} in {problems:?}"
        );
    }
}
