//! `run`: one server, one workload, N workflows with C in flight, driven by the official Rust
//! SDK (an in-process worker and client). Reports throughput, end-to-end latency, the server's
//! CPU and memory, start-up time and data size.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use lockstep_tests::sdk::{
    WorkerHandle, client, run_worker_with, try_connect,
    workflows::{CountSignalsWorkflow, EchoWorkflow, OneActivityWorkflow, SleepWorkflow},
};
use serde::{Deserialize, Serialize};
use temporalio_client::{
    Client, WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_sdk::runtime::{
    PollerBehavior,
    worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
};
use tokio::task::JoinSet;

use crate::{
    procfs::{self, MachineCpu},
    servers::{Server, ServerKind},
    workflows::ManyStepsWorkflow,
};

/// How many signals the `signals` workload sends to each workflow.
pub(crate) const SIGNALS_PER_WORKFLOW: u32 = 10;
/// The durable timer of the `timer` workload.
pub(crate) const TIMER: Duration = Duration::from_secs(1);

/// Which server `run` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TargetName {
    /// `lockstep server start-dev` (mTLS, sled).
    Lockstep,
    /// `temporal server start-dev` (plaintext, SQLite file).
    Temporal,
}

/// What each workflow does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Workload {
    /// `OneActivityWorkflow`: one `greet` activity, then complete.
    OneActivity,
    /// `EchoWorkflow`: complete in the first workflow task with the input.
    NoActivity,
    /// `SleepWorkflow`: one durable 1 s timer, then complete.
    Timer,
    /// `CountSignalsWorkflow`: the driver sends 10 signals, one after another; the workflow
    /// completes after the 10th.
    Signals,
    /// `ManyStepsWorkflow`: `--steps` `greet` activities one after another (six history events
    /// each: 1,666 steps make a history of 10,000 events).
    Steps,
}

impl Workload {
    /// The name used on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::OneActivity => "one-activity",
            Workload::NoActivity => "no-activity",
            Workload::Timer => "timer",
            Workload::Signals => "signals",
            Workload::Steps => "steps",
        }
    }
}

/// The shape of a measured run.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct LoadArgs {
    /// What each workflow does.
    #[arg(long, value_enum, default_value_t = Workload::OneActivity)]
    pub(crate) workload: Workload,
    /// How many workflows to measure.
    #[arg(long, default_value_t = 1000)]
    pub(crate) count: usize,
    /// How many workflows to keep in flight (started, result not yet received).
    #[arg(long, default_value_t = 100)]
    pub(crate) concurrency: usize,
    /// Workflow-task and activity-task slots of the SDK worker [default: the SDK's, 100 each].
    #[arg(long, value_name = "S")]
    pub(crate) worker_slots: Option<usize>,
    /// Workflow-task and activity-task pollers of the SDK worker (a fixed maximum each)
    /// [default: the SDK's: 5 each, or autoscaling when the server advertises it].
    #[arg(long, value_name = "P")]
    pub(crate) worker_pollers: Option<usize>,
    /// Workflows run (and not counted) before the measured phase, to warm up connections,
    /// pollers and caches.
    #[arg(long, default_value_t = 10)]
    pub(crate) warmup: usize,
    /// Seconds the server idles after start-up before its idle RSS is read.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) idle_secs: f64,
    /// Seconds one workflow (start → result) may take before it counts as an error.
    #[arg(long, default_value_t = 120)]
    pub(crate) timeout_secs: u64,
    /// Activities per workflow of the `steps` workload.
    #[arg(long, default_value_t = 1666)]
    pub(crate) steps: u32,
    /// The lockstep binary.
    #[arg(long, default_value = "target/release/lockstep")]
    pub(crate) lockstep: PathBuf,
}

/// Options of `run`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The server to measure (started and killed by this command).
    #[arg(long, value_enum)]
    target: TargetName,
    #[command(flatten)]
    load: LoadArgs,
    /// Also write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Latency {
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

