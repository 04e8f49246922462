//! `compare`: the same workload on Lockstep and on the Temporal dev server, side by side in one
//! invocation. After one discarded warm-up run of each, every round runs Lockstep then Temporal;
//! each figure is reported as the median (min–max) per server and the ratio of the medians.

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::run::{LoadArgs, RunReport, TargetName, or_default, print_report, run_once};

/// Options of `compare`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    load: LoadArgs,
    /// Measured rounds (each: one Lockstep run, then one Temporal run).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Skip the discarded warm-up round.
    #[arg(long)]
    no_warmup_round: bool,
    /// Print every run's own table too.
    #[arg(long)]
    verbose: bool,
    /// Also write the comparison (summary and every run) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Median, min and max of one figure over the rounds.
#[derive(Clone, Copy, Debug, Serialize)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Spread {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Spread {
            median,
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// One figure of the comparison.
#[derive(Debug, Serialize)]
struct Figure {
    name: &'static str,
    unit: &'static str,
    /// Whether a higher value is better (throughput) or worse (everything else).
    higher_is_better: bool,
    lockstep: Spread,
    temporal: Spread,
    /// lockstep median / temporal median.
    ratio: f64,
}

#[derive(Serialize)]
struct Comparison<'a> {
    workload: &'static str,
    count: usize,
    concurrency: usize,
    worker_slots: Option<usize>,
    worker_pollers: Option<usize>,
    rounds: usize,
    figures: Vec<Figure>,
    lockstep_runs: &'a [RunReport],
    temporal_runs: &'a [RunReport],
}

type Extract = fn(&RunReport) -> f64;

/// The figures compared: name, unit, higher is better, how to read it from a run.
const FIGURES: [(&str, &str, bool, Extract); 14] = [
    ("throughput", "wf/s", true, |r| r.workflows_per_second),
    ("latency p50", "ms", false, |r| r.latency.p50_ms),
    ("latency p95", "ms", false, |r| r.latency.p95_ms),
    ("latency p99", "ms", false, |r| r.latency.p99_ms),
    ("server CPU", "s", false, |r| r.server_cpu_seconds),
    ("server CPU per wf", "ms", false, |r| {
        r.server_cpu_ms_per_workflow
    }),
    ("driver CPU", "s", false, |r| r.driver_cpu_seconds),
    ("machine busy", "cores", false, |r| r.machine_busy_cores),
    ("other programs", "cores", false, |r| r.other_busy_cores),
    ("server peak RSS", "MiB", false, |r| r.server_peak_rss_mib),
    ("server idle RSS", "MiB", false, |r| r.server_idle_rss_mib),
    ("start-up", "ms", false, |r| r.startup_ms),
    ("data dir", "MiB", false, |r| r.data_dir_mib),
    ("errors", "", false, |r| r.errors as f64),
];

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let load = &args.load;
    let total = args.rounds + usize::from(!args.no_warmup_round);
    let mut lockstep = Vec::new();
    let mut temporal = Vec::new();
    for round in 0..total {
        let warmup = !args.no_warmup_round && round == 0;
        let label = if warmup {
            "warm-up round (discarded)".to_string()
        } else {
            format!(
                "round {}/{}",
                round + usize::from(args.no_warmup_round),
                args.rounds
            )
        };
        for target in [TargetName::Lockstep, TargetName::Temporal] {
            eprintln!("{label}: {} …", target.name());
            let report = run_once(target, load)
                .await
                .with_context(|| format!("{label}: {}", target.name()))?;
            eprintln!(
                "{label}: {}: {}/{} completed, {:.1} wf/s, p50 {:.1} ms, server CPU {:.2} s",
                target.name(),
                report.completed,
                report.count,
                report.workflows_per_second,
                report.latency.p50_ms,
                report.server_cpu_seconds
            );
            if args.verbose {
                print_report(&report);
            }
            if !warmup {
                match target {
                    TargetName::Lockstep => lockstep.push(report),
                    TargetName::Temporal => temporal.push(report),
                }
            }
        }
    }

    let figures: Vec<Figure> = FIGURES
        .iter()
        .map(|(name, unit, higher_is_better, extract)| {
            let l = Spread::of(&lockstep.iter().map(extract).collect::<Vec<_>>());
            let t = Spread::of(&temporal.iter().map(extract).collect::<Vec<_>>());
            Figure {
                name,
                unit,
                higher_is_better: *higher_is_better,
                lockstep: l,
                temporal: t,
                ratio: l.median / t.median,
            }
        })
        .collect();

    println!(
        "compare · {} · {} workflows, {} in flight, worker slots {}, pollers {} · {} rounds \
         (median, min–max)",
        load.workload.name(),
        load.count,
        load.concurrency,
        or_default(load.worker_slots),
        or_default(load.worker_pollers),
        args.rounds
    );
    println!(
        "  {:<20} {:>28} {:>28} {:>10}",
        "figure", "lockstep", "temporal", "L/T"
    );
    for figure in &figures {
        let cell = |s: &Spread| {
            format!(
                "{} ({}–{})",
                fmt_value(s.median),
                fmt_value(s.min),
                fmt_value(s.max)
            )
        };
        let name = if figure.unit.is_empty() {
            figure.name.to_string()
        } else {
            format!("{} [{}]", figure.name, figure.unit)
        };
        let ratio = if figure.ratio.is_finite() {
            format!("{:.2}×", figure.ratio)
        } else {
            "–".to_string()
        };
        println!(
            "  {name:<20} {:>28} {:>28} {ratio:>10}",
            cell(&figure.lockstep),
            cell(&figure.temporal)
        );
    }
    println!("  (L/T < 1 is better for Lockstep on every figure except throughput)");

    if let Some(path) = &args.json {
        let comparison = Comparison {
            workload: load.workload.name(),
            count: load.count,
            concurrency: load.concurrency,
            worker_slots: load.worker_slots,
            worker_pollers: load.worker_pollers,
            rounds: args.rounds,
            figures,
            lockstep_runs: &lockstep,
            temporal_runs: &temporal,
        };
        std::fs::write(path, serde_json::to_string_pretty(&comparison)? + "\n")
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// About three significant digits: 1234, 123, 12.3, 1.23.
fn fmt_value(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}
