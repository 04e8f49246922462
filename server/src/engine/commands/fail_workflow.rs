//! `FailWorkflowExecution` → `WorkflowExecutionFailed`; the run closes. Refused with
//! `UNHANDLED_COMMAND` while events the workflow has not seen are buffered. When the retry
//! policy or the cron schedule asks for it, the next run starts in the same batch and the
//! event names it (`new_execution_run_id`, `retry_state`: see `engine/retry_workflow.rs`).

use temporalio_protos::temporal::api::{
    command::v1::FailWorkflowExecutionCommandAttributes,
    enums::v1::WorkflowExecutionStatus,
    history::v1::{WorkflowExecutionFailedEventAttributes, history_event::Attributes},
};

use super::{CommandContext, ensure_nothing_buffered};
use crate::engine::{EngineError, apply::Apply, retry_workflow::after_failure};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &FailWorkflowExecutionCommandAttributes,
) -> Result<(), EngineError> {
    ensure_nothing_buffered(cx)?;
    let failure = a.failure.clone().unwrap_or_default();
    let (retry_state, next) = after_failure(cx.state, &failure, ctx.new_run_id, cx.now)?;
    cx.close(
        WorkflowExecutionStatus::Failed,
        Attributes::WorkflowExecutionFailedEventAttributes(
            WorkflowExecutionFailedEventAttributes {
                failure: a.failure.clone(),
                retry_state: retry_state as i32,
                workflow_task_completed_event_id: ctx.completed_event_id,
                new_execution_run_id: next.as_ref().map(|n| n.run_id.clone()).unwrap_or_default(),
            },
        ),
    );
    if let Some(next) = next {
        cx.continue_with(next);
    }
    ctx.closed = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::{EventType, WorkflowTaskFailedCause},
        history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{Effect, complete_workflow_task, signal, test_support::*};

    #[test]
    fn fails_the_run() {
        let mut state = task_in_flight();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![fail_cmd("bad")]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::WorkflowExecutionFailed
            ]
        );
        let Some(A::WorkflowExecutionFailedEventAttributes(f)) = &t.events[1].attributes else {
            panic!()
        };
        assert_eq!(f.failure.as_ref().unwrap().message, "bad");
        assert_eq!(t.effects, [Effect::Closed]);
        assert_eq!(state.status(), WorkflowExecutionStatus::Failed);
    }

    #[test]
    fn buffered_events_make_it_unhandled() {
        let mut state = task_in_flight();
        signal(&mut state, &signal_req("late", ""), T0).unwrap();
        assert!(matches!(
            complete_workflow_task(
                &mut state,
                2,
                3,
                1,
                &completed_req(vec![fail_cmd("bad")]),
                "run-2",
                T0
            ),
            Err(EngineError::CommandRejected {
                cause: WorkflowTaskFailedCause::UnhandledCommand,
                ..
            })
        ));
    }
}
