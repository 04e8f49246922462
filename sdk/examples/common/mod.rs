//! What the encrypted hello-world worker and starter share: the workflow, the activity, and
//! how both connect (address, dev certificates, keys) from the environment.

// `#[activities]` and `#[workflow_methods]` turn methods into associated constants that do not
// carry their doc comments; each example binary uses only part of this module, privately.
#![allow(missing_docs, dead_code, unreachable_pub)]

use std::{path::PathBuf, time::Duration};

use lockstep_sdk::{CodecOptions, ConnectOptions, EnvKeyProvider, FileKeyProvider, Keys, TlsFiles};
use temporalio_client::Client;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

/// The task queue of the example.
pub const TASK_QUEUE: &str = "encrypted-hello";

/// The activity.
pub struct Greetings;

#[activities]
impl Greetings {
    /// Returns `"Hello, {name}!"`.
    #[activity(name = "compose_greeting")]
    pub async fn compose_greeting(
        _ctx: ActivityContext,
        name: String,
    ) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }
}

/// Greets `name` through one activity; its input, the activity's input and result, and the
/// workflow's result are all encrypted before they leave the process.
#[workflow]
#[derive(Default)]
pub struct EncryptedHelloWorkflow;

#[workflow_methods]
impl EncryptedHelloWorkflow {
    #[run(name = "EncryptedHelloWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        Ok(ctx
            .execute_activity(Greetings::compose_greeting, name, options)
            .await?)
    }
}

/// Where `lockstep server start-dev` keeps its certificates, unless `LOCKSTEP_CERTS` says.
fn certs_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOCKSTEP_CERTS") {
        return dir.into();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/share")
        });
    data.join("lockstep/dev/certs")
}

/// The keys: the key file `LOCKSTEP_KEY_FILE` if set, else `LOCKSTEP_CODEC_KEYS`.
async fn keys() -> anyhow::Result<Keys> {
    Ok(match std::env::var_os("LOCKSTEP_KEY_FILE") {
        Some(path) => Keys::load(FileKeyProvider::new(path)).await?,
        None => Keys::load(EnvKeyProvider::default()).await?,
    })
}

/// Connects as `principal` (a start-dev certificate) to `LOCKSTEP_ADDRESS` (default
/// 127.0.0.1:7233), namespace `default`, with the codec installed.
pub async fn connect(principal: &str) -> anyhow::Result<Client> {
    let address =
        std::env::var("LOCKSTEP_ADDRESS").unwrap_or_else(|_| "127.0.0.1:7233".to_string());
    let options = ConnectOptions::new(
        address,
        "default",
        TlsFiles::dev(&certs_dir(), principal),
        CodecOptions::new(keys().await?),
    );
    Ok(lockstep_sdk::connect(options).await?)
}
