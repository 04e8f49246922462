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
    common::v1::{Header, Memo, Payloads, Priority, SearchAttributes, WorkflowType},
    enums::v1::{ContinueAsNewInitiator, RetryState, TimeoutType},
    failure::v1::{Failure, failure::FailureInfo},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::StartWorkflowExecutionRequest,
};

use super::{
    EngineError, MutableState, NewRun, RunLineage, cron,
    retry::{backoff_ms, next_retry_delay, timeout_name},
    time::{lenient_ms, opt_duration},
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
    let run = successor(state, new_run_id, initiator, backoff, Some(failure.clone()), last)?;
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
