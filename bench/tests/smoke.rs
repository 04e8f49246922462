//! Smoke tests of `lockstep-bench`: a handful of workflows against the debug `lockstep`
//! binary, checking that every one completes and the JSON report is written. Counts only — no
//! timing is asserted (performance figures live in the benchmark's output, not in tests).

use std::{path::Path, process::Command};

/// Runs `lockstep-bench` with `args` plus the debug binary and a JSON report in `dir`; returns
/// the report and stdout, after asserting that it succeeded.
fn bench(dir: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let json = dir.join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep-bench"))
        .args(args)
        .args(["--warmup", "0", "--idle-secs", "0", "--timeout-secs", "60"])
        .arg("--lockstep")
        .arg(lockstep_tests::tools::lockstep_bin())
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run lockstep-bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "lockstep-bench {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let report =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report is written"))
            .expect("the report is JSON");
    (report, stdout)
}

/// Every workflow of a run's report completed, without errors, with its figures present.
fn assert_complete(report: &serde_json::Value, workload: &str, count: u64) {
    assert_eq!(report["target"], "lockstep", "{report:#}");
    assert_eq!(report["workload"], workload, "{report:#}");
    assert_eq!(report["completed"], count, "{report:#}");
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
}

#[test]
fn run_against_lockstep_completes_every_workflow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (report, stdout) = bench(
        dir.path(),
        &[
            "run",
            "--target",
            "lockstep",
            "--workload",
            "one-activity",
            "--count",
            "5",
            "--concurrency",
            "2",
        ],
    );
    assert_complete(&report, "one-activity", 5);
    assert!(stdout.contains("completed / errors"), "{stdout}");
}

/// The long-history workload: each workflow runs its activities one after another.
#[test]
fn steps_workload_completes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (report, _) = bench(
        dir.path(),
        &[
            "run",
            "--target",
            "lockstep",
            "--workload",
            "steps",
            "--steps",
            "3",
            "--count",
            "2",
            "--concurrency",
            "2",
        ],
    );
    assert_complete(&report, "steps", 2);
}

/// `scale` seeds a data dir, then the server must open it (the seeder has let go of it).
#[test]
fn scale_measures_on_seeded_data_dirs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("work dir");
    let work = work.to_str().expect("utf-8 temp path");
    let (report, stdout) = bench(
        dir.path(),
        &[
            "scale",
            "--stored",
            "0,20",
            "--count",
            "5",
            "--concurrency",
            "2",
            "--work-dir",
            work,
        ],
    );
    let steps = report.as_array().expect("one entry per stored count");
    assert_eq!(steps.len(), 2, "{report:#}");
    for (step, stored) in steps.iter().zip([0, 20]) {
        assert_eq!(step["stored"], stored, "{report:#}");
        assert_complete(&step["run"], "one-activity", 5);
    }
    assert!(stdout.contains("closed executions"), "{stdout}");
}
