//! Cron schedules in Temporal's syntax (robfig/cron's "standard" parser): five fields
//! (minute hour day-of-month month day-of-week, with `*`, `?`, lists, ranges, steps and
//! JAN…DEC / SUN…SAT names), the descriptors `@yearly` `@annually` `@monthly` `@weekly`
//! `@daily` `@midnight` `@hourly`, `@every <duration>` (Go syntax: `90s`, `1h30m`, at least
//! 1 s, whole seconds), and an optional `CRON_TZ=<zone> ` or `TZ=<zone> ` prefix (IANA names,
//! from jiff's bundled database; UTC by default). Fields are evaluated by `croner`; the syntax
//! it accepts beyond robfig's (seconds, years, `L`, `W`, `#`) is refused here.
//!
//! [`CronSchedule::backoff_ms`] is Temporal's `GetBackoffForNextSchedule`: the next schedule
//! time after the run's scheduled time that is not before now, rounded up to whole seconds.

use croner::{
    Cron,
    parser::{CronParser, Seconds, Year},
};
use jiff::{Timestamp, Zoned, tz::TimeZone};

/// A parsed cron schedule.
#[derive(Clone, Debug)]
pub(crate) struct CronSchedule {
    zone: TimeZone,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// `@every`: a constant delay in whole seconds, ms.
    Every(i64),
    /// Five fields (or a descriptor).
    Fields(Box<Cron>),
}

impl CronSchedule {
    /// Parses `text`, or says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut spec = text.trim();
        let mut zone = TimeZone::UTC;
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (name, rest) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| format!("{prefix}<zone> must be followed by a schedule"))?;
                zone = TimeZone::get(name).map_err(|_| format!("unknown time zone {name:?}"))?;
                spec = rest.trim();
                break;
            }
        }
        let kind = if let Some(every) = spec.strip_prefix("@every") {
            let ms = go_duration_ms(every.trim()).ok_or_else(|| {
                format!("@every needs a duration such as 90s or 1h30m (got {every:?})")
            })?;
            // robfig/cron: at least one second, whole seconds.
            Kind::Every((ms.max(1_000) / 1_000) * 1_000)
        } else {
            Kind::Fields(Box::new(parse_fields(spec)?))
        };
        Ok(CronSchedule { zone, kind })
    }

    /// The first schedule time strictly after `after` (unix ms), if there is one.
    fn next_after(&self, after: i64) -> Option<i64> {
        match &self.kind {
            Kind::Every(delay) => Some(
                after
                    .div_euclid(1_000)
                    .saturating_mul(1_000)
                    .saturating_add(*delay),
            ),
            Kind::Fields(cron) => self.occurrence(cron, after, false),
        }
    }

    /// The first schedule time at or after `now` in the sequence that continues from the
    /// schedule time `previous` (< `now`): what stepping with [`Self::next_after`] reaches, in
    /// one step (a chain that was late for days must not walk every missed slot).
    fn first_not_before(&self, previous: i64, now: i64) -> Option<i64> {
        match &self.kind {
            Kind::Every(delay) => {
                let steps = now.saturating_sub(previous).saturating_add(delay - 1) / delay;
                Some(previous.saturating_add(steps.saturating_mul(*delay)))
            }
            Kind::Fields(cron) => self.occurrence(cron, now, true),
        }
    }

    fn occurrence(&self, cron: &Cron, from: i64, inclusive: bool) -> Option<i64> {
        let at = Timestamp::from_millisecond(from)
            .ok()?
            .to_zoned(self.zone.clone());
        let next: Zoned = cron.find_next_occurrence(&at, inclusive).ok()?;
        Some(next.timestamp().as_millisecond())
    }

    /// The backoff (ms, whole seconds) from `now` to the next schedule time of a chain whose
    /// current run was scheduled for `scheduled`; `None` when no time satisfies the schedule.
    pub(crate) fn backoff_ms(&self, scheduled: i64, now: i64) -> Option<i64> {
        let next = if now < scheduled {
            scheduled
        } else {
            match self.next_after(scheduled)? {
                next if next >= now => next,
                next => self.first_not_before(next, now)?,
            }
        };
        let backoff = next.saturating_sub(now).max(0);
        Some(backoff.saturating_add(999) / 1_000 * 1_000)
    }
}

