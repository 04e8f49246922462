//! `temporal workflow reset` (the real CLI) against Lockstep: bad reset points are refused with
//! the server's message and change nothing; a good one creates a new current run from the
//! prefix with the later signals reapplied, and terminates the base run, which names the new
//! run in `describe`.

use lockstep_tests::DevServer;
use serde_json::Value;

use super::clients::temporal;

const WORKFLOW_ID: &str = "reset-cli";

/// Runs the CLI and returns its stdout, failing the test with its stderr if it failed.
fn ok(server: &DevServer, args: &[&str]) -> String {
    let output = temporal(server, true, args);
    assert!(
        output.status.success(),
        "temporal {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs the CLI, expects it to fail, and returns its stderr.
fn refused(server: &DevServer, args: &[&str]) -> String {
    let output = temporal(server, true, args);
    assert!(
        !output.status.success(),
        "temporal {args:?} must fail: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `temporal workflow <command> --workflow-id reset-cli --run-id <run_id> -o json`, parsed.
fn json(server: &DevServer, command: &str, run_id: &str) -> Value {
    let args = [
        "workflow",
        command,
        "--workflow-id",
        WORKFLOW_ID,
        "--run-id",
        run_id,
        "-o",
        "json",
    ];
    let stdout = ok(server, &args);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("JSON from {args:?}: {e}: {stdout}"))
}

/// The event types of a run (`temporal workflow show`), e.g. `WORKFLOW_TASK_FAILED`.
fn event_types(server: &DevServer, run_id: &str) -> Vec<String> {
    json(server, "show", run_id)["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let ty = e["eventType"].as_str().expect("eventType");
            ty.trim_start_matches("EVENT_TYPE_").to_string()
        })
        .collect()
}

fn describe(server: &DevServer, run_id: &str) -> Value {
    json(server, "describe", run_id)
}

fn reset(event_id: &str) -> Vec<&str> {
    vec![
        "workflow",
        "reset",
        "--workflow-id",
        WORKFLOW_ID,
        "--event-id",
        event_id,
        "--reason",
        "cli reset",
    ]
}

#[test]
fn temporal_cli_resets_a_workflow() {
    let server = DevServer::start();
    ok(
        &server,
        &[
            "workflow",
            "start",
            "--type",
            "Resettable",
            "--task-queue",
            "nobody",
            "--workflow-id",
            WORKFLOW_ID,
            "--input",
            "\"x\"",
        ],
    );
    for item in ["\"a\"", "\"b\""] {
        ok(
            &server,
            &[
                "workflow",
                "signal",
                "--workflow-id",
                WORKFLOW_ID,
                "--name",
                "add",
                "--input",
                item,
            ],
        );
    }
    let base = describe(&server, "")["workflowExecutionInfo"]["execution"]["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    let base_events = event_types(&server, &base);

    // No workflow task is pending before event 2; event 9 does not exist.
    let message = refused(&server, &reset("2"));
    assert!(
        message.contains("Can only reset workflow to event ID"),
        "{message}"
    );
    let message = refused(&server, &reset("9"));
    assert!(message.contains("must be > 1"), "{message}");
    assert_eq!(event_types(&server, &base), base_events, "nothing changed");

    // Event 3 (the first signal) follows the scheduled first workflow task.
    ok(&server, &reset("3"));
    let current = describe(&server, "");
    let new = current["workflowExecutionInfo"]["execution"]["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    assert_ne!(new, base, "the reset run is current");
    assert_eq!(
        current["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_RUNNING"
    );
    assert_eq!(
        event_types(&server, &new),
        [
            "WORKFLOW_EXECUTION_STARTED",
            "WORKFLOW_TASK_SCHEDULED",
            "WORKFLOW_TASK_STARTED",
            "WORKFLOW_TASK_FAILED",
            "WORKFLOW_EXECUTION_SIGNALED",
            "WORKFLOW_EXECUTION_SIGNALED",
            "WORKFLOW_TASK_SCHEDULED",
        ]
    );
    let old = describe(&server, &base);
    assert_eq!(
        old["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_TERMINATED"
    );
    assert_eq!(old["workflowExtendedInfo"]["resetRunId"], new.as_str());
    assert_eq!(
        event_types(&server, &base).last().map(String::as_str),
        Some("WORKFLOW_EXECUTION_TERMINATED")
    );
}
