//! Smoke test of `lockstep-bench run`: a handful of workflows against the debug `lockstep`
//! binary, checking that every one completes and the JSON report is written. Counts only — no
//! timing is asserted (performance figures live in the benchmark's output, not in tests).

use std::process::Command;

#[test]
fn run_against_lockstep_completes_every_workflow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("run.json");
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep-bench"))
        .args(["run", "--target", "lockstep", "--workload", "one-activity"])
        .args(["--count", "5", "--concurrency", "2", "--warmup", "0"])
        .args(["--idle-secs", "0", "--timeout-secs", "60"])
        .arg("--lockstep")
        .arg(lockstep_tests::tools::lockstep_bin())
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run lockstep-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "lockstep-bench run failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report is written"))
            .expect("the report is JSON");
    assert_eq!(report["target"], "lockstep", "{report:#}");
    assert_eq!(report["workload"], "one-activity", "{report:#}");
    assert_eq!(report["completed"], 5, "{report:#}");
    assert_eq!(report["errors"], 0, "{report:#}");
    for figure in [
        "workflows_per_second",
        "server_cpu_seconds",
        "server_peak_rss_mib",
        "startup_ms",
        "data_dir_mib",
    ] {
        assert!(report[figure].is_number(), "{figure} missing: {report:#}");
    }
    assert!(stdout.contains("completed / errors"), "{stdout}");
}
