//! Activity retry policy: the defaults Temporal fills in, and the decision whether a failed or
//! timed-out attempt is retried and after which backoff.

use temporalio_protos::temporal::api::{
    common::v1::RetryPolicy,
    enums::v1::{RetryState, TimeoutType},
    failure::v1::{Failure, failure::FailureInfo},
};

use super::{
    ActivityInfo,
    time::{duration, duration_ms, lenient_ms},
};

/// Default first backoff.
pub(crate) const DEFAULT_INITIAL_INTERVAL_MS: i64 = 1_000;
/// Default backoff growth.
pub(crate) const DEFAULT_BACKOFF_COEFFICIENT: f64 = 2.0;
/// Default maximum interval, as a multiple of the initial interval.
pub(crate) const DEFAULT_MAXIMUM_INTERVAL_FACTOR: i64 = 100;

/// `policy` with Temporal's defaults filled in (initial 1 s, coefficient 2, maximum interval
/// 100 × initial, unlimited attempts), or why it is invalid.
pub(crate) fn with_defaults(policy: Option<&RetryPolicy>) -> Result<RetryPolicy, String> {
    let policy = policy.cloned().unwrap_or_default();
    let mut initial = duration_ms(
        policy.initial_interval.as_ref(),
        "retry_policy.initial_interval",
    )
    .map_err(|e| e.to_string())?;
    if initial == 0 {
        initial = DEFAULT_INITIAL_INTERVAL_MS;
    }
    let coefficient = match policy.backoff_coefficient {
        0.0 => DEFAULT_BACKOFF_COEFFICIENT,
        c if c >= 1.0 && c.is_finite() => c,
        c => {
            return Err(format!(
                "retry_policy.backoff_coefficient must be >= 1 (got {c})"
            ));
        }
    };
    let mut maximum = duration_ms(
        policy.maximum_interval.as_ref(),
        "retry_policy.maximum_interval",
    )
    .map_err(|e| e.to_string())?;
    if maximum == 0 {
        maximum = initial.saturating_mul(DEFAULT_MAXIMUM_INTERVAL_FACTOR);
    }
    if maximum < initial {
        return Err("retry_policy.maximum_interval must not be below initial_interval".into());
    }
    if policy.maximum_attempts < 0 {
        return Err("retry_policy.maximum_attempts must not be negative".into());
    }
    Ok(RetryPolicy {
        initial_interval: Some(duration(initial)),
        backoff_coefficient: coefficient,
        maximum_interval: Some(duration(maximum)),
        maximum_attempts: policy.maximum_attempts,
        non_retryable_error_types: policy.non_retryable_error_types,
    })
}

/// What to do after an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RetryDecision {
    /// Dispatch attempt + 1 after this many milliseconds.
    Retry { backoff_ms: i64 },
    /// No retry: the activity ends with this retry state.
    Final(RetryState),
}

/// Decides whether the current attempt of `info`, which failed with `failure` at `now`, is
/// retried.
pub(crate) fn decide(info: &ActivityInfo, failure: &Failure, now: i64) -> RetryDecision {
    let policy = info.retry_policy.clone().unwrap_or_default();
    if info.cancel_requested {
        return RetryDecision::Final(RetryState::CancelRequested);
    }
    if is_non_retryable(failure, &policy) {
        return RetryDecision::Final(RetryState::NonRetryableFailure);
    }
    if policy.maximum_attempts > 0 && info.attempt >= policy.maximum_attempts {
        return RetryDecision::Final(RetryState::MaximumAttemptsReached);
    }
    let backoff_ms = match next_retry_delay(failure) {
        0 => backoff_ms(&policy, info.attempt),
        delay => delay,
    };
    if info.schedule_to_close_ms() > 0 {
        let expiration = info
            .scheduled_ms()
            .saturating_add(info.schedule_to_close_ms());
        if now.saturating_add(backoff_ms) > expiration {
            return RetryDecision::Final(RetryState::Timeout);
        }
    }
    RetryDecision::Retry { backoff_ms }
}

/// initial × coefficient^(attempt − 1), capped at the maximum interval.
pub(crate) fn backoff_ms(policy: &RetryPolicy, attempt: i32) -> i64 {
    let initial = lenient_ms(policy.initial_interval.as_ref()).max(1);
    let maximum = lenient_ms(policy.maximum_interval.as_ref());
    let coefficient = if policy.backoff_coefficient >= 1.0 {
        policy.backoff_coefficient
    } else {
        DEFAULT_BACKOFF_COEFFICIENT
    };
    let exponent = attempt.saturating_sub(1).clamp(0, 1024);
    let raw = initial as f64 * coefficient.powi(exponent);
    let capped = if maximum > 0 {
        raw.min(maximum as f64)
    } else {
        raw
    };
    if capped.is_finite() && capped < i64::MAX as f64 {
        capped as i64
    } else {
        maximum.max(initial)
    }
}

