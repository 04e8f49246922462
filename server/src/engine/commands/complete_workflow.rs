//! `CompleteWorkflowExecution` → `WorkflowExecutionCompleted`; the run closes. Refused with
//! `UNHANDLED_COMMAND` while events the workflow has not seen are buffered. A cron run starts
//! the next run of its schedule in the same batch, named by `new_execution_run_id`.

use temporalio_protos::temporal::api::{
    command::v1::CompleteWorkflowExecutionCommandAttributes,
    enums::v1::WorkflowExecutionStatus,
    history::v1::{WorkflowExecutionCompletedEventAttributes, history_event::Attributes},
};

use super::{CommandContext, ensure_nothing_buffered};
use crate::engine::{EngineError, apply::Apply, retry_workflow::after_completion};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &CompleteWorkflowExecutionCommandAttributes,
) -> Result<(), EngineError> {
    ensure_nothing_buffered(cx)?;
    let next = after_completion(cx.state, a.result.as_ref(), ctx.new_run_id, cx.now)?;
    cx.close(
        WorkflowExecutionStatus::Completed,
        Attributes::WorkflowExecutionCompletedEventAttributes(
            WorkflowExecutionCompletedEventAttributes {
                result: a.result.clone(),
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
    use crate::engine::{
        Effect, activity_task_started, complete_workflow_task, signal, test_support::*,
    };

    #[test]
    fn completes_and_abandons_pending_work() {
        let mut state = task_in_flight();
        let cmds = vec![
            schedule_activity_cmd("a", |_| {}),
            start_timer_cmd("t", 1_000),
            complete_cmd(),
        ];
        let t =
            complete_workflow_task(&mut state, 2, 3, 1, &completed_req(cmds), "run-2", T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::ActivityTaskScheduled,
                EventType::TimerStarted,
                EventType::WorkflowExecutionCompleted
            ]
        );
        let Some(A::WorkflowExecutionCompletedEventAttributes(c)) = &t.events[3].attributes else {
            panic!()
        };
        assert_eq!(c.workflow_task_completed_event_id, 4);
        assert_eq!(c.result, Some(payloads("done")));
        assert_eq!(t.effects, [Effect::Closed]);
        assert_eq!(state.status(), WorkflowExecutionStatus::Completed);
        assert!(state.pending_workflow_task().is_none());
        assert!(activity_task_started(&mut state, 5, 1, "w", "r", T0).is_err());
    }

    #[test]
    fn buffered_events_make_it_unhandled() {
        let mut state = task_in_flight();
        signal(&mut state, &signal_req("late", ""), T0).unwrap();
        let before = state.clone();
        let err = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![complete_cmd()]),
            "run-2",
            T0,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            EngineError::CommandRejected { cause: WorkflowTaskFailedCause::UnhandledCommand, ref message }
                if message == "UnhandledCommand"
        ));
        assert_eq!(state, before);
    }
}
