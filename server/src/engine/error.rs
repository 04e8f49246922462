//! Why a transition was refused. Every variant leaves the state untouched.

use temporalio_protos::temporal::api::enums::v1::WorkflowTaskFailedCause;

/// A refused transition. The state is exactly as it was before the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The task or token refers to something that no longer exists or already finished (stale
    /// or duplicate). The API answers NotFound; not retryable.
    #[error("{0}")]
    NotFound(String),
    /// The request data is invalid. The API answers InvalidArgument; not retryable.
    #[error("{0}")]
    InvalidArgument(String),
    /// The commands of a workflow task were rejected. The caller then calls
    /// [`fail_workflow_task_by_server`](super::fail_workflow_task_by_server) with `cause` and
    /// `message` and answers InvalidArgument ("UnhandledCommand" exactly for
    /// `UNHANDLED_COMMAND`, which makes the SDK evict and replay).
    #[error("workflow task commands rejected ({cause:?}): {message}")]
    CommandRejected {
        /// The `WorkflowTaskFailed` cause to record.
        cause: WorkflowTaskFailedCause,
        /// What was wrong, for the failure message.
        message: String,
    },
    /// The run is closed; nothing can be added to it.
    #[error("workflow execution already completed")]
    WorkflowClosed,
    /// A per-run limit is reached for now (in-flight updates). The API answers
    /// ResourceExhausted, which clients retry.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The run cannot take this request in its current state (total updates). The API
    /// answers FailedPrecondition; not retryable.
    #[error("{0}")]
    FailedPrecondition(String),
}

impl EngineError {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        EngineError::NotFound(what.into())
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        EngineError::InvalidArgument(what.into())
    }

    pub(crate) fn rejected(cause: WorkflowTaskFailedCause, message: impl Into<String>) -> Self {
        EngineError::CommandRejected {
            cause,
            message: message.into(),
        }
    }
}
