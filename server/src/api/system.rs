//! GetSystemInfo: the server version and the capabilities Lockstep really has.

use temporalio_protos::temporal::api::workflowservice::v1::{
    GetSystemInfoResponse, get_system_info_response::Capabilities,
};

/// The answer to GetSystemInfo. Only capabilities that are implemented are advertised.
pub(crate) fn system_info() -> GetSystemInfoResponse {
    GetSystemInfoResponse {
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        capabilities: Some(Capabilities {
            // Headers of signals and queries are stored and delivered.
            signal_and_query_header: true,
            // Heartbeat details of the last attempt ride on activity timeout failures.
            activity_failure_include_heartbeat: true,
            // Failures are stored as sent, encoded attributes included (the codec's job).
            encoded_failure_attributes: true,
            // WorkflowTaskCompleted carries the SDK's metadata (flags, names).
            sdk_metadata: true,
            // ModifyWorkflowProperties upserts the memo.
            upsert_memo: true,
            ..Capabilities::default()
        }),
    }
}
