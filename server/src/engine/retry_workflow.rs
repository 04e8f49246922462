//! The workflow retry policy and cron schedule: when a run closes, whether another run of the
//! same chain follows, started in the SAME batch ([`Effect::StartRun`](super::Effect)) with its
//! first workflow task held back by a durable backoff timer.
//!
//! As Temporal: a failure (FailWorkflowExecution) or a run timeout is retried while the policy
//! allows it (retryable failure, attempts left, the backoff ends before the execution
//! deadline): the run closes with `retry_state = IN_PROGRESS` and `new_execution_run_id`, and
//! the next run has attempt + 1, initiator RETRY and `continued_failure`. Otherwise a cron
//! schedule starts the next run (attempt 1, initiator CRON_SCHEDULE) after a completion, a
//! failure or a run timeout; a completion passes its result on as `last_completion_result`.
//! Cancellation, termination, continue-as-new and the execution timeout end the chain.

use temporalio_protos::temporal::api::{
    common::v1::{Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes, WorkflowType},
    enums::v1::{ContinueAsNewInitiator, RetryState, TimeoutType},
    failure::v1::{Failure, failure::FailureInfo},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::StartWorkflowExecutionRequest,
};

use super::{
    EngineError, MutableState, NewRun, RunLineage, cron,
    retry::{backoff_ms, next_retry_delay, timeout_name, with_defaults},
    time::{duration_ms, lenient_ms, opt_duration},
};

/// What the next run of a retried or cron chain needs that the state does not keep otherwise
/// (kept only for runs with a retry policy or a cron schedule: it copies the input).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RestartInfo {
    /// The run's input.
    #[prost(message, optional, tag = "1")]
    pub input: Option<Payloads>,
    /// The run's header.
    #[prost(message, optional, tag = "2")]
    pub header: Option<Header>,
    /// The cron schedule; empty = none.
    #[prost(string, tag = "3")]
    pub cron_schedule: String,
    /// The last completion result of the chain (cron), handed on to the next run.
    #[prost(message, optional, tag = "4")]
    pub last_completion_result: Option<Payloads>,
    /// The run timeout as requested (the state keeps the one clamped to the execution
    /// deadline), ms; 0 = none.
    #[prost(int64, tag = "5")]
    pub run_timeout_ms: i64,
    /// The identity that started the chain.
    #[prost(string, tag = "6")]
    pub identity: String,
    /// The priority of the chain.
    #[prost(message, optional, tag = "7")]
    pub priority: Option<Priority>,
}

/// A workflow retry policy with Temporal's defaults, or InvalidArgument naming the problem.
pub(crate) fn workflow_retry_policy(policy: &RetryPolicy) -> Result<RetryPolicy, EngineError> {
    let filled = with_defaults(Some(policy)).map_err(EngineError::invalid)?;
    for ty in &filled.non_retryable_error_types {
        if let Some(name) = ty.strip_prefix("TemporalTimeout:") {
            let known = [
                TimeoutType::StartToClose,
                TimeoutType::ScheduleToStart,
                TimeoutType::ScheduleToClose,
                TimeoutType::Heartbeat,
            ];
            if !known.iter().any(|t| timeout_name(*t) == name) {
                return Err(EngineError::invalid(format!(
                    "retry_policy.non_retryable_error_types: unknown timeout type {name:?}"
                )));
            }
        }
    }
    Ok(filled)
}

/// The first-task backoff of a first run: `workflow_start_delay`, or the wait for the first
/// time of its cron schedule.
pub(crate) fn first_run_backoff_ms(
    req: &StartWorkflowExecutionRequest,
    now: i64,
) -> Result<i64, EngineError> {
    let delay = duration_ms(req.workflow_start_delay.as_ref(), "workflow_start_delay")?;
    if req.cron_schedule.is_empty() {
        return Ok(delay);
    }
    let schedule = cron::CronSchedule::parse(&req.cron_schedule).map_err(EngineError::invalid)?;
    schedule.backoff_ms(now, now).ok_or_else(|| {
        EngineError::invalid(format!(
            "invalid cron_schedule {:?}: no time satisfies it",
            req.cron_schedule
        ))
    })
}