/// Five fields or a descriptor, in robfig's standard syntax only.
fn parse_fields(spec: &str) -> Result<Cron, String> {
    let spec = if spec.eq_ignore_ascii_case("@midnight") {
        "@daily"
    } else {
        spec
    };
    if spec.starts_with('@') {
        let known = [
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@hourly",
        ];
        if !known.iter().any(|d| d.eq_ignore_ascii_case(spec)) {
            return Err(format!("unknown descriptor {spec:?}"));
        }
    } else {
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), got {}",
                fields.len()
            ));
        }
        for field in fields {
            let plain = field
                .split([',', '-', '/'])
                .all(|t| t == "*" || t == "?" || is_number_or_name(t));
            if !plain {
                return Err(format!("field {field:?} is not valid cron syntax"));
            }
        }
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    parser.parse(spec).map_err(|e| e.to_string())
}

fn is_number_or_name(token: &str) -> bool {
    !token.is_empty()
        && (token.bytes().all(|b| b.is_ascii_digit())
            || (token.len() == 3 && token.bytes().all(|b| b.is_ascii_alphabetic())))
}

/// A Go `time.ParseDuration` string (`1h30m`, `2.5s`, `500ms`) → ms; `None` if malformed or
/// negative.
fn go_duration_ms(text: &str) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    if text == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let ms_per_unit = match &rest[..unit_len] {
            "ns" => 1e-6,
            "us" | "µs" | "μs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3_600e3,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * ms_per_unit;
    }
    (total.is_finite() && total < i64::MAX as f64).then_some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-11-14T22:13:20Z.
    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn every_rounds_to_whole_seconds_and_follows_the_previous_time() {
        let s = CronSchedule::parse("@every 2s").unwrap();
        assert_eq!(s.next_after(T0 + 300), Some(T0 + 2_000));
        // First run: scheduled = now.
        assert_eq!(s.backoff_ms(T0 + 300, T0 + 300), Some(2_000));
        // A run scheduled at T0 that closed at T0 + 4.5 s: the next slot not before now.
        assert_eq!(s.backoff_ms(T0, T0 + 4_500), Some(2_000));
        // Days late: one step to the first slot not before now (T0 + 86 400 s exactly).
        assert_eq!(s.backoff_ms(T0, T0 + 86_400_000), Some(0));
        assert_eq!(s.backoff_ms(T0, T0 + 86_400_001), Some(2_000));
        let huge = CronSchedule::parse(&format!("@every {}h", i64::MAX / 3_600_000)).unwrap();
        assert!(huge.backoff_ms(T0, T0).is_some());
        let short = CronSchedule::parse("@every 100ms").unwrap();
        assert_eq!(short.backoff_ms(T0, T0), Some(1_000));
        assert_eq!(go_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(go_duration_ms("1.5s"), Some(1_500));
    }

    #[test]
    fn fields_and_descriptors() {
        let hourly = CronSchedule::parse("@hourly").unwrap();
        // T0 is 22:13:20 UTC: next hour at 23:00:00.
        assert_eq!(hourly.backoff_ms(T0, T0), Some(46 * 60_000 + 40_000));
        let five = CronSchedule::parse("*/15 * * * *").unwrap();
        assert_eq!(five.backoff_ms(T0, T0), Some(60_000 + 40_000));
        // A minute schedule a year late lands on the next minute at once (…:13:21 → …:14:00).
        let minutely = CronSchedule::parse("* * * * *").unwrap();
        assert_eq!(
            minutely.backoff_ms(T0, T0 + 366 * 86_400_000 + 1_000),
            Some(39_000)
        );
        let named = CronSchedule::parse("0 9 * JAN-MAR MON-FRI").unwrap();
        assert!(named.backoff_ms(T0, T0).is_some());
        assert!(CronSchedule::parse("@midnight").is_ok());
    }

    #[test]
    fn time_zones_shift_the_schedule() {
        let utc = CronSchedule::parse("0 0 * * *").unwrap();
        let tokyo = CronSchedule::parse("CRON_TZ=Asia/Tokyo 0 0 * * *").unwrap();
        let (u, t) = (
            utc.backoff_ms(T0, T0).unwrap(),
            tokyo.backoff_ms(T0, T0).unwrap(),
        );
        // Tokyo midnight is 15:00 UTC: 16 h 46 m 40 s after 22:13:20, UTC midnight 1 h 46 m 40 s.
        assert_eq!((u, t), (6_400_000, 60_400_000));
    }

    #[test]
    fn refuses_what_temporal_refuses() {
        for bad in [
            "",
            "* * * *",
            "0 * * * * *",
            "61 * * * *",
            "L * * * *",
            "0 0 1W * *",
            "@every",
            "@every soon",
            "@often",
            "CRON_TZ=Mars/Olympus 0 0 * * *",
            "CRON_TZ=UTC",
        ] {
            assert!(CronSchedule::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