/// The `next_retry_delay` an application failure asks for, ms; 0 = none.
pub(crate) fn next_retry_delay(failure: &Failure) -> i64 {
    match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) => {
            lenient_ms(info.next_retry_delay.as_ref())
        }
        _ => 0,
    }
}

fn is_non_retryable(failure: &Failure, policy: &RetryPolicy) -> bool {
    let listed = |ty: &str| policy.non_retryable_error_types.iter().any(|t| t == ty);
    match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) => {
            info.non_retryable || listed(&info.r#type)
        }
        Some(FailureInfo::TimeoutFailureInfo(info)) => {
            let name = TimeoutType::try_from(info.timeout_type)
                .map(timeout_name)
                .unwrap_or("Unspecified");
            listed(&format!("TemporalTimeout:{name}"))
        }
        Some(FailureInfo::ServerFailureInfo(info)) => info.non_retryable,
        _ => false,
    }
}

/// The short name Temporal uses for a timeout type ("StartToClose", ...).
pub(crate) fn timeout_name(ty: TimeoutType) -> &'static str {
    match ty {
        TimeoutType::StartToClose => "StartToClose",
        TimeoutType::ScheduleToStart => "ScheduleToStart",
        TimeoutType::ScheduleToClose => "ScheduleToClose",
        TimeoutType::Heartbeat => "Heartbeat",
        TimeoutType::Unspecified => "Unspecified",
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::failure::v1::{
        ApplicationFailureInfo, TimeoutFailureInfo,
    };

    use super::*;

    fn info(policy: RetryPolicy, attempt: i32) -> ActivityInfo {
        ActivityInfo {
            retry_policy: Some(policy),
            attempt,
            ..Default::default()
        }
    }

    fn app_failure(ty: &str, non_retryable: bool) -> Failure {
        Failure {
            message: "x".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: ty.into(),
                    non_retryable,
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_filled() {
        let p = with_defaults(None).unwrap();
        assert_eq!(p.initial_interval, Some(duration(1_000)));
        assert_eq!(p.backoff_coefficient, 2.0);
        assert_eq!(p.maximum_interval, Some(duration(100_000)));
        assert_eq!(p.maximum_attempts, 0);
        let bad = RetryPolicy {
            backoff_coefficient: 0.5,
            ..Default::default()
        };
        assert!(with_defaults(Some(&bad)).is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = with_defaults(None).unwrap();
        let got: Vec<_> = (1..=9).map(|a| backoff_ms(&p, a)).collect();
        assert_eq!(
            got,
            [
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 100_000, 100_000
            ]
        );
        assert_eq!(backoff_ms(&p, i32::MAX), 100_000);
    }

    #[test]
    fn decisions() {
        let p = with_defaults(None).unwrap();
        let f = app_failure("Boom", false);
        assert_eq!(
            decide(&info(p.clone(), 1), &f, 0),
            RetryDecision::Retry { backoff_ms: 1_000 }
        );
        assert_eq!(
            decide(&info(p.clone(), 1), &app_failure("Boom", true), 0),
            RetryDecision::Final(RetryState::NonRetryableFailure)
        );
        let listed = RetryPolicy {
            non_retryable_error_types: vec!["Boom".into(), "TemporalTimeout:StartToClose".into()],
            ..p
        };
        assert_eq!(
            decide(&info(listed.clone(), 1), &f, 0),
            RetryDecision::Final(RetryState::NonRetryableFailure)
        );
        let timeout = Failure {
            failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
                timeout_type: TimeoutType::StartToClose as i32,
                last_heartbeat_details: None,
            })),
            ..Default::default()
        };
        assert_eq!(
            decide(&info(listed, 1), &timeout, 0),
            RetryDecision::Final(RetryState::NonRetryableFailure)
        );
        let limited = RetryPolicy {
            maximum_attempts: 2,
            ..p.clone()
        };
        assert_eq!(
            decide(&info(limited, 2), &f, 0),
            RetryDecision::Final(RetryState::MaximumAttemptsReached)
        );
        let mut expiring = info(p.clone(), 1);
        expiring.schedule_to_close_timeout = Some(duration(500));
        assert_eq!(
            decide(&expiring, &f, 0),
            RetryDecision::Final(RetryState::Timeout)
        );
        let mut delayed = app_failure("Boom", false);
        if let Some(FailureInfo::ApplicationFailureInfo(a)) = delayed.failure_info.as_mut() {
            a.next_retry_delay = Some(duration(7_000));
        }
        assert_eq!(
            decide(&info(p, 3), &delayed, 0),
            RetryDecision::Retry { backoff_ms: 7_000 }
        );
    }
}
