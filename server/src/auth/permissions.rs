//! What each RPC requires. Every WorkflowService or OperatorService method not listed here
//! needs `admin`, so a method added to the API later is denied to ordinary roles until someone
//! classifies it.

use super::Role;

/// What a caller must hold to call a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// The role in the namespace named by the request.
    Role(Role),
    /// Any role in the namespace named by the request (describing the namespace itself).
    AnyRoleInNamespace,
    /// Any grant in the policy; the handler filters what it returns (no namespace in the request).
    KnownPrincipal,
}

/// The requirement for a WorkflowService method (the last segment of the gRPC path).
pub fn requirement(method: &str) -> Requirement {
    use Requirement::{AnyRoleInNamespace, KnownPrincipal, Role as R};
    match method {
        "GetSystemInfo" | "ListNamespaces" | "GetClusterInfo" | "GetSearchAttributes" => {
            KnownPrincipal
        }
        "DescribeNamespace" => AnyRoleInNamespace,

        "PollWorkflowTaskQueue"
        | "PollActivityTaskQueue"
        | "PollNexusTaskQueue"
        | "RespondWorkflowTaskCompleted"
        | "RespondWorkflowTaskFailed"
        | "RespondActivityTaskCompleted"
        | "RespondActivityTaskCompletedById"
        | "RespondActivityTaskFailed"
        | "RespondActivityTaskFailedById"
        | "RespondActivityTaskCanceled"
        | "RespondActivityTaskCanceledById"
        | "RecordActivityTaskHeartbeat"
        | "RecordActivityTaskHeartbeatById"
        | "RespondQueryTaskCompleted"
        | "RespondNexusTaskCompleted"
        | "RespondNexusTaskFailed"
        | "ResetStickyTaskQueue"
        | "ShutdownWorker"
        | "RecordWorkerHeartbeat" => R(Role::Worker),

        "StartWorkflowExecution"
        | "SignalWorkflowExecution"
        | "SignalWithStartWorkflowExecution"
        | "QueryWorkflow"
        | "RequestCancelWorkflowExecution"
        | "UpdateWorkflowExecution"
        | "PollWorkflowExecutionUpdate"
        | "ExecuteMultiOperation" => R(Role::Client),

        "GetWorkflowExecutionHistory"
        | "GetWorkflowExecutionHistoryReverse"
        | "DescribeWorkflowExecution"
        | "ListWorkflowExecutions"
        | "ListOpenWorkflowExecutions"
        | "ListClosedWorkflowExecutions"
        | "ListArchivedWorkflowExecutions"
        | "ScanWorkflowExecutions"
        | "CountWorkflowExecutions"
        | "DescribeTaskQueue"
        | "ListTaskQueuePartitions"
        | "DescribeSchedule"
        | "ListSchedules"
        | "ListScheduleMatchingTimes" => R(Role::Reader),

        _ => R(Role::Admin),
    }
}

/// The requirement for an OperatorService method: `admin` in the request's namespace, except
/// ListSearchAttributes, which readers may call (Temporal classifies it read-only, and the
/// `temporal` CLI lists before it creates). Namespace-less methods (clusters, Nexus endpoints)
/// need admin on every namespace (the layer's rule for namespace-less methods).
pub fn operator_requirement(method: &str) -> Requirement {
    match method {
        "ListSearchAttributes" => Requirement::Role(Role::Reader),
        _ => Requirement::Role(Role::Admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclassified_methods_need_admin() {
        assert_eq!(
            requirement("RegisterNamespace"),
            Requirement::Role(Role::Admin)
        );
        assert_eq!(
            requirement("TerminateWorkflowExecution"),
            Requirement::Role(Role::Admin)
        );
        assert_eq!(
            requirement("ResetWorkflowExecution"),
            Requirement::Role(Role::Admin)
        );
        assert_eq!(
            requirement("SomeFutureMethod"),
            Requirement::Role(Role::Admin)
        );
    }

    #[test]
    fn operator_methods_need_admin_except_listing_search_attributes() {
        for method in [
            "AddSearchAttributes",
            "RemoveSearchAttributes",
            "DeleteNamespace",
            "ListClusters",
        ] {
            assert_eq!(
                operator_requirement(method),
                Requirement::Role(Role::Admin),
                "{method}"
            );
        }
        assert_eq!(
            operator_requirement("ListSearchAttributes"),
            Requirement::Role(Role::Reader)
        );
    }

    #[test]
    fn the_everyday_methods_are_classified() {
        assert_eq!(
            requirement("PollWorkflowTaskQueue"),
            Requirement::Role(Role::Worker)
        );
        assert_eq!(
            requirement("StartWorkflowExecution"),
            Requirement::Role(Role::Client)
        );
        assert_eq!(
            requirement("GetWorkflowExecutionHistory"),
            Requirement::Role(Role::Reader)
        );
        assert_eq!(
            requirement("DescribeNamespace"),
            Requirement::AnyRoleInNamespace
        );
    }
}
