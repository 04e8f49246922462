//! `lockstep-bench`: measurements that print numbers. Not part of the test suite (except a
//! smoke test that checks `run` works end to end).
//!
//! - `run`: one server (Lockstep or the Temporal dev server), one workload, N workflows with C
//!   in flight through the official Rust SDK: throughput, latency, server CPU and memory,
//!   start-up time, data size.
//! - `compare`: `run` on both servers, alternating, over several rounds; medians and ratios.
//! - `startup`: `lockstep server start-dev` spawn → first successful RPC, and idle RSS.
//! - `scale`: `run` on Lockstep data directories already holding 0, 100k, 1M closed executions
//!   (seeded in-process through the server's own library by `seed`).
//! - `workflows`: the benchmark worker's workflows, with a long-history one.

mod compare;
mod procfs;
mod run;
mod scale;
mod seed;
mod servers;
mod startup;
mod workflows;

use clap::{Parser, Subcommand};

/// Benchmarks for Lockstep, side by side with the Temporal dev server.
#[derive(Parser)]
#[command(name = "lockstep-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start one server, run N workflows of a workload with C in flight through an in-process
    /// official Rust SDK worker, print throughput, latency, server CPU/RSS, start-up, data size.
    ///
    /// Example: lockstep-bench run --target lockstep --workload one-activity --count 1000
    /// --concurrency 100 --json run.json
    Run(run::Args),
    /// Run the same workload on Lockstep and on `temporal server start-dev`, alternating, after
    /// one discarded warm-up round; print each figure's median (min–max) and the ratio.
    ///
    /// Example: lockstep-bench compare --workload one-activity --count 1000 --concurrency 100
    /// --rounds 3
    Compare(compare::Args),
    /// Spawn → first successful RPC of `lockstep server start-dev`, and idle RSS, over N runs.
    ///
    /// Example: lockstep-bench startup --runs 5 --lockstep target/release/lockstep
    Startup(startup::Args),
    /// Measure a workload on Lockstep data directories already holding N closed executions
    /// (seeded in-process), to show CPU per workflow stays flat as the store grows.
    ///
    /// Example: lockstep-bench scale --stored 0,100000,1000000 --count 1000 --concurrency 100
    Scale(scale::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run(args) => run::run(args).await,
        Command::Compare(args) => compare::run(args).await,
        Command::Startup(args) => startup::run(args).await,
        Command::Scale(args) => scale::run(args).await,
    }
}
