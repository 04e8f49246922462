//! The one place where domain errors become gRPC statuses. Internal causes are logged, not
//! sent to clients.

use tonic::Status;

use crate::{namespaces::NamespaceError, store::StoreError};

impl From<NamespaceError> for Status {
    fn from(err: NamespaceError) -> Self {
        match err {
            NamespaceError::NotFound(_) => Status::not_found(err.to_string()),
            NamespaceError::AlreadyExists(_) => Status::already_exists(err.to_string()),
            NamespaceError::Invalid(_) => Status::invalid_argument(err.to_string()),
            NamespaceError::Store(store) => store.into(),
        }
    }
}

impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store failure");
        Status::unavailable("the server could not persist the change; retry later")
    }
}
