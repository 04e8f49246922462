//! The audit log: one JSON line per request — who, which namespace, which endpoint, how many
//! payloads, which key ids, what happened. Never payload data, plaintext or tokens: a record is
//! built only from the fields below, none of which can hold them.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    net::SocketAddr,
    path::Path,
    sync::Mutex,
};

use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Longest namespace or path recorded, in characters (they come from the client).
const MAX_FIELD_CHARS: usize = 256;

/// How the principal was authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthMethod {
    /// A verified client certificate.
    Mtls,
    /// A bearer token (valid or not: `principal` is null when it was refused).
    Bearer,
}

/// One audit line.
#[derive(Debug, Default, Serialize)]
pub(crate) struct AuditRecord {
    /// RFC 3339, UTC.
    pub(crate) time: String,
    /// The client's address.
    pub(crate) remote: String,
    /// The authenticated principal, if any.
    pub(crate) principal: Option<String>,
    /// How the client authenticated, or tried to.
    pub(crate) auth: Option<AuthMethod>,
    /// The `X-Namespace` value, when well-formed.
    pub(crate) namespace: Option<String>,
    /// `decode`, `encode`, `preflight` or `other`.
    pub(crate) endpoint: &'static str,
    /// The request path, without its query string (which could hold a token).
    pub(crate) path: String,
    /// Payloads in the request, once parsed.
    pub(crate) payloads: Option<usize>,
    /// Distinct `encryption-key-id` values seen (decode: the request's, encode: the response's).
    pub(crate) key_ids: Vec<String>,
    /// The HTTP status sent.
    pub(crate) status: u16,
    /// A short word for what happened: `ok`, `unauthenticated`, `forbidden`, …
    pub(crate) outcome: &'static str,
    /// Why it was refused, in our own words (never quoting the request).
    pub(crate) reason: Option<String>,
}

impl AuditRecord {
    /// A record for a request from `remote` to `path`, stamped now.
    pub(crate) fn new(remote: SocketAddr, path: &str) -> Self {
        Self {
            time: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            remote: remote.to_string(),
            path: truncate(path),
            endpoint: "other",
            ..Self::default()
        }
    }

    /// Records the namespace, cut to a bounded length.
    pub(crate) fn set_namespace(&mut self, namespace: &str) {
        self.namespace = Some(truncate(namespace));
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_FIELD_CHARS).collect()
}

/// The append-only audit file.
pub(crate) struct AuditLog {
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (creating with mode 0600) `path` for appending.
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        Ok(Self {
            file: Mutex::new(options.open(path)?),
        })
    }

    /// Appends one line. Blocking: call it off the async runtime.
    pub(crate) fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        // One write_all per line under the lock, so lines never interleave.
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        let mut record = AuditRecord::new("127.0.0.1:1".parse().unwrap(), &"p".repeat(1000));
        record.set_namespace("ns\n\"x");
        record.status = 401;
        record.outcome = "unauthenticated";
        log.append(&record).unwrap();
        log.append(&record).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["namespace"], "ns\n\"x");
        assert_eq!(lines[0]["principal"], serde_json::Value::Null);
        assert_eq!(lines[0]["path"].as_str().unwrap().len(), MAX_FIELD_CHARS);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