/// What one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RunReport {
    pub(crate) target: TargetName,
    pub(crate) workload: Workload,
    pub(crate) count: usize,
    pub(crate) concurrency: usize,
    /// `null`: the SDK's default slots.
    pub(crate) worker_slots: Option<usize>,
    /// `null`: the SDK's default pollers.
    pub(crate) worker_pollers: Option<usize>,
    pub(crate) warmup: usize,
    /// Workflows whose result arrived (and was the expected one).
    pub(crate) completed: usize,
    /// Workflows that failed to start, signal, complete, or timed out.
    pub(crate) errors: usize,
    /// The first error, if any.
    pub(crate) first_error: Option<String>,
    /// Wall time of the measured phase (first start → last result).
    pub(crate) wall_seconds: f64,
    /// Completed workflows per second of the measured phase.
    pub(crate) workflows_per_second: f64,
    /// End-to-end latency of each completed workflow: start call → result.
    pub(crate) latency: Latency,
    /// CPU (user + system) of the server's process tree during the measured phase.
    pub(crate) server_cpu_seconds: f64,
    /// `server_cpu_seconds` per completed workflow, in ms (= CPU seconds per 1,000 workflows).
    pub(crate) server_cpu_ms_per_workflow: f64,
    /// CPU of this process (client + in-process SDK worker) during the measured phase.
    pub(crate) driver_cpu_seconds: f64,
    /// Average busy cores of the whole machine during the measured phase.
    pub(crate) machine_busy_cores: f64,
    /// Fraction of all cores' time busy during the measured phase.
    pub(crate) machine_busy_fraction: f64,
    /// Busy cores not explained by the server or this process (other programs on the machine,
    /// e.g. a concurrent build): a high value means the figures are disturbed.
    pub(crate) other_busy_cores: f64,
    /// Peak RSS of the server's process tree (sum of VmHWM), MiB.
    pub(crate) server_peak_rss_mib: f64,
    /// RSS of the server's process tree after start-up and `idle_secs` of idling, MiB.
    pub(crate) server_idle_rss_mib: f64,
    /// Spawn → first successful RPC (the official client's connect), ms.
    pub(crate) startup_ms: f64,
    /// Disk usage of the server's data directory at the end, MiB.
    pub(crate) data_dir_mib: f64,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let report = run_once(args.target, &args.load).await?;
    print_report(&report);
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("write {}", path.display()))?;
    }
    if report.completed == 0 {
        bail!("no workflow completed");
    }
    Ok(())
}

const MIB: f64 = 1024.0 * 1024.0;

/// Starts the server, a worker and the driver; measures; kills the server.
pub(crate) async fn run_once(target: TargetName, load: &LoadArgs) -> anyhow::Result<RunReport> {
    run_once_on(target, load, None).await
}

/// [`run_once`] on an existing data directory (Lockstep's start-dev layout) when given.
pub(crate) async fn run_once_on(
    target: TargetName,
    load: &LoadArgs,
    data_dir: Option<&std::path::Path>,
) -> anyhow::Result<RunReport> {
    if load.count == 0 || load.concurrency == 0 {
        bail!("--count and --concurrency must be at least 1");
    }
    if load.worker_slots == Some(0) {
        bail!("--worker-slots must be at least 1");
    }
    if load.worker_pollers.is_some_and(|p| p < 2) {
        bail!("--worker-pollers must be at least 2 (the SDK's minimum for workflow tasks)");
    }
    let kind = match target {
        TargetName::Lockstep => {
            if !load.lockstep.is_file() {
                bail!(
                    "{} is missing: build it (cargo build --release -p lockstep) or pass --lockstep",
                    load.lockstep.display()
                );
            }
            ServerKind::Lockstep {
                bin: load.lockstep.clone(),
            }
        }
        TargetName::Temporal => ServerKind::Temporal,
    };
    let mut server = Server::start(&kind, data_dir).await?;
    let pid = server.pid();
    tokio::time::sleep(Duration::from_secs_f64(load.idle_secs.max(0.0))).await;
    let idle_rss = procfs::tree_rss(pid);

    let task_queue = format!("bench-{}", uuid::Uuid::new_v4());
    let mut options = crate::workflows::worker_options(&task_queue)?;
    if let Some(slots) = load.worker_slots {
        options.tuner = TunerHolder::builder()
            .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
            .activity_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
            .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
            .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
            .build()
            .into();
    }
    if let Some(pollers) = load.worker_pollers {
        options.workflow_task_poller_behavior = Some(PollerBehavior::SimpleMaximum(pollers));
        options.activity_task_poller_behavior = Some(PollerBehavior::SimpleMaximum(pollers));
    }
    let worker_connection = try_connect(&server.target("worker")).await?;
    let worker = run_worker_with(worker_connection, options);
    let starter = client(&try_connect(&server.target("client")).await?);
    let driver = Driver {
        client: starter,
        task_queue: task_queue.clone(),
        workload: load.workload,
        steps: load.steps,
        timeout: Duration::from_secs(load.timeout_secs),
    };

    if load.warmup > 0 {
        let warm = driver
            .drive("warmup", load.warmup, load.concurrency.min(load.warmup))
            .await;
        if let Some(error) = warm.errors.first() {
            server.check_alive()?;
            bail!(
                "warm-up failed ({} of {} workflows): {error}{}",
                warm.errors.len(),
                load.warmup,
                worker_status(&worker)
            );
        }
    }

    let cpu_before = procfs::tree_cpu(pid);
    let own_before = procfs::own_cpu();
    let machine_before = MachineCpu::now();
    let started = Instant::now();
    let outcome = driver.drive("run", load.count, load.concurrency).await;
    let wall = started.elapsed();
    let machine_after = MachineCpu::now();
    let own_cpu = procfs::own_cpu().saturating_sub(own_before);
    let server_cpu = procfs::tree_cpu(pid).saturating_sub(cpu_before);
    let peak_rss = procfs::tree_peak_rss(pid);
    let data_dir = procfs::disk_usage(server.data_dir());
    let alive = server.check_alive();

    let _ = tokio::time::timeout(Duration::from_secs(30), worker.shutdown()).await;
    server.kill();
    alive?;

    let completed = outcome.latencies.len();
    let mut latencies = outcome.latencies;
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        ms(latencies[rank.clamp(1, latencies.len()) - 1])
    };
    Ok(RunReport {
        target,
        workload: load.workload,
        count: load.count,
        concurrency: load.concurrency,
        worker_slots: load.worker_slots,
        worker_pollers: load.worker_pollers,
        warmup: load.warmup,
        completed,
        errors: outcome.errors.len(),
        first_error: outcome.errors.into_iter().next(),
        wall_seconds: wall.as_secs_f64(),
        workflows_per_second: completed as f64 / wall.as_secs_f64(),
        latency: Latency {
            p50_ms: pick(50.0),
            p95_ms: pick(95.0),
            p99_ms: pick(99.0),
            max_ms: latencies.last().copied().map(ms).unwrap_or(0.0),
        },
        server_cpu_seconds: server_cpu.as_secs_f64(),
        server_cpu_ms_per_workflow: if completed > 0 {
            server_cpu.as_secs_f64() * 1000.0 / completed as f64
        } else {
            0.0
        },
        driver_cpu_seconds: own_cpu.as_secs_f64(),
        machine_busy_cores: machine_after.busy_cores_since(&machine_before),
        machine_busy_fraction: machine_after.busy_fraction_since(&machine_before),
        other_busy_cores: (machine_after.busy_cores_since(&machine_before)
            - (server_cpu + own_cpu).as_secs_f64() / wall.as_secs_f64())
        .max(0.0),
        server_peak_rss_mib: peak_rss as f64 / MIB,
        server_idle_rss_mib: idle_rss as f64 / MIB,
        startup_ms: ms(server.startup()),
        data_dir_mib: data_dir as f64 / MIB,
    })
}

