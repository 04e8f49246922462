//! GetSystemInfo: the server version and the capabilities Lockstep really has.

use temporalio_protos::temporal::api::workflowservice::v1::{
    GetSystemInfoResponse, get_system_info_response::Capabilities,
};

/// The answer to GetSystemInfo. Only capabilities that are implemented are advertised.
pub(crate) fn system_info() -> GetSystemInfoResponse {
    GetSystemInfoResponse {
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        capabilities: Some(Capabilities::default()),
    }
}
