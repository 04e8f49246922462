//! StartWorkflowExecution and SignalWithStart: a new run's `WorkflowExecutionStarted`, the
//! optional signal, the first `WorkflowTaskScheduled` — or, for a retried, cron or delayed run,
//! the WorkflowBackoff timer that schedules it (`first_workflow_task_backoff`) — and the
//! run/execution timeout timers.

use std::collections::BTreeMap;

use temporalio_protos::temporal::api::{
    common::v1::{RetryPolicy, WorkflowExecution},
    enums::v1::{TaskQueueKind, WorkflowExecutionStatus},
    history::v1::{WorkflowExecutionStartedEventAttributes, history_event::Attributes},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{SignalWithStartWorkflowExecutionRequest, StartWorkflowExecutionRequest},
};

use super::{
    EngineError, MutableState, ParentInfo, RestartInfo, TimerKind, TimerTask, Transition,
    apply::{Apply, transact},
    cron::CronSchedule,
    retry_workflow::{first_run_backoff_ms, workflow_retry_policy},
    signal::SignalInput,
    time::{duration, duration_ms, opt_duration, opt_timestamp},
};

/// Default workflow task start-to-close timeout.
pub(crate) const DEFAULT_WORKFLOW_TASK_TIMEOUT_MS: i64 = 10_000;
/// Upper bound of the workflow task start-to-close timeout.
pub(crate) const MAX_WORKFLOW_TASK_TIMEOUT_MS: i64 = 120_000;

/// Where a new run comes from besides its start request: the run it continues, its parent.
/// The default is a top-level first run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunLineage {
    /// The run this one continues as new; empty for a first run.
    pub continued_execution_run_id: String,
    /// The first run of the chain; empty = the new run itself.
    pub first_execution_run_id: String,
    /// A `ContinueAsNewInitiator` (0 for a first run).
    pub initiator: i32,
    /// When the execution timeout of the chain expires (unix ms); 0 = derive it from the
    /// request's execution timeout and `now`.
    pub execution_expiration_ms: i64,
    /// The parent, for a child run.
    pub parent: Option<ParentInfo>,
    /// The root of the parent chain; `None` = the new run itself.
    pub root: Option<WorkflowExecution>,
    /// The attempt under the workflow retry policy; 0 = 1.
    pub attempt: i32,
    /// The first-task backoff of a retried or cron run, ms. Ignored for a first run (its
    /// backoff comes from its cron schedule and `workflow_start_delay`).
    pub backoff_ms: i64,
}

/// A run to start in the same batch as the transition that asked for it (continue-as-new).
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    /// The new run's id (already written into the closing event).
    pub run_id: String,
    /// Its start request.
    pub request: StartWorkflowExecutionRequest,
    /// Its lineage.
    pub lineage: RunLineage,
}

/// Starts a new run with id `run_id`. The caller has already checked that no run of this
/// workflow id is open and handles request-id idempotency with
/// [`MutableState::start_request_id`].
pub fn start_workflow(
    req: &StartWorkflowExecutionRequest,
    run_id: &str,
    now: i64,
) -> Result<(MutableState, Transition), EngineError> {
    start(req, run_id, now, None, &RunLineage::default())
}

/// Starts a run with a lineage: a continued run ([`NewRun`]) or a child run.
pub fn start_run(
    req: &StartWorkflowExecutionRequest,
    run_id: &str,
    lineage: &RunLineage,
    now: i64,
) -> Result<(MutableState, Transition), EngineError> {
    start(req, run_id, now, None, lineage)
}

/// SignalWithStartWorkflowExecution for a workflow id with no open run: starts a run whose
/// signal precedes the first workflow task. (For an open run, call [`signal`](super::signal).)
pub fn start_workflow_with_signal(
    req: &SignalWithStartWorkflowExecutionRequest,
    run_id: &str,
    now: i64,
) -> Result<(MutableState, Transition), EngineError> {
    let start_req = StartWorkflowExecutionRequest {
        namespace: req.namespace.clone(),
        workflow_id: req.workflow_id.clone(),
        workflow_type: req.workflow_type.clone(),
        task_queue: req.task_queue.clone(),
        input: req.input.clone(),
        workflow_execution_timeout: req.workflow_execution_timeout,
        workflow_run_timeout: req.workflow_run_timeout,
        workflow_task_timeout: req.workflow_task_timeout,
        identity: req.identity.clone(),
        request_id: req.request_id.clone(),
        retry_policy: req.retry_policy.clone(),
        cron_schedule: req.cron_schedule.clone(),
        memo: req.memo.clone(),
        search_attributes: req.search_attributes.clone(),
        header: req.header.clone(),
        workflow_start_delay: req.workflow_start_delay,
        priority: req.priority.clone(),
        ..Default::default()
    };
    let signal = SignalInput {
        name: &req.signal_name,
        input: req.signal_input.as_ref(),
        header: req.header.as_ref(),
        identity: &req.identity,
        request_id: &req.request_id,
        external: None,
    };
    signal.validate()?;
    start(
        &start_req,
        run_id,
        now,
        Some(signal),
        &RunLineage::default(),
    )
}

