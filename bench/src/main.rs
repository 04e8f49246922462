//! `lockstep-bench`: measurements that print numbers. Not part of the test suite.
//!
//! - `startup`: `lockstep server start-dev` spawn → first successful RPC, and idle RSS.

mod startup;

use clap::{Parser, Subcommand};

/// Benchmarks for Lockstep.
#[derive(Parser)]
#[command(name = "lockstep-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Spawn → first successful RPC of `lockstep server start-dev`, and idle RSS, over N runs.
    ///
    /// Example: lockstep-bench startup --runs 5 --lockstep target/release/lockstep
    Startup(startup::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Startup(args) => startup::run(args).await,
    }
}