fn worker_status(worker: &WorkerHandle) -> String {
    match worker.exit_status() {
        Some(Err(error)) => format!(" (the worker ended: {error})"),
        Some(Ok(())) => " (the worker ended)".to_string(),
        None => String::new(),
    }
}

/// Starts workflows of one workload on one task queue.
struct Driver {
    client: Client,
    task_queue: String,
    workload: Workload,
    steps: u32,
    timeout: Duration,
}

/// Latencies of the workflows that completed, and the errors of those that did not.
struct Outcome {
    latencies: Vec<Duration>,
    errors: Vec<String>,
}

impl Driver {
    /// Runs `count` workflows, keeping `concurrency` in flight, each in its own task.
    async fn drive(&self, phase: &str, count: usize, concurrency: usize) -> Outcome {
        let prefix = Arc::new(format!("{phase}-{}", uuid::Uuid::new_v4()));
        let mut tasks = JoinSet::new();
        let mut outcome = Outcome {
            latencies: Vec::with_capacity(count),
            errors: Vec::new(),
        };
        let mut next = 0;
        loop {
            while next < count && tasks.len() < concurrency {
                let workflow_id = format!("{prefix}-{next}");
                let (client, task_queue) = (self.client.clone(), self.task_queue.clone());
                let (workload, steps, timeout) = (self.workload, self.steps, self.timeout);
                tasks.spawn(async move {
                    let run =
                        one_workflow(client, task_queue, workflow_id.clone(), workload, steps);
                    match tokio::time::timeout(timeout, run).await {
                        Ok(Ok(latency)) => Ok(latency),
                        Ok(Err(error)) => Err(format!("{workflow_id}: {error:#}")),
                        Err(_) => Err(format!("{workflow_id}: no result within {timeout:?}")),
                    }
                });
                next += 1;
            }
            match tasks.join_next().await {
                Some(Ok(Ok(latency))) => outcome.latencies.push(latency),
                Some(Ok(Err(error))) => outcome.errors.push(error),
                Some(Err(join_error)) => outcome.errors.push(format!("task: {join_error}")),
                None => break,
            }
        }
        outcome
    }
}