fn start(
    req: &StartWorkflowExecutionRequest,
    run_id: &str,
    now: i64,
    signal: Option<SignalInput<'_>>,
    lineage: &RunLineage,
) -> Result<(MutableState, Transition), EngineError> {
    let mut config = RunConfig::from_request(req, run_id)?;
    let backoff_ms = match lineage.initiator {
        0 => first_run_backoff_ms(req, now)?,
        _ => lineage.backoff_ms.max(0),
    };
    let execution_expiration_ms =
        match (lineage.execution_expiration_ms, config.execution_timeout_ms) {
            (0, 0) => 0,
            (0, timeout) => now.saturating_add(timeout),
            (expiration, _) => expiration,
        };
    if execution_expiration_ms > 0 {
        // A continued run keeps the chain's deadline: its run timeout fits inside it.
        let remaining = execution_expiration_ms.saturating_sub(now).max(1);
        config.run_timeout_ms = match config.run_timeout_ms {
            0 => remaining,
            run => run.min(remaining),
        };
        config.workflow_task_timeout_ms =
            config.workflow_task_timeout_ms.min(config.run_timeout_ms);
    }
    let first_execution_run_id = if lineage.first_execution_run_id.is_empty() {
        run_id.to_string()
    } else {
        lineage.first_execution_run_id.clone()
    };
    let execution = WorkflowExecution {
        workflow_id: req.workflow_id.clone(),
        run_id: run_id.to_string(),
    };
    let mut state = MutableState {
        namespace: req.namespace.clone(),
        workflow_id: req.workflow_id.clone(),
        run_id: run_id.to_string(),
        workflow_type: config.workflow_type.clone(),
        task_queue: config.task_queue.clone(),
        status: WorkflowExecutionStatus::Running as i32,
        next_event_id: 1,
        start_request_id: req.request_id.clone(),
        start_time_ms: now,
        workflow_task_timeout_ms: config.workflow_task_timeout_ms,
        run_timeout_ms: config.run_timeout_ms,
        execution_timeout_ms: config.execution_timeout_ms,
        first_execution_run_id,
        memo: map_of(req.memo.as_ref().map(|m| &m.fields)),
        search_attributes: map_of(req.search_attributes.as_ref().map(|s| &s.indexed_fields)),
        parent: lineage.parent.clone(),
        root: Some(lineage.root.clone().unwrap_or(execution)),
        execution_expiration_ms,
        continued_execution_run_id: lineage.continued_execution_run_id.clone(),
        attempt: lineage.attempt.max(1),
        retry_policy: config.retry_policy.clone(),
        restart: (config.retry_policy.is_some() || !req.cron_schedule.is_empty()).then(|| {
            RestartInfo {
                input: req.input.clone(),
                header: req.header.clone(),
                cron_schedule: req.cron_schedule.clone(),
                last_completion_result: req.last_completion_result.clone(),
                run_timeout_ms: config.requested_run_timeout_ms,
                identity: req.identity.clone(),
                priority: req.priority.clone(),
            }
        }),
        execution_time_ms: now.saturating_add(backoff_ms),
        first_task_backoff: backoff_ms > 0,
        ..Default::default()
    };
    let (transition, ()) = transact(&mut state, now, |cx| {
        write_started(cx, req, &config, lineage, backoff_ms);
        if let Some(signal) = &signal {
            signal.record(cx);
        }
        if backoff_ms > 0 {
            let due = now.saturating_add(backoff_ms);
            cx.timer(TimerTask::new(TimerKind::WorkflowBackoff, due, 0, 0));
        } else {
            cx.schedule_workflow_task(1);
        }
        if config.run_timeout_ms > 0 {
            // As Temporal: the run timeout counts from the end of the first-task backoff.
            let mut deadline = now
                .saturating_add(backoff_ms)
                .saturating_add(config.run_timeout_ms);
            if execution_expiration_ms > 0 {
                deadline = deadline.min(execution_expiration_ms);
            }
            cx.timer(TimerTask::new(
                TimerKind::WorkflowRunTimeout,
                deadline,
                0,
                0,
            ));
        }
        if execution_expiration_ms > 0 {
            cx.timer(TimerTask::new(
                TimerKind::WorkflowExecutionTimeout,
                execution_expiration_ms,
                0,
                0,
            ));
        }
        Ok(())
    })?;
    Ok((state, transition))
}

