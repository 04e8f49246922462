//! `-o text|json|jsonl` and the small pieces of text output: times, durations, aligned
//! key/value blocks, and sanitizing strings that come from the server.

use std::io::Write as _;

use clap::ValueEnum;
use prost_wkt_types::{Duration, Timestamp};
use serde_json::Value;

/// How results are printed.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Tables and timelines for people.
    Text,
    /// One pretty-printed JSON document.
    Json,
    /// One compact JSON object per line.
    Jsonl,
}

impl OutputFormat {
    /// Whether JSON is wanted (either form).
    pub(crate) fn is_json(self) -> bool {
        self != Self::Text
    }
}

/// Prints one JSON value in `format` (pretty for json, one line for jsonl).
pub(crate) fn json(format: OutputFormat, value: &Value) {
    let text = match format {
        OutputFormat::Json => serde_json::to_string_pretty(value),
        _ => serde_json::to_string(value),
    };
    // Serializing a `Value` cannot fail: its map keys are strings.
    line(&text.unwrap_or_default());
}

/// Prints a line to stdout and flushes it (so `--follow` output appears at once). A closed pipe
/// (`| head`) ends the program quietly instead of panicking.
pub(crate) fn line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    if let Err(err) = written {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {err}");
        std::process::exit(1);
    }
}

/// Prints `title` and then aligned `key  value` rows, indented (the `temporal` CLI's layout).
pub(crate) fn block(title: &str, rows: &[(&str, String)]) {
    line(title);
    let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in rows {
        line(&format!("  {key:width$}  {value}"));
    }
}

/// A timestamp for people: RFC 3339 in UTC with milliseconds; `-` when unset.
pub(crate) fn time(timestamp: Option<&Timestamp>) -> String {
    match timestamp {
        Some(ts) if ts.seconds != 0 || ts.nanos != 0 => {
            let mut ts = *ts;
            ts.nanos -= ts.nanos % 1_000_000;
            ts.to_string()
        }
        _ => "-".into(),
    }
}

/// A timestamp for JSON: RFC 3339 in full, or null.
pub(crate) fn time_json(timestamp: Option<&Timestamp>) -> Value {
    match timestamp {
        Some(ts) if ts.seconds != 0 || ts.nanos != 0 => Value::String(ts.to_string()),
        _ => Value::Null,
    }
}

/// A duration as proto3 JSON writes it (`90s`, `1.500s`); `-` when unset or zero.
pub(crate) fn duration(value: Option<&Duration>) -> String {
    match value {
        Some(d) if d.seconds != 0 || d.nanos != 0 => d.to_string(),
        _ => "-".into(),
    }
}

/// Text from the server, safe to print on a terminal: control characters (escape sequences,
/// carriage returns, newlines) are shown escaped instead of acting on the terminal.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// An enum's proto name without its type prefix (`WORKFLOW_EXECUTION_STATUS_RUNNING` →
/// `RUNNING`), as the `temporal` CLI shows statuses and states.
pub(crate) fn short_enum(proto_name: &str, prefix: &str) -> String {
    proto_name
        .strip_prefix(prefix)
        .unwrap_or(proto_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        let ts = Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        };
        assert_eq!(time(Some(&ts)), "2023-11-14T22:13:20.123Z");
        assert_eq!(time_json(Some(&ts)), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(time(None), "-");
        assert_eq!(
            duration(Some(&Duration {
                seconds: 90,
                nanos: 0
            })),
            "90s"
        );
        assert_eq!(duration(Some(&Duration::default())), "-");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("ok\x1b[31mred\r\n"), "ok\\u{1b}[31mred\\r\\n");
        assert_eq!(clean("héllo ✓"), "héllo ✓");
        assert_eq!(
            short_enum(
                "WORKFLOW_EXECUTION_STATUS_RUNNING",
                "WORKFLOW_EXECUTION_STATUS_"
            ),
            "RUNNING"
        );
    }
}
