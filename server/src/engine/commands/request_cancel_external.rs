//! `RequestCancelExternalWorkflowExecution` → `RequestCancelExternalWorkflowExecutionInitiated`,
//! the request remembered on the run, and [`Effect::External`]: the caller's outbox asks the
//! target to cancel and records ExternalWorkflowExecutionCancelRequested /
//! RequestCancelExternalWorkflowExecutionFailed here (see `engine/external.rs`). This is how
//! the SDKs cancel a started child (`child_workflow_only`).

use temporalio_protos::temporal::api::{
    command::v1::RequestCancelExternalWorkflowExecutionCommandAttributes,
    common::v1::WorkflowExecution,
    enums::v1::WorkflowTaskFailedCause as Cause,
    history::v1::{
        RequestCancelExternalWorkflowExecutionInitiatedEventAttributes, history_event::Attributes,
    },
};

use super::CommandContext;
use crate::engine::{
    EngineError, ExternalRequest,
    apply::Apply,
    external::{external_target, initiate_external},
};

#[allow(deprecated)] // `namespace` and `control` are deprecated but still on the wire.
pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &RequestCancelExternalWorkflowExecutionCommandAttributes,
) -> Result<(), EngineError> {
    let namespace = external_target(cx, &a.namespace, &a.workflow_id).map_err(|message| {
        EngineError::rejected(
            Cause::BadRequestCancelExternalWorkflowExecutionAttributes,
            message,
        )
    })?;
    let execution = WorkflowExecution {
        workflow_id: a.workflow_id.clone(),
        run_id: a.run_id.clone(),
    };
    let attributes = RequestCancelExternalWorkflowExecutionInitiatedEventAttributes {
        workflow_task_completed_event_id: ctx.completed_event_id,
        namespace: namespace.clone(),
        workflow_execution: Some(execution.clone()),
        control: a.control.clone(),
        child_workflow_only: a.child_workflow_only,
        reason: a.reason.clone(),
        ..Default::default()
    };
    let request = ExternalRequest {
        reason: a.reason.clone(),
        ..ExternalRequest::new(namespace, execution, a.child_workflow_only, ctx, &a.control)
    };
    initiate_external(
        cx,
        Attributes::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(attributes),
        request,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{complete_workflow_task, test_support::*};

    #[test]
    fn a_missing_workflow_id_is_rejected() {
        let mut state = task_in_flight();
        let before = state.clone();
        let req = completed_req(vec![cancel_external_cmd("", false)]);
        let err = complete_workflow_task(&mut state, 2, 3, 1, &req, "r", T0).unwrap_err();
        assert!(matches!(
            err,
            EngineError::CommandRejected {
                cause: Cause::BadRequestCancelExternalWorkflowExecutionAttributes,
                ..
            }
        ));
        assert_eq!(state, before);
    }
}