/// The validated, derived settings of a new run.
struct RunConfig {
    workflow_type: String,
    task_queue: String,
    workflow_task_timeout_ms: i64,
    run_timeout_ms: i64,
    /// The run timeout as requested (0 = none), before the execution timeout clamps it.
    requested_run_timeout_ms: i64,
    execution_timeout_ms: i64,
    /// The workflow retry policy with Temporal's defaults filled in.
    retry_policy: Option<RetryPolicy>,
}

impl RunConfig {
    fn from_request(
        req: &StartWorkflowExecutionRequest,
        run_id: &str,
    ) -> Result<Self, EngineError> {
        let workflow_type = req
            .workflow_type
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let task_queue = req
            .task_queue
            .as_ref()
            .map(|q| q.name.clone())
            .unwrap_or_default();
        for (value, field) in [
            (req.workflow_id.as_str(), "workflow_id"),
            (workflow_type.as_str(), "workflow_type.name"),
            (task_queue.as_str(), "task_queue.name"),
            (run_id, "run id"),
        ] {
            if value.is_empty() {
                return Err(EngineError::invalid(format!("{field} is required")));
            }
        }
        if !req.cron_schedule.is_empty() {
            CronSchedule::parse(&req.cron_schedule).map_err(|problem| {
                EngineError::invalid(format!(
                    "invalid cron_schedule {:?}: {problem}",
                    req.cron_schedule
                ))
            })?;
        }
        let start_delay = duration_ms(req.workflow_start_delay.as_ref(), "workflow_start_delay")?;
        if start_delay > 0 && !req.cron_schedule.is_empty() {
            return Err(EngineError::invalid(
                "cron_schedule and workflow_start_delay may not be used together",
            ));
        }
        let retry_policy = req
            .retry_policy
            .as_ref()
            .map(workflow_retry_policy)
            .transpose()?;
        let execution_timeout_ms = duration_ms(
            req.workflow_execution_timeout.as_ref(),
            "workflow_execution_timeout",
        )?;
        let requested_run_timeout_ms =
            duration_ms(req.workflow_run_timeout.as_ref(), "workflow_run_timeout")?;
        let mut run_timeout_ms = requested_run_timeout_ms;
        if execution_timeout_ms > 0 {
            run_timeout_ms = match run_timeout_ms {
                0 => execution_timeout_ms,
                run => run.min(execution_timeout_ms),
            };
        }
        let mut workflow_task_timeout_ms =
            duration_ms(req.workflow_task_timeout.as_ref(), "workflow_task_timeout")?;
        if workflow_task_timeout_ms == 0 {
            workflow_task_timeout_ms = DEFAULT_WORKFLOW_TASK_TIMEOUT_MS;
        }
        workflow_task_timeout_ms = workflow_task_timeout_ms.min(MAX_WORKFLOW_TASK_TIMEOUT_MS);
        if run_timeout_ms > 0 {
            workflow_task_timeout_ms = workflow_task_timeout_ms.min(run_timeout_ms);
        }
        Ok(RunConfig {
            workflow_type,
            task_queue,
            workflow_task_timeout_ms,
            run_timeout_ms,
            requested_run_timeout_ms,
            execution_timeout_ms,
            retry_policy,
        })
    }
}

