//! `scale`: does Lockstep stay as fast when it already holds many closed executions? For each
//! stored count, a fresh data directory is seeded with that many closed one-activity workflows
//! (see `seed`), then `lockstep server start-dev` starts on it and one workload is measured as
//! `run` measures it. The figures that must stay flat are CPU per workflow and throughput;
//! start-up, idle RSS and data size show what the stored executions cost at rest.
//!
//! Only Lockstep is scaled: seeding the Temporal dev server takes its own RPC path at ~40
//! workflows/s (a million would take seven hours), so its figures come from `compare`.

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::run::{LoadArgs, RunReport, TargetName, print_report, run_once_on};

/// Options of `scale`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Closed executions stored before each measurement (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0,100000,1000000")]
    stored: Vec<usize>,
    #[command(flatten)]
    load: LoadArgs,
    /// Where the seeded data directories are made (each is removed after its measurement);
    /// a million stored executions take several GiB.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Print every run's own table too.
    #[arg(long)]
    verbose: bool,
    /// Also write every measurement as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// One stored count's measurement.
#[derive(Serialize)]
struct Step {
    stored: usize,
    seed_seconds: f64,
    run: RunReport,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let mut steps = Vec::new();
    for &stored in &args.stored {
        let dir = match &args.work_dir {
            Some(parent) => tempfile::tempdir_in(parent)?,
            None => tempfile::tempdir()?,
        };
        let data_dir = dir.path().join("data");
        let seed_time = crate::seed::seed_closed(&data_dir.join("db"), stored)
            .await
            .with_context(|| format!("seed {stored} closed executions"))?;
        eprintln!(
            "seeded {stored} closed executions in {:.1} s",
            seed_time.as_secs_f64()
        );
        let run = run_once_on(TargetName::Lockstep, &args.load, Some(&data_dir)).await?;
        if args.verbose {
            print_report(&run);
        }
        steps.push(Step {
            stored,
            seed_seconds: seed_time.as_secs_f64(),
            run,
        });
    }
    print_table(&args.load, &steps);
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&steps)? + "\n")
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

fn print_table(load: &LoadArgs, steps: &[Step]) {
    println!(
        "lockstep · {} · {} workflows, {} in flight, on data dirs holding N closed executions",
        load.workload.name(),
        load.count,
        load.concurrency
    );
    println!(
        "| stored N | throughput [wf/s] | server CPU per workflow [ms] | p50 [ms] | start-up [ms] | idle RSS [MiB] | peak RSS [MiB] | data dir [MiB] | seeding [s] |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for step in steps {
        let r = &step.run;
        println!(
            "| {} | {:.1} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |",
            step.stored,
            r.workflows_per_second,
            r.server_cpu_ms_per_workflow,
            r.latency.p50_ms,
            r.startup_ms,
            r.server_idle_rss_mib,
            r.server_peak_rss_mib,
            r.data_dir_mib,
            step.seed_seconds
        );
    }
    if let (Some(first), Some(last)) = (steps.first(), steps.last()) {
        let base = first.run.server_cpu_ms_per_workflow;
        if base > 0.0 {
            println!(
                "CPU per workflow at N = {} is {:.2}× the one at N = {}",
                last.stored,
                last.run.server_cpu_ms_per_workflow / base,
                first.stored
            );
        }
    }
}