/// Starts one workflow, drives it (signals), awaits and checks its result; returns start call →
/// result.
async fn one_workflow(
    client: Client,
    task_queue: String,
    workflow_id: String,
    workload: Workload,
    steps: u32,
) -> anyhow::Result<Duration> {
    let options = WorkflowStartOptions::new(task_queue, workflow_id.clone()).build();
    let result = WorkflowGetResultOptions::default;
    let started = Instant::now();
    match workload {
        Workload::OneActivity => {
            let handle = client
                .start_workflow(OneActivityWorkflow::run, "bench".to_string(), options)
                .await?;
            let greeting = handle.get_result(result()).await?;
            if greeting != "Hello, bench!" {
                bail!("unexpected result {greeting:?}");
            }
        }
        Workload::NoActivity => {
            let handle = client
                .start_workflow(EchoWorkflow::run, workflow_id.clone(), options)
                .await?;
            let echoed = handle.get_result(result()).await?;
            if echoed != workflow_id {
                bail!("unexpected result {echoed:?}");
            }
        }
        Workload::Timer => {
            let millis = TIMER.as_millis() as u64;
            let handle = client
                .start_workflow(SleepWorkflow::run, millis, options)
                .await?;
            let slept = handle.get_result(result()).await?;
            if slept != millis {
                bail!("unexpected result {slept}");
            }
        }
        Workload::Signals => {
            let handle = client
                .start_workflow(CountSignalsWorkflow::run, SIGNALS_PER_WORKFLOW, options)
                .await?;
            for seq in 0..SIGNALS_PER_WORKFLOW {
                handle
                    .signal(
                        CountSignalsWorkflow::tick,
                        seq,
                        WorkflowSignalOptions::default(),
                    )
                    .await
                    .with_context(|| format!("signal {seq}"))?;
            }
            let ticks = handle.get_result(result()).await?;
            if ticks != SIGNALS_PER_WORKFLOW {
                bail!("unexpected result {ticks}");
            }
        }
        Workload::Steps => {
            let handle = client
                .start_workflow(ManyStepsWorkflow::run, steps, options)
                .await?;
            let done = handle.get_result(result()).await?;
            if done != steps {
                bail!("unexpected result {done}");
            }
        }
    }
    Ok(started.elapsed())
}

/// A worker setting, or "SDK default".
pub(crate) fn or_default(setting: Option<usize>) -> String {
    setting.map_or_else(|| "SDK default".to_string(), |s| s.to_string())
}

/// Prints one run's report as a small table.
pub(crate) fn print_report(r: &RunReport) {
    println!(
        "{} · {} · {} workflows, {} in flight, worker slots {}, pollers {}, warm-up {}",
        r.target.name(),
        r.workload.name(),
        r.count,
        r.concurrency,
        or_default(r.worker_slots),
        or_default(r.worker_pollers),
        r.warmup
    );
    let rows = [
        (
            "completed / errors",
            format!("{} / {}", r.completed, r.errors),
        ),
        (
            "throughput",
            format!(
                "{:.1} workflows/s ({:.2} s wall)",
                r.workflows_per_second, r.wall_seconds
            ),
        ),
        (
            "latency p50 / p95 / p99",
            format!(
                "{:.1} / {:.1} / {:.1} ms (max {:.1})",
                r.latency.p50_ms, r.latency.p95_ms, r.latency.p99_ms, r.latency.max_ms
            ),
        ),
        (
            "server CPU",
            format!(
                "{:.2} s ({:.2} ms per workflow)",
                r.server_cpu_seconds, r.server_cpu_ms_per_workflow
            ),
        ),
        (
            "driver CPU (client + worker)",
            format!("{:.2} s", r.driver_cpu_seconds),
        ),
        (
            "machine busy",
            format!(
                "{:.2} cores ({:.0} % of all; {:.2} cores by other programs)",
                r.machine_busy_cores,
                r.machine_busy_fraction * 100.0,
                r.other_busy_cores
            ),
        ),
        (
            "server RSS idle / peak",
            format!(
                "{:.1} / {:.1} MiB",
                r.server_idle_rss_mib, r.server_peak_rss_mib
            ),
        ),
        (
            "start-up (spawn -> 1st RPC)",
            format!("{:.1} ms", r.startup_ms),
        ),
        ("data dir at end", format!("{:.2} MiB", r.data_dir_mib)),
    ];
    for (name, value) in rows {
        println!("  {name:<30} {value}");
    }
    if let Some(error) = &r.first_error {
        println!("  first error: {error}");
    }
    if r.other_busy_cores > 0.25 {
        println!(
            "  warning: other programs kept {:.2} cores busy during the measured phase; \
             the figures are disturbed",
            r.other_busy_cores
        );
    }
}

impl TargetName {
    /// The name used on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TargetName::Lockstep => "lockstep",
            TargetName::Temporal => "temporal",
        }
    }
}
