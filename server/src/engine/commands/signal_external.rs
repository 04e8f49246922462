//! `SignalExternalWorkflowExecution` → `SignalExternalWorkflowExecutionInitiated`, the request
//! remembered on the run, and [`Effect::External`]: the caller's outbox signals the target and
//! records ExternalWorkflowExecutionSignaled / SignalExternalWorkflowExecutionFailed here (see
//! `engine/external.rs`). Targets live in the run's namespace.

use temporalio_protos::temporal::api::{
    command::v1::SignalExternalWorkflowExecutionCommandAttributes,
    enums::v1::WorkflowTaskFailedCause as Cause,
    history::v1::{
        SignalExternalWorkflowExecutionInitiatedEventAttributes, history_event::Attributes,
    },
};

use super::CommandContext;
use crate::engine::{
    EngineError, ExternalRequest, ExternalSignal,
    apply::Apply,
    external::{external_target, initiate_external},
};

#[allow(deprecated)] // `namespace` and `control` are deprecated but still on the wire.
pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &SignalExternalWorkflowExecutionCommandAttributes,
) -> Result<(), EngineError> {
    let bad =
        |message: &str| EngineError::rejected(Cause::BadSignalWorkflowExecutionAttributes, message);
    let execution = a.execution.clone().unwrap_or_default();
    let namespace = external_target(cx, &a.namespace, &execution.workflow_id)
        .map_err(|message| bad(&message))?;
    if a.signal_name.is_empty() {
        return Err(bad("signal_name is required"));
    }
    let attributes = SignalExternalWorkflowExecutionInitiatedEventAttributes {
        workflow_task_completed_event_id: ctx.completed_event_id,
        namespace: namespace.clone(),
        workflow_execution: Some(execution.clone()),
        signal_name: a.signal_name.clone(),
        input: a.input.clone(),
        control: a.control.clone(),
        child_workflow_only: a.child_workflow_only,
        header: a.header.clone(),
        ..Default::default()
    };
    let request = ExternalRequest {
        signal: Some(ExternalSignal {
            name: a.signal_name.clone(),
            input: a.input.clone(),
            header: a.header.clone(),
        }),
        ..ExternalRequest::new(namespace, execution, a.child_workflow_only, ctx, &a.control)
    };
    initiate_external(
        cx,
        Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(attributes),
        request,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{complete_workflow_task, test_support::*};

    #[test]
    fn bad_commands_are_rejected_and_change_nothing() {
        for cmd in [
            signal_external_cmd("", "", "ping"),
            signal_external_cmd("target", "", ""),
            signal_external_cmd("target", "other-namespace", "ping"),
        ] {
            let mut state = task_in_flight();
            let before = state.clone();
            let err =
                complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![cmd]), "r", T0)
                    .unwrap_err();
            assert!(
                matches!(
                    err,
                    EngineError::CommandRejected {
                        cause: Cause::BadSignalWorkflowExecutionAttributes,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(state, before);
        }
    }
}
