//! Starts the encrypted hello-world workflow as the `client` principal, prints its result, and
//! shows what the server stored for its input: ciphertext.
//!
//! ```sh
//! cargo run -p lockstep-sdk --example encrypted_hello_starter -- Alice
//! ```
//! Run it with the same `LOCKSTEP_CODEC_KEYS` (or `LOCKSTEP_KEY_FILE`) as the worker.

mod common;

use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::{
    common::v1::WorkflowExecution, history::v1::history_event::Attributes,
    workflowservice::v1::GetWorkflowExecutionHistoryRequest,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "Lockstep".into());
    let client = common::connect("client").await?;
    let workflow_id = format!("encrypted-hello-{}", std::process::id());
    let handle = client
        .start_workflow(
            common::EncryptedHelloWorkflow::run,
            name,
            WorkflowStartOptions::new(common::TASK_QUEUE, workflow_id.clone()).build(),
        )
        .await?;
    let result = handle
        .get_result(WorkflowGetResultOptions::default())
        .await?;
    println!("workflow {workflow_id}: {result}");

    // What the server holds: the raw history, read without the codec.
    let history = client
        .connection()
        .workflow_service()
        .get_workflow_execution_history(tonic::Request::new(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.clone(),
                run_id: String::new(),
            }),
            ..Default::default()
        }))
        .await?
        .into_inner();
    let started = history
        .history
        .and_then(|h| h.events.into_iter().next())
        .and_then(|event| match event.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(attributes)) => {
                attributes.input
            }
            _ => None,
        });
    if let Some(input) = started.and_then(|payloads| payloads.payloads.into_iter().next()) {
        let text = |key: &str| {
            input
                .metadata
                .get(key)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let prefix: String = input
            .data
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        println!(
            "the server stored the input as encoding={} encryption-key-id={} data={prefix}… ({} bytes)",
            text("encoding"),
            text("encryption-key-id"),
            input.data.len()
        );
    }
    Ok(())
}
