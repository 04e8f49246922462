//! The encrypted hello-world worker: polls the `encrypted-hello` task queue of a Lockstep dev
//! server as the `worker` principal, with payloads encrypted by your key.
//!
//! ```sh
//! export LOCKSTEP_CODEC_KEYS="demo:$(openssl rand -base64 32)"   # or LOCKSTEP_KEY_FILE=keys.toml
//! cargo run -p lockstep-sdk --example encrypted_hello_worker
//! ```
//! Stop it with Ctrl-C.

mod common;

use temporalio_sdk::{Runtime, Worker, WorkerOptions, runtime::RuntimeOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = common::connect("worker").await?;
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())?;
    let options = WorkerOptions::new(common::TASK_QUEUE)
        .register_activities(common::Greetings)
        .register_workflow::<common::EncryptedHelloWorkflow>()?
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown();
    });
    println!(
        "encrypted hello worker polling task queue {:?}; Ctrl-C stops it",
        common::TASK_QUEUE
    );
    worker.run().await?;
    Ok(())
}