fn write_started(
    cx: &mut Apply<'_>,
    req: &StartWorkflowExecutionRequest,
    config: &RunConfig,
    lineage: &RunLineage,
    backoff_ms: i64,
) {
    let run_id = cx.state.run_id.clone();
    let expiration = cx.state.execution_expiration_ms;
    let parent = cx.state.parent.clone();
    cx.append(Attributes::WorkflowExecutionStartedEventAttributes(
        WorkflowExecutionStartedEventAttributes {
            workflow_type: req.workflow_type.clone(),
            task_queue: Some(TaskQueue {
                name: config.task_queue.clone(),
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            input: req.input.clone(),
            workflow_execution_timeout: opt_duration(config.execution_timeout_ms),
            workflow_run_timeout: opt_duration(config.run_timeout_ms),
            workflow_task_timeout: Some(duration(config.workflow_task_timeout_ms)),
            continued_failure: req.continued_failure.clone(),
            last_completion_result: req.last_completion_result.clone(),
            original_execution_run_id: run_id,
            identity: req.identity.clone(),
            first_execution_run_id: cx.state.first_execution_run_id.clone(),
            continued_execution_run_id: lineage.continued_execution_run_id.clone(),
            initiator: lineage.initiator,
            parent_workflow_namespace: parent
                .as_ref()
                .map(|p| p.namespace.clone())
                .unwrap_or_default(),
            parent_workflow_execution: parent.as_ref().map(ParentInfo::execution),
            parent_initiated_event_id: parent.as_ref().map_or(0, |p| p.initiated_event_id),
            root_workflow_execution: cx.state.root.clone(),
            retry_policy: config.retry_policy.clone(),
            cron_schedule: req.cron_schedule.clone(),
            first_workflow_task_backoff: opt_duration(backoff_ms),
            attempt: cx.state.attempt,
            workflow_execution_expiration_time: opt_timestamp(expiration),
            memo: req.memo.clone(),
            search_attributes: req.search_attributes.clone(),
            header: req.header.clone(),
            workflow_id: req.workflow_id.clone(),
            priority: req.priority.clone(),
            ..Default::default()
        },
    ));
}

fn map_of<V: Clone>(fields: Option<&std::collections::HashMap<String, V>>) -> BTreeMap<String, V> {
    fields
        .map(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{Effect, test_support::*};

    #[test]
    fn start_writes_started_and_first_task() {
        let (state, t) = start_workflow(&start_req(), "run-1", T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowExecutionStarted,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert_eq!(ids(&t), [1, 2]);
        let Some(A::WorkflowExecutionStartedEventAttributes(a)) = &t.events[0].attributes else {
            panic!("not a started event");
        };
        assert_eq!(a.workflow_task_timeout, Some(duration(10_000)));
        assert_eq!(a.original_execution_run_id, "run-1");
        assert_eq!(a.first_execution_run_id, "run-1");
        assert_eq!(a.attempt, 1);
        assert_eq!(a.task_queue.as_ref().unwrap().name, TASK_QUEUE);
        assert_eq!(
            t.effects,
            [Effect::WorkflowTask {
                task_queue: TASK_QUEUE.into(),
                scheduled_event_id: 2,
                attempt: 1
            }]
        );
        assert_eq!(state.next_event_id(), 3);
        assert_eq!(state.pending_workflow_task().unwrap().scheduled_event_id, 2);
        assert_eq!(state.start_request_id(), "start-req");
        assert!(t.events.iter().all(|e| e.event_time.is_some()));
    }

    #[test]
    fn timeouts_are_derived_and_armed() {
        let mut req = start_req();
        req.workflow_execution_timeout = Some(duration(60_000));
        req.workflow_task_timeout = Some(duration(500_000));
        let (state, t) = start_workflow(&req, "run-1", T0).unwrap();
        assert_eq!(state.run_timeout_ms, 60_000);
        assert_eq!(
            state.workflow_task_timeout_ms,
            MAX_WORKFLOW_TASK_TIMEOUT_MS.min(60_000)
        );
        let timers: Vec<_> = t
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Timer(timer) => Some((timer.kind(), timer.fire_at)),
                _ => None,
            })
            .collect();
        assert_eq!(
            timers,
            [
                (TimerKind::WorkflowRunTimeout, T0 + 60_000),
                (TimerKind::WorkflowExecutionTimeout, T0 + 60_000)
            ]
        );
    }

    #[test]
    fn signal_with_start_puts_the_signal_first() {
        let req = SignalWithStartWorkflowExecutionRequest {
            workflow_id: WORKFLOW_ID.into(),
            workflow_type: start_req().workflow_type,
            task_queue: start_req().task_queue,
            signal_name: "hello".into(),
            request_id: "r".into(),
            ..Default::default()
        };
        let (_, t) = start_workflow_with_signal(&req, "run-1", T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowExecutionStarted,
                EventType::WorkflowExecutionSignaled,
                EventType::WorkflowTaskScheduled
            ]
        );
    }

    #[test]
    fn rejects_missing_fields() {
        let mut req = start_req();
        req.task_queue = None;
        assert!(matches!(
            start_workflow(&req, "run-1", T0),
            Err(EngineError::InvalidArgument(m)) if m.contains("task_queue")
        ));
        let mut req = start_req();
        req.cron_schedule = "* * * *".into();
        assert!(matches!(
            start_workflow(&req, "run-1", T0),
            Err(EngineError::InvalidArgument(m)) if m.contains("cron_schedule") && m.contains("5 fields")
        ));
    }
}
