//! `lockstep codec-server`: decodes payloads for authorized viewers (Temporal's remote-codec
//! protocol over HTTPS).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use lockstep_codec_server::CodecServerConfig;

/// Options of `codec-server`.
#[derive(Args)]
pub(crate) struct CodecServerArgs {
    /// The TOML configuration (listen, [tls], policy, [jwt], [keys], [cors], [limits],
    /// audit_log); see docs/codec-server.md.
    ///
    /// Example: lockstep codec-server --config codec-server.toml
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

pub(crate) fn run(args: CodecServerArgs) -> anyhow::Result<()> {
    let config = CodecServerConfig::load(&args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        lockstep_codec_server::serve(config, crate::server_cmd::shutdown_signal()).await?;
        Ok(())
    })
}
