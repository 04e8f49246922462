//! `CancelWorkflowExecution` → `WorkflowExecutionCanceled`; the run closes. Refused with
//! `UNHANDLED_COMMAND` while events the workflow has not seen are buffered.

use temporalio_protos::temporal::api::{
    command::v1::CancelWorkflowExecutionCommandAttributes,
    enums::v1::WorkflowExecutionStatus,
    history::v1::{WorkflowExecutionCanceledEventAttributes, history_event::Attributes},
};

use super::{CommandContext, ensure_nothing_buffered};
use crate::engine::{EngineError, apply::Apply};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &CancelWorkflowExecutionCommandAttributes,
) -> Result<(), EngineError> {
    ensure_nothing_buffered(cx)?;
    cx.close(
        WorkflowExecutionStatus::Canceled,
        Attributes::WorkflowExecutionCanceledEventAttributes(
            WorkflowExecutionCanceledEventAttributes {
                workflow_task_completed_event_id: ctx.completed_event_id,
                details: a.details.clone(),
            },
        ),
    );
    ctx.closed = true;
    Ok(())
}
