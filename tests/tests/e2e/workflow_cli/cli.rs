//! Running `lockstep workflow …` as the dev `admin` principal, and reading its text output.

use std::{net::SocketAddr, path::PathBuf, process::Output, process::Stdio};

use lockstep_tests::{DevServer, tools::lockstep_bin};
use tempfile::TempDir;

/// The `lockstep workflow` command line for one server, as the dev `admin` principal.
pub(super) struct Cli {
    addr: SocketAddr,
    certs: PathBuf,
    /// An empty HOME/XDG_DATA_HOME, so no dev certificate is picked up by accident.
    home: TempDir,
}

impl Cli {
    pub(super) fn new(server: &DevServer) -> Self {
        Self {
            addr: server.addr(),
            certs: server.certs_dir(),
            home: tempfile::tempdir().expect("temp home"),
        }
    }

    /// `lockstep workflow ARGS` with no connection flags and a clean environment.
    pub(super) fn bare(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(lockstep_bin());
        command.arg("workflow").args(args);
        for var in [
            "TEMPORAL_ADDRESS",
            "TEMPORAL_NAMESPACE",
            "TEMPORAL_TLS_CLIENT_CERT_PATH",
            "TEMPORAL_TLS_CLIENT_KEY_PATH",
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
            "TEMPORAL_TLS_SERVER_NAME",
            "TEMPORAL_CODEC_ENDPOINT",
            "TEMPORAL_CODEC_AUTH",
            "LOCKSTEP_DEV_DIR",
            "LOCKSTEP_CODEC_CA_PATH",
        ] {
            command.env_remove(var);
        }
        command
            .env("HOME", self.home.path())
            .env("XDG_DATA_HOME", self.home.path())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// `lockstep workflow ARGS` with the address and the admin certificate flags.
    pub(super) fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = self.bare(args);
        command
            .arg("--address")
            .arg(self.addr.to_string())
            .arg("--tls-cert-path")
            .arg(self.certs.join("admin.pem"))
            .arg("--tls-key-path")
            .arg(self.certs.join("admin-key.pem"))
            .arg("--tls-ca-path")
            .arg(self.certs.join("ca.pem"));
        command
    }

    pub(super) async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("run lockstep")
    }

    /// Runs and expects success; returns stdout.
    pub(super) async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert_success(&output, args);
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    /// Runs and expects failure; returns stdout and stderr.
    pub(super) async fn fails(&self, args: &[&str]) -> (String, String) {
        let output = self.run(args).await;
        assert!(
            !output.status.success(),
            "{args:?} should fail: {}",
            text(&output)
        );
        (
            String::from_utf8(output.stdout).expect("utf-8"),
            String::from_utf8(output.stderr).expect("utf-8"),
        )
    }
}

pub(super) fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub(super) fn assert_success(output: &Output, args: &[&str]) {
    assert!(output.status.success(), "{args:?} failed: {}", text(output));
}

/// The TYPE column of a `show` timeline.
pub(super) fn timeline_types(show: &str) -> Vec<String> {
    let mut lines = show.lines();
    let header = lines.next().expect("a header line");
    assert!(
        header.contains("TYPE") && header.contains("DETAILS"),
        "{header}"
    );
    lines
        .map(|line| {
            line.split_whitespace()
                .nth(2)
                .expect("id, time, type")
                .to_string()
        })
        .collect()
}

/// The row of `show` output for an event type.
pub(super) fn row<'a>(show: &'a str, event_type: &str) -> &'a str {
    show.lines()
        .find(|line| line.split_whitespace().nth(2) == Some(event_type))
        .unwrap_or_else(|| panic!("no {event_type} in\n{show}"))
}

/// The value of `key` in a `key  value` block (describe, start, result).
pub(super) fn field<'a>(block: &'a str, key: &str) -> &'a str {
    block
        .lines()
        .find_map(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix(key)?;
            rest.starts_with(' ').then(|| rest.trim())
        })
        .unwrap_or_else(|| panic!("no {key} in\n{block}"))
}
