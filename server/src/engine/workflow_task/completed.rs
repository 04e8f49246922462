//! RespondWorkflowTaskCompleted: `WorkflowTaskCompleted`, then one or more events per command
//! in command order, then the events buffered while the task ran, then a new workflow task if
//! the workflow has something new to see (buffered events, an activity canceled before it
//! started) or the worker asked for one (`force_create_new_workflow_task`).
//!
//! Update answers (`messages`) are recorded where their `PROTOCOL_MESSAGE` commands stand (see
//! `update/answer.rs`); a speculative task whose completion carries nothing but rejections is
//! dropped and writes nothing at all.
//!
//! Commands are applied on the transaction's copy of the state: a rejected command leaves the
//! caller's state untouched and surfaces as [`EngineError::CommandRejected`].

use temporalio_protos::temporal::api::{
    history::v1::{WorkflowTaskCompletedEventAttributes, history_event::Attributes},
    workflowservice::v1::RespondWorkflowTaskCompletedRequest,
};

use crate::engine::{
    EngineError, MutableState, Transition,
    apply::transact,
    commands::{self, CommandContext},
    update,
};

/// Completes the started task identified by the token's ids with the worker's commands.
/// `new_run_id` is the id a `ContinueAsNewWorkflowExecution` command gives the new run.
pub fn complete_workflow_task(
    state: &mut MutableState,
    scheduled_event_id: i64,
    started_event_id: i64,
    attempt: i32,
    req: &RespondWorkflowTaskCompletedRequest,
    new_run_id: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        let task = cx
            .state
            .started_task(scheduled_event_id, started_event_id, attempt)?
            .clone();
        let mut answers = update::Answers::parse(&req.messages)?;
        commands::check_sequence(&req.commands)?;
        super::sticky::set_stickiness(cx, req.sticky_attributes.as_ref());
        answers.apply_rejections(cx)?;
        if task.speculative
            && req.commands.is_empty()
            && !req.force_create_new_workflow_task
            && answers.only_rejections()
        {
            // Only rejections: the speculative task leaves no trace in history.
            cx.state.workflow_task = None;
            update::finish_task(cx, false);
            return Ok(());
        }

        cx.materialize_speculative();
        cx.state.workflow_task = None;
        #[allow(deprecated)] // Still sent by older SDKs; Temporal records it.
        let binary_checksum = req.binary_checksum.clone();
        #[allow(deprecated)]
        let completed_event_id = cx.append(Attributes::WorkflowTaskCompletedEventAttributes(
            WorkflowTaskCompletedEventAttributes {
                scheduled_event_id,
                started_event_id,
                identity: req.identity.clone(),
                binary_checksum,
                sdk_metadata: req.sdk_metadata.clone(),
                metering_metadata: req.metering_metadata,
                ..Default::default()
            },
        ));
        cx.state.previous_started_event_id = started_event_id;

        let mut ctx = CommandContext::new(completed_event_id, &req.identity, new_run_id);
        ctx.answers = answers;
        commands::apply_all(cx, &mut ctx, &req.commands)?;
        ctx.answers.apply_remaining(cx, ctx.closed)?;
        if ctx.closed {
            return Ok(());
        }
        let flushed = cx.flush_buffered();
        update::finish_task(
            cx,
            flushed || ctx.new_task || req.force_create_new_workflow_task,
        );
        Ok(())
    })
    .map(|(transition, ())| transition)
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
        sdk::v1::WorkflowTaskCompletedMetadata,
    };

    use super::*;
    use crate::engine::{Effect, signal, test_support::*};

    #[test]
    fn no_commands_writes_completed_only() {
        let mut state = task_in_flight();
        let mut req = completed_req(vec![]);
        req.sdk_metadata = Some(WorkflowTaskCompletedMetadata {
            core_used_flags: vec![1, 2],
            ..Default::default()
        });
        let t = complete_workflow_task(&mut state, 2, 3, 1, &req, "run-2", T0).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowTaskCompleted]);
        let Some(A::WorkflowTaskCompletedEventAttributes(a)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!((a.scheduled_event_id, a.started_event_id), (2, 3));
        assert_eq!(a.identity, "worker");
        assert_eq!(a.sdk_metadata.as_ref().unwrap().core_used_flags, [1, 2]);
        assert!(t.effects.is_empty());
        assert_eq!(state.previous_started_event_id(), 3);
        assert!(state.pending_workflow_task().is_none());
    }

    #[test]
    fn force_create_schedules_right_after_completed() {
        let mut state = task_in_flight();
        let mut req = completed_req(vec![]);
        req.force_create_new_workflow_task = true;
        let t = complete_workflow_task(&mut state, 2, 3, 1, &req, "run-2", T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert!(matches!(
            t.effects[..],
            [Effect::WorkflowTask {
                scheduled_event_id: 5,
                attempt: 1,
                ..
            }]
        ));
    }

    #[test]
    fn buffered_signal_lands_after_command_events() {
        let mut state = task_in_flight();
        signal(&mut state, &signal_req("s", ""), T0).unwrap();
        let req = completed_req(vec![start_timer_cmd("t1", 1_000)]);
        let t = complete_workflow_task(&mut state, 2, 3, 1, &req, "run-2", T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::TimerStarted,
                EventType::WorkflowExecutionSignaled,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert_eq!(ids(&t), [4, 5, 6, 7]);
        assert!(state.buffered_events.is_empty());
    }

    #[test]
    fn wrong_ids_or_attempt_are_not_found_and_change_nothing() {
        let mut state = task_in_flight();
        let before = state.clone();
        for (s, st, a) in [(1, 3, 1), (2, 3, 2), (2, 2, 1)] {
            assert!(matches!(
                complete_workflow_task(&mut state, s, st, a, &completed_req(vec![]), "run-2", T0),
                Err(EngineError::NotFound(_))
            ));
            assert_eq!(state, before);
        }
        complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![]), "run-2", T0).unwrap();
        assert!(matches!(
            complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![]), "run-2", T0),
            Err(EngineError::NotFound(_))
        ));
    }
}
