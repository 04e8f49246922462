//! Durations on the command line, as the `temporal` CLI (Go's `time.ParseDuration`) takes them:
//! `90s`, `1m30s`, `1.5h`, `250ms`; plus `d` for days and a bare number for seconds.

use prost_wkt_types::Duration;

/// Parses a duration flag; a clap value parser.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration (examples: 30s, 1m30s, 2h, 500ms)");
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid());
    }
    if let Ok(seconds) = trimmed.parse::<u64>() {
        return to_proto(seconds as f64 * 1e9).ok_or_else(invalid);
    }
    let mut nanos = 0f64;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            _ => return Err(invalid()),
        };
        nanos += number * scale;
        rest = &rest[unit_len..];
    }
    to_proto(nanos).ok_or_else(invalid)
}

fn to_proto(nanos: f64) -> Option<Duration> {
    // Ten years is far beyond any timeout; it also keeps the arithmetic exact enough.
    if !nanos.is_finite() || !(0.0..=315_360_000e9).contains(&nanos) {
        return None;
    }
    let nanos = nanos.round() as u128;
    Some(Duration {
        seconds: i64::try_from(nanos / 1_000_000_000).ok()?,
        nanos: i32::try_from(nanos % 1_000_000_000).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(seconds: i64, nanos: i32) -> Duration {
        Duration { seconds, nanos }
    }

    #[test]
    fn go_style_durations() {
        assert_eq!(parse("90s"), Ok(d(90, 0)));
        assert_eq!(parse("1m30s"), Ok(d(90, 0)));
        assert_eq!(parse("1.5h"), Ok(d(5400, 0)));
        assert_eq!(parse("250ms"), Ok(d(0, 250_000_000)));
        assert_eq!(parse("2d"), Ok(d(172_800, 0)));
        assert_eq!(parse("45"), Ok(d(45, 0)));
        assert_eq!(parse("0s"), Ok(d(0, 0)));
        for bad in ["", "s", "10x", "1m30", "-5s", "1e9s", "99999999999h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