/// The run that follows a run closing with `failure` (a FailWorkflowExecution failure or the
/// run timeout's), and the closing event's retry state.
pub(crate) fn after_failure(
    state: &MutableState,
    failure: &Failure,
    new_run_id: &str,
    now: i64,
) -> Result<(RetryState, Option<NewRun>), EngineError> {
    let (retry_state, next) = match retry_backoff(state, failure, now) {
        Ok(backoff) => (
            RetryState::InProgress,
            Some((backoff, ContinueAsNewInitiator::Retry)),
        ),
        Err(retry_state) => (
            retry_state,
            cron_backoff(state, now).map(|b| (b, ContinueAsNewInitiator::CronSchedule)),
        ),
    };
    let Some((backoff, initiator)) = next else {
        return Ok((retry_state, None));
    };
    let last = state
        .restart
        .as_ref()
        .and_then(|r| r.last_completion_result.clone());
    let run = successor(
        state,
        new_run_id,
        initiator,
        backoff,
        Some(failure.clone()),
        last,
    )?;
    Ok((retry_state, Some(run)))
}

/// The run that follows a completed run: the next one of its cron schedule, if any.
pub(crate) fn after_completion(
    state: &MutableState,
    result: Option<&Payloads>,
    new_run_id: &str,
    now: i64,
) -> Result<Option<NewRun>, EngineError> {
    let Some(backoff) = cron_backoff(state, now) else {
        return Ok(None);
    };
    let initiator = ContinueAsNewInitiator::CronSchedule;
    successor(state, new_run_id, initiator, backoff, None, result.cloned()).map(Some)
}

/// The backoff before the next attempt, or the retry state that ends the retries.
fn retry_backoff(state: &MutableState, failure: &Failure, now: i64) -> Result<i64, RetryState> {
    let Some(policy) = &state.retry_policy else {
        return Err(RetryState::RetryPolicyNotSet);
    };
    if !is_retryable(failure, &policy.non_retryable_error_types) {
        return Err(RetryState::NonRetryableFailure);
    }
    let attempt = state.attempt.max(1);
    if policy.maximum_attempts > 0 && attempt >= policy.maximum_attempts {
        return Err(RetryState::MaximumAttemptsReached);
    }
    let maximum = lenient_ms(policy.maximum_interval.as_ref());
    let backoff = match next_retry_delay(failure) {
        0 => backoff_ms(policy, attempt),
        delay if maximum > 0 => delay.min(maximum),
        delay => delay,
    };
    let expiration = state.execution_expiration_ms;
    if expiration > 0 && now.saturating_add(backoff) > expiration {
        return Err(RetryState::Timeout);
    }
    Ok(backoff)
}

