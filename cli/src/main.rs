//! `lockstep`: the one binary — the server, its dev mode, certificate tools, and a workflow
//! client.

mod certs_cmd;
mod codec_server_cmd;
mod dev;
mod server_cmd;
mod workflow;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Lockstep: a Temporal-compatible durable-execution service, mTLS only, payloads encrypted
/// by your workers.
#[derive(Parser)]
#[command(name = "lockstep", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    #[command(subcommand)]
    Server(server_cmd::ServerCommand),
    /// Create a CA, issue server and client certificates, inspect certificates.
    #[command(subcommand)]
    Certs(certs_cmd::CertsCommand),
    /// Serve `/encode` and `/decode` for authorized viewers (HTTPS, keys from your key source).
    ///
    /// Example: lockstep codec-server --config codec-server.toml
    CodecServer(codec_server_cmd::CodecServerArgs),
    /// Start, inspect and steer workflow executions (like `temporal workflow …`, mTLS only).
    Workflow(Box<workflow::WorkflowArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let outcome = match cli.command {
        Command::Server(command) => server_cmd::run(command),
        Command::Certs(command) => certs_cmd::run(command),
        Command::Workflow(args) => workflow::run(*args),
        Command::CodecServer(args) => codec_server_cmd::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCKSTEP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
