//! `lockstep workflow …`: start, watch and steer workflow executions over mTLS, with the flags,
//! environment variables and output formats of the `temporal` CLI.
//!
//! # Layout
//! - `connect`: connection flags, certificate resolution (flags → env → dev certificates) and
//!   the gRPC channel. There is no plaintext mode.
//! - `codec` and `https`: the remote codec (`--codec-endpoint`): payloads go through
//!   `POST …/encode` before they leave and `POST …/decode` before they are shown.
//! - `payloads`: `--input` JSON to `json/plain` payloads, and payloads to text or JSON for
//!   display (never raw bytes); `walk`: every payload in an event, a failure, a description,
//!   so they can be decoded in one codec call.
//! - `events` and `failures`: the key attributes of a history event, and failures, for humans
//!   and for JSON.
//! - `output`: `-o text|json|jsonl`, times, durations, sanitizing server-provided text.
//! - `durations`: `--run-timeout 90s`-style durations.
//! - One module per command group: `start` (start, execute), `result` (waiting for the close
//!   event), `show`, `describe`, `control` (signal, cancel, terminate), `query`, `list`.
//!
//! # Never
//! - Never print a payload's raw bytes: a payload is shown decoded (`json/plain`), as
//!   `encrypted (key id …)`, or as `<binary, N bytes>`; server-provided strings are sanitized.
//! - Never fall back to plaintext gRPC, and never print the codec authorization value.

mod codec;
mod connect;
mod control;
mod describe;
mod durations;
mod events;
mod failures;
mod https;
mod list;
mod output;
mod payloads;
mod query;
mod result;
mod show;
mod start;
mod walk;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    workflowservice::v1::workflow_service_client::WorkflowServiceClient,
};
use tonic::transport::Channel;

pub(crate) use output::OutputFormat;

/// `lockstep workflow`: options shared by every subcommand, then the subcommand.
#[derive(Args)]
pub(crate) struct WorkflowArgs {
    #[command(flatten)]
    connection: connect::ConnectionArgs,
    #[command(flatten)]
    codec: codec::CodecArgs,
    /// Output format: text for people, json (one document) or jsonl (one object per line;
    /// one per event for `show`).
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value_t = OutputFormat::Text,
        global = true,
        help_heading = "Output options"
    )]
    output: OutputFormat,
    #[command(subcommand)]
    command: WorkflowCommand,
}

/// The workflow subcommands.
#[derive(Subcommand)]
enum WorkflowCommand {
    /// List workflow executions (needs a server that supports listing).
    ///
    /// Example: lockstep workflow list
    List(list::ListArgs),
    /// Show a workflow execution: status, type, task queue, times, pending activities.
    ///
    /// Example: lockstep workflow describe -w order-42
    Describe(ExecutionArgs),
    /// Show the event history as a timeline; `--follow` waits for new events until it closes.
    ///
    /// Example: lockstep workflow show -w order-42 --follow
    Show(show::ShowArgs),
    /// Start a workflow execution and print its ids.
    ///
    /// Example: lockstep workflow start --type Greet -t greetings -w greet-1 -i '"world"'
    Start(start::StartArgs),
    /// Start a workflow execution, wait for it to close and print its result.
    ///
    /// Example: lockstep workflow execute --type Greet -t greetings -i '"world"'
    Execute(start::StartArgs),
    /// Wait for a workflow execution to close and print its result.
    ///
    /// Example: lockstep workflow result -w greet-1
    Result(ExecutionArgs),
    /// Send a signal to a workflow execution.
    ///
    /// Example: lockstep workflow signal -w order-42 --name approve -i '{"by":"ops"}'
    Signal(control::SignalArgs),
    /// Query a workflow execution (answered by one of its workers).
    ///
    /// Example: lockstep workflow query -w order-42 --type status
    Query(query::QueryArgs),
    /// Ask a workflow execution to cancel itself.
    ///
    /// Example: lockstep workflow cancel -w order-42
    Cancel(control::CancelArgs),
    /// End a workflow execution now, without running any more of its code.
    ///
    /// Example: lockstep workflow terminate -w order-42 --reason "stuck on a bad input"
    Terminate(control::TerminateArgs),
}

/// Which workflow execution a command is about.
#[derive(Args, Clone)]
pub(crate) struct ExecutionArgs {
    /// Workflow ID.
    #[arg(long, short = 'w')]
    workflow_id: String,
    /// Run ID [default: the latest run].
    #[arg(long, short = 'r')]
    run_id: Option<String>,
}

impl ExecutionArgs {
    fn execution(&self) -> WorkflowExecution {
        WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
        }
    }
}

/// What every command works with: a connected client, the namespace, the codec, the format.
pub(crate) struct Context {
    client: WorkflowServiceClient<Channel>,
    namespace: String,
    codec: Option<codec::Codec>,
    output: OutputFormat,
    identity: String,
}

/// Runs a `lockstep workflow` command to completion.
pub(crate) fn run(args: WorkflowArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let namespace = args.connection.namespace.clone();
        let codec = codec::Codec::from_args(&args.codec, &namespace)?;
        let client = args.connection.connect().await?;
        let mut ctx = Context {
            client,
            namespace,
            codec,
            output: args.output,
            identity: identity(),
        };
        match args.command {
            WorkflowCommand::List(list) => list::run(&mut ctx, &list).await,
            WorkflowCommand::Describe(execution) => describe::run(&mut ctx, &execution).await,
            WorkflowCommand::Show(show) => show::run(&mut ctx, &show).await,
            WorkflowCommand::Start(start) => start::start(&mut ctx, &start).await,
            WorkflowCommand::Execute(start) => start::execute(&mut ctx, &start).await,
            WorkflowCommand::Result(execution) => result::run(&mut ctx, &execution).await,
            WorkflowCommand::Signal(signal) => control::signal(&mut ctx, &signal).await,
            WorkflowCommand::Query(query) => query::run(&mut ctx, &query).await,
            WorkflowCommand::Cancel(cancel) => control::cancel(&mut ctx, &cancel).await,
            WorkflowCommand::Terminate(terminate) => control::terminate(&mut ctx, &terminate).await,
        }
    })
}

/// The identity recorded in history events, like the `temporal` CLI's `temporal-cli:user@host`.
fn identity() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("lockstep-cli:{user}")
}

/// Turns a gRPC error into a message that names the workflow and says what to do.
pub(crate) fn explain(status: tonic::Status, what: &str) -> anyhow::Error {
    use tonic::Code;
    let message = output::clean(status.message());
    match status.code() {
        Code::NotFound => anyhow::anyhow!("{what}: not found ({message})"),
        Code::PermissionDenied => anyhow::anyhow!(
            "{what}: permission denied ({message}); this needs a client certificate whose \
             principal has the right role in the namespace"
        ),
        Code::Unauthenticated => anyhow::anyhow!("{what}: not authenticated ({message})"),
        Code::Unavailable => anyhow::anyhow!(
            "{what}: the server is unavailable ({message}); is it running, and do its CA and \
             name match --tls-ca-path and --tls-server-name?"
        ),
        Code::AlreadyExists => anyhow::anyhow!("{what}: already exists ({message})"),
        code => anyhow::anyhow!("{what}: {code:?}: {message}"),
    }
}