/// Temporal's rule for workflow failures: canceled and terminated failures, and timeouts other
/// than start-to-close and heartbeat, are final; application and server failures are retried
/// unless marked non-retryable or of a listed type.
fn is_retryable(failure: &Failure, non_retryable: &[String]) -> bool {
    let listed = |ty: &str| non_retryable.iter().any(|t| t == ty);
    match &failure.failure_info {
        Some(FailureInfo::TerminatedFailureInfo(_) | FailureInfo::CanceledFailureInfo(_)) => false,
        Some(FailureInfo::TimeoutFailureInfo(info)) => match info.timeout_type() {
            ty @ (TimeoutType::StartToClose | TimeoutType::Heartbeat) => {
                !listed(&format!("TemporalTimeout:{}", timeout_name(ty)))
            }
            _ => false,
        },
        Some(FailureInfo::ServerFailureInfo(info)) => !info.non_retryable,
        Some(FailureInfo::ApplicationFailureInfo(info)) => {
            !info.non_retryable && !listed(&info.r#type)
        }
        _ => true,
    }
}

/// The backoff before the next run of the cron schedule, if the run has one.
fn cron_backoff(state: &MutableState, now: i64) -> Option<i64> {
    let schedule = state.restart.as_ref().map(|r| r.cron_schedule.as_str())?;
    if schedule.is_empty() {
        return None;
    }
    let scheduled = state.execution_time_ms.max(state.start_time_ms);
    cron::CronSchedule::parse(schedule)
        .ok()?
        .backoff_ms(scheduled, now)
}

/// The next run of the chain: same workflow id, type, queue, input, timeouts, policy, schedule,
/// memo and search attributes; the lineage of `state` (first run, parent, root, deadline).
fn successor(
    state: &MutableState,
    new_run_id: &str,
    initiator: ContinueAsNewInitiator,
    backoff_ms: i64,
    continued_failure: Option<Failure>,
    last_completion_result: Option<Payloads>,
) -> Result<NewRun, EngineError> {
    if new_run_id.is_empty() {
        return Err(EngineError::invalid("no run id for the next run"));
    }
    let restart = state.restart.clone().unwrap_or_default();
    let request = StartWorkflowExecutionRequest {
        namespace: state.namespace.clone(),
        workflow_id: state.workflow_id.clone(),
        workflow_type: Some(WorkflowType {
            name: state.workflow_type.clone(),
        }),
        task_queue: Some(TaskQueue {
            name: state.task_queue.clone(),
            ..Default::default()
        }),
        input: restart.input,
        workflow_execution_timeout: opt_duration(state.execution_timeout_ms),
        workflow_run_timeout: opt_duration(restart.run_timeout_ms),
        workflow_task_timeout: opt_duration(state.workflow_task_timeout_ms),
        identity: restart.identity,
        // The chain keeps its start request id, so a retried start finds the chain's run.
        request_id: state.start_request_id.clone(),
        retry_policy: state.retry_policy.clone(),
        cron_schedule: restart.cron_schedule,
        memo: Some(Memo {
            fields: state.memo.clone().into_iter().collect(),
        }),
        search_attributes: Some(SearchAttributes {
            indexed_fields: state.search_attributes.clone().into_iter().collect(),
        }),
        header: restart.header,
        continued_failure,
        last_completion_result,
        priority: restart.priority,
        ..Default::default()
    };
    let attempt = match initiator {
        ContinueAsNewInitiator::Retry => state.attempt.max(1).saturating_add(1),
        _ => 1,
    };
    let lineage = RunLineage {
        continued_execution_run_id: state.run_id.clone(),
        first_execution_run_id: state.first_execution_run_id.clone(),
        initiator: initiator as i32,
        execution_expiration_ms: state.execution_expiration_ms,
        parent: state.parent.clone(),
        root: state.root.clone(),
        attempt,
        backoff_ms,
    };
    Ok(NewRun {
        run_id: new_run_id.to_string(),
        request,
        lineage,
    })
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        common::v1::RetryPolicy,
        enums::v1::{EventType, WorkflowExecutionStatus},
        history::v1::{HistoryEvent, history_event::Attributes as A},
        workflowservice::v1::TerminateWorkflowExecutionRequest,
    };

    use super::*;
    use crate::engine::{
        Effect, TimerKind, TimerTask, Transition, complete_workflow_task, fire_timer,
        fire_timer_starting, signal, start_run, terminate_workflow, test_support::*,
        time::duration, workflow_task_started,
    };

    fn policy(maximum_attempts: i32) -> RetryPolicy {
        RetryPolicy {
            initial_interval: Some(duration(1_000)),
            maximum_attempts,
            non_retryable_error_types: vec!["Fatal".into()],
            ..Default::default()
        }
    }

    /// A run of `req` (lineage `lineage`) whose first task is started at `at`.
    fn running(req: &StartWorkflowExecutionRequest, lineage: &RunLineage, at: i64) -> MutableState {
        let (mut state, t) = start_run(req, "run-1", lineage, at).unwrap();
        if let Some(Effect::Timer(timer)) = t
            .effects
            .iter()
            .find(|e| matches!(e, Effect::Timer(t) if t.kind() == TimerKind::WorkflowBackoff))
        {
            let due = timer.fire_at;
            fire_timer_starting(&mut state, &timer.clone(), "x", due).unwrap();
        }
        let task = state.pending_workflow_task().unwrap().clone();
        workflow_task_started(&mut state, task.scheduled_event_id, 1, "w", "p", at).unwrap();
        state
    }

    fn close_with(state: &mut MutableState, cmd: Command, at: i64) -> Transition {
        let task = state.pending_workflow_task().unwrap().clone();
        complete_workflow_task(
            state,
            task.scheduled_event_id,
            task.started_event_id,
            1,
            &completed_req(vec![cmd]),
            "run-2",
            at,
        )
        .unwrap()
    }

    fn last(t: &Transition) -> &HistoryEvent {
        t.events.last().unwrap()
    }

    fn next_run(t: &Transition) -> &NewRun {
        match &t.effects[..] {
            [Effect::Closed, Effect::StartRun(next)] => next,
            other => panic!("{other:?}"),
        }
    }

    fn app_fail_cmd(ty: &str) -> Command {
        let mut cmd = fail_cmd("boom");
        if let Some(C::FailWorkflowExecutionCommandAttributes(a)) = cmd.attributes.as_mut() {
            a.failure = Some(app_failure("boom", false));
            if let Some(FailureInfo::ApplicationFailureInfo(info)) =
                a.failure.as_mut().and_then(|f| f.failure_info.as_mut())
            {
                info.r#type = ty.into();
            }
        }
        cmd
    }

    use temporalio_protos::temporal::api::command::v1::{Command, command::Attributes as C};

    #[test]
    fn a_failure_is_retried_in_the_same_batch_after_a_backoff() {
        let mut req = start_req();
        req.retry_policy = Some(policy(3));
        req.input = Some(payloads("wf-in"));
        let mut state = running(&req, &RunLineage::default(), T0);
        let t = close_with(&mut state, app_fail_cmd("AppError"), T0 + 10);
        let Some(A::WorkflowExecutionFailedEventAttributes(f)) = &last(&t).attributes else {
            panic!("{:?}", types(&t))
        };
        assert_eq!(f.retry_state(), RetryState::InProgress);
        assert_eq!(f.new_execution_run_id, "run-2");
        assert_eq!(state.status(), WorkflowExecutionStatus::Failed);
        let next = next_run(&t);
        assert_eq!(next.lineage.attempt, 2);
        assert_eq!(next.lineage.backoff_ms, 1_000);
        assert_eq!(next.request.input, Some(payloads("wf-in")));

        let (mut second, started) =
            start_run(&next.request, &next.run_id, &next.lineage, T0 + 10).unwrap();
        assert_eq!(types(&started), [EventType::WorkflowExecutionStarted]);
        let Some(A::WorkflowExecutionStartedEventAttributes(s)) = &started.events[0].attributes
        else {
            panic!()
        };
        assert_eq!(s.attempt, 2);
        assert_eq!(s.initiator(), ContinueAsNewInitiator::Retry);
        assert_eq!(s.first_workflow_task_backoff, Some(duration(1_000)));
        assert_eq!(s.first_execution_run_id, "run-1");
        assert_eq!(s.continued_execution_run_id, "run-1");
        assert_eq!(s.continued_failure.as_ref().unwrap().message, "boom");
        let backoff = TimerTask::new(TimerKind::WorkflowBackoff, T0 + 1_010, 0, 0);
        assert!(started.effects.contains(&Effect::Timer(backoff.clone())));
        assert!(second.pending_workflow_task().is_none());
        let info = second.execution_info();
        assert_eq!(info.status(), WorkflowExecutionStatus::Running);
        assert_eq!(
            info.execution_time,
            Some(crate::engine::time::timestamp(T0 + 1_010))
        );

        // A signal while it waits is recorded but does not start a task early.
        let t = signal(&mut second, &signal_req("early", ""), T0 + 500).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowExecutionSignaled]);
        let t = fire_timer_starting(&mut second, &backoff, "x", T0 + 1_010).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowTaskScheduled]);
        assert!(
            fire_timer_starting(&mut second, &backoff, "x", T0 + 1_010)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn retries_end_as_temporal_says() {
        let mut req = start_req();
        req.retry_policy = Some(policy(2));
        let last_attempt = RunLineage {
            initiator: ContinueAsNewInitiator::Retry as i32,
            attempt: 2,
            ..Default::default()
        };
        for (req, lineage, cmd, expected) in [
            (
                start_req(),
                RunLineage::default(),
                app_fail_cmd("AppError"),
                RetryState::RetryPolicyNotSet,
            ),
            (
                req.clone(),
                RunLineage::default(),
                app_fail_cmd("Fatal"),
                RetryState::NonRetryableFailure,
            ),
            (
                req.clone(),
                last_attempt,
                app_fail_cmd("AppError"),
                RetryState::MaximumAttemptsReached,
            ),
        ] {
            let mut state = running(&req, &lineage, T0);
            let t = close_with(&mut state, cmd, T0);
            let Some(A::WorkflowExecutionFailedEventAttributes(f)) = &last(&t).attributes else {
                panic!()
            };
            assert_eq!(f.retry_state(), expected);
            assert!(f.new_execution_run_id.is_empty());
            assert_eq!(t.effects, [Effect::Closed]);
        }
        // The backoff would end after the execution deadline.
        req.workflow_execution_timeout = Some(duration(500));
        let mut state = running(&req, &RunLineage::default(), T0);
        let t = close_with(&mut state, app_fail_cmd("AppError"), T0 + 100);
        let Some(A::WorkflowExecutionFailedEventAttributes(f)) = &last(&t).attributes else {
            panic!()
        };
        assert_eq!(f.retry_state(), RetryState::Timeout);
    }

    #[test]
    fn a_run_timeout_is_retried_but_the_execution_timeout_is_final() {
        let mut req = start_req();
        req.retry_policy = Some(policy(0));
        req.workflow_run_timeout = Some(duration(5_000));
        let mut state = running(&req, &RunLineage::default(), T0);
        let timer = TimerTask::new(TimerKind::WorkflowRunTimeout, T0 + 5_000, 0, 0);
        let t = fire_timer_starting(&mut state, &timer, "run-2", T0 + 5_000).unwrap();
        let Some(A::WorkflowExecutionTimedOutEventAttributes(o)) = &last(&t).attributes else {
            panic!("{:?}", types(&t))
        };
        assert_eq!(
            (o.retry_state(), o.new_execution_run_id.as_str()),
            (RetryState::InProgress, "run-2")
        );
        let next = next_run(&t);
        assert_eq!(next.request.workflow_run_timeout, Some(duration(5_000)));
        assert!(matches!(
            next.request
                .continued_failure
                .as_ref()
                .and_then(|f| f.failure_info.as_ref()),
            Some(FailureInfo::TimeoutFailureInfo(_))
        ));
        // Its run timeout counts from the end of the backoff.
        let (_, started) =
            start_run(&next.request, &next.run_id, &next.lineage, T0 + 5_000).unwrap();
        let run_timer = TimerTask::new(
            TimerKind::WorkflowRunTimeout,
            T0 + 5_000 + 1_000 + 5_000,
            0,
            0,
        );
        assert!(started.effects.contains(&Effect::Timer(run_timer)));

        let mut state = running(&req, &RunLineage::default(), T0);
        let timer = TimerTask::new(TimerKind::WorkflowExecutionTimeout, T0 + 5_000, 0, 0);
        let t = fire_timer_starting(&mut state, &timer, "run-2", T0 + 5_000).unwrap();
        let Some(A::WorkflowExecutionTimedOutEventAttributes(o)) = &last(&t).attributes else {
            panic!()
        };
        assert_eq!(o.retry_state(), RetryState::Timeout);
        assert_eq!(t.effects, [Effect::Closed]);
    }

    #[test]
    fn a_cron_chain_waits_for_each_slot_and_ends_on_terminate() {
        let mut req = start_req();
        req.cron_schedule = "@every 2s".into();
        let (mut state, t) = start_run(&req, "run-1", &RunLineage::default(), T0 + 300).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowExecutionStarted]);
        let Some(A::WorkflowExecutionStartedEventAttributes(s)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!(s.first_workflow_task_backoff, Some(duration(2_000)));
        assert_eq!(s.cron_schedule, "@every 2s");
        let timer = TimerTask::new(TimerKind::WorkflowBackoff, T0 + 2_300, 0, 0);
        fire_timer_starting(&mut state, &timer, "x", T0 + 2_300).unwrap();
        workflow_task_started(&mut state, 2, 1, "w", "p", T0 + 2_300).unwrap();
        let t = close_with(&mut state, complete_cmd(), T0 + 2_500);
        let Some(A::WorkflowExecutionCompletedEventAttributes(c)) = &last(&t).attributes else {
            panic!()
        };
        assert_eq!(c.new_execution_run_id, "run-2");
        let next = next_run(&t);
        assert_eq!(
            next.lineage.initiator,
            ContinueAsNewInitiator::CronSchedule as i32
        );
        assert_eq!(next.lineage.attempt, 1);
        // Scheduled for T0 + 2.3 s: the next slot is T0 + 4 s, 1.5 s away, rounded up to whole
        // seconds as Temporal does.
        assert_eq!(next.lineage.backoff_ms, 2_000);
        assert_eq!(next.request.last_completion_result, Some(payloads("done")));

        let (mut second, _) =
            start_run(&next.request, &next.run_id, &next.lineage, T0 + 2_500).unwrap();
        let t = terminate_workflow(
            &mut second,
            &TerminateWorkflowExecutionRequest::default(),
            T0 + 3_000,
        )
        .unwrap();
        assert_eq!(t.effects, [Effect::Closed], "terminate ends the chain");

        // A failure without a retry policy goes on with the schedule.
        let mut state = running(&req, &RunLineage::default(), T0);
        let t = close_with(&mut state, app_fail_cmd("AppError"), T0 + 10);
        let Some(A::WorkflowExecutionFailedEventAttributes(f)) = &last(&t).attributes else {
            panic!()
        };
        assert_eq!(f.retry_state(), RetryState::RetryPolicyNotSet);
        assert_eq!(
            next_run(&t).lineage.initiator,
            ContinueAsNewInitiator::CronSchedule as i32
        );
    }

    #[test]
    fn a_retried_child_does_not_tell_its_parent_yet() {
        let mut req = start_req();
        req.retry_policy = Some(policy(0));
        let lineage = child_lineage();
        let mut state = running(&req, &lineage, T0);
        let t = close_with(&mut state, app_fail_cmd("AppError"), T0);
        assert_eq!(next_run(&t).lineage.parent, lineage.parent);
        let mut state = running(&start_req(), &lineage, T0);
        let t = close_with(&mut state, app_fail_cmd("AppError"), T0);
        assert!(matches!(
            &t.effects[..],
            [Effect::Closed, Effect::NotifyParent(_)]
        ));
    }

    #[test]
    fn bad_policies_and_schedules_are_refused_at_start() {
        let mut req = start_req();
        req.retry_policy = Some(RetryPolicy {
            backoff_coefficient: 0.5,
            ..Default::default()
        });
        assert!(start_run(&req, "r", &RunLineage::default(), T0).is_err());
        let mut req = start_req();
        req.retry_policy = Some(RetryPolicy {
            non_retryable_error_types: vec!["TemporalTimeout:Sometimes".into()],
            ..Default::default()
        });
        assert!(start_run(&req, "r", &RunLineage::default(), T0).is_err());
        let mut req = start_req();
        req.cron_schedule = "@every 1m".into();
        req.workflow_start_delay = Some(duration(1_000));
        assert!(matches!(
            start_run(&req, "r", &RunLineage::default(), T0),
            Err(EngineError::InvalidArgument(m)) if m.contains("workflow_start_delay")
        ));
        let mut req = start_req();
        req.cron_schedule = "0 0 31 2 *".into();
        assert!(matches!(
            start_run(&req, "r", &RunLineage::default(), T0),
            Err(EngineError::InvalidArgument(m)) if m.contains("no time satisfies it")
        ));
        let mut req = start_req();
        req.workflow_start_delay = Some(duration(3_000));
        let (state, t) = start_run(&req, "r", &RunLineage::default(), T0).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowExecutionStarted]);
        assert!(state.first_task_backoff);
    }

    /// An update admitted during a start delay gets a speculative task (as in Temporal); when
    /// the delay ends that task becomes the run's first real one, so a later rejection of the
    /// update cannot leave the run without a workflow task.
    #[test]
    fn the_backoff_end_makes_a_speculative_task_real() {
        let mut req = start_req();
        req.workflow_start_delay = Some(duration(3_000));
        let (mut state, _) = start_run(&req, "run-1", &RunLineage::default(), T0).unwrap();
        let update = crate::engine::update::test_support::update_req("u1", "set");
        crate::engine::admit_update(&mut state, &update, T0 + 1).unwrap();
        assert!(state.pending_workflow_task().unwrap().speculative);
        let backoff = TimerTask::new(TimerKind::WorkflowBackoff, T0 + 3_000, 0, 0);
        let t = fire_timer(&mut state, &backoff, T0 + 3_000).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowTaskScheduled]);
        let task = state.pending_workflow_task().unwrap();
        assert_eq!((task.scheduled_event_id, task.speculative), (2, false));
        assert!(!state.first_task_backoff);
    }
}
