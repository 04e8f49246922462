//! Time inside the engine is `i64` unix milliseconds (durations too); these convert to and from
//! the protobuf well-known types without ever panicking on hostile input.

use prost_wkt_types::{Duration, Timestamp};

use super::EngineError;

/// Milliseconds → `Timestamp`.
pub(crate) fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        // rem_euclid(1000) is in 0..1000, so the product fits an i32.
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds → `Some(Timestamp)`, or `None` for 0 ("not set").
pub(crate) fn opt_timestamp(ms: i64) -> Option<Timestamp> {
    (ms != 0).then(|| timestamp(ms))
}

/// `Timestamp` → milliseconds (0 when unset; saturating).
pub(crate) fn ms(value: Option<&Timestamp>) -> i64 {
    value.map_or(0, |t| {
        t.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(t.nanos.clamp(0, 999_999_999) / 1_000_000))
    })
}

/// Milliseconds → `Duration`.
pub(crate) fn duration(ms: i64) -> Duration {
    Duration {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds → `Some(Duration)`, or `None` for 0 ("not set" / infinite).
pub(crate) fn opt_duration(ms: i64) -> Option<Duration> {
    (ms > 0).then(|| duration(ms))
}

/// A request duration → milliseconds (0 when unset). Negative or malformed durations are
/// refused with a message naming `field`. Sub-millisecond remainders round down; huge values
/// saturate.
pub(crate) fn duration_ms(value: Option<&Duration>, field: &str) -> Result<i64, EngineError> {
    let Some(d) = value else { return Ok(0) };
    if d.seconds < 0 || d.nanos < 0 || d.nanos >= 1_000_000_000 {
        return Err(EngineError::invalid(format!(
            "{field} must be a non-negative duration (got {}s {}ns)",
            d.seconds, d.nanos
        )));
    }
    Ok(d.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(d.nanos / 1_000_000)))
}

/// A duration that is not validated (from our own state or a failure the worker sent):
/// negative or malformed values count as 0.
pub(crate) fn lenient_ms(value: Option<&Duration>) -> i64 {
    duration_ms(value, "").unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for ms in [0, 1, 999, 1000, 1_700_000_000_123, -1, -1001] {
            let d = duration(ms.max(0));
            assert_eq!(duration_ms(Some(&d), "x").unwrap(), ms.max(0));
            let t = timestamp(ms);
            assert_eq!(t.seconds * 1000 + i64::from(t.nanos / 1_000_000), ms);
        }
    }

    #[test]
    fn rejects_negative_and_saturates() {
        let bad = Duration {
            seconds: -1,
            nanos: 0,
        };
        assert!(matches!(
            duration_ms(Some(&bad), "timeout"),
            Err(EngineError::InvalidArgument(m)) if m.contains("timeout")
        ));
        let huge = Duration {
            seconds: i64::MAX,
            nanos: 999_999_999,
        };
        assert_eq!(duration_ms(Some(&huge), "x").unwrap(), i64::MAX);
        assert_eq!(lenient_ms(Some(&bad)), 0);
        assert_eq!(opt_duration(0), None);
    }
}
