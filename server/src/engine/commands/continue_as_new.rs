//! `ContinueAsNewWorkflowExecution` → `WorkflowExecutionContinuedAsNew`; the run closes and a
//! new run of the same workflow id starts in the same batch ([`Effect::StartRun`]): same
//! `first_execution_run_id`, `continued_execution_run_id` = this run, attempt 1, and the
//! command's input, type, task queue and timeouts (unset ones inherited from this run), with
//! the parent, the root and the execution deadline carried over; `backoff_start_interval`
//! delays its first workflow task. Refused with `UNHANDLED_COMMAND` while events the workflow
//! has not seen are buffered.

use std::collections::HashMap;

use temporalio_protos::temporal::api::{
    command::v1::ContinueAsNewWorkflowExecutionCommandAttributes,
    common::v1::{Memo, SearchAttributes, WorkflowType},
    enums::v1::{
        ContinueAsNewInitiator, TaskQueueKind, WorkflowExecutionStatus,
        WorkflowTaskFailedCause as Cause,
    },
    history::v1::{WorkflowExecutionContinuedAsNewEventAttributes, history_event::Attributes},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::StartWorkflowExecutionRequest,
};

use super::{CommandContext, ensure_nothing_buffered};
use crate::engine::{
    Effect, EngineError, NewRun, RunLineage,
    apply::Apply,
    start_run,
    time::{duration_ms, opt_duration},
};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &ContinueAsNewWorkflowExecutionCommandAttributes,
) -> Result<(), EngineError> {
    ensure_nothing_buffered(cx)?;
    let bad = |message: String| EngineError::rejected(Cause::BadContinueAsNewAttributes, message);
    if !a.cron_schedule.is_empty() {
        return Err(bad("cron_schedule is not supported by Lockstep yet".into()));
    }
    let backoff_ms = duration_ms(a.backoff_start_interval.as_ref(), "backoff_start_interval")
        .map_err(|e| bad(e.to_string()))?;
    if ctx.new_run_id.is_empty() {
        return Err(bad("no run id for the new run".into()));
    }
    let state = &*cx.state;
    let workflow_type = a
        .workflow_type
        .clone()
        .filter(|t| !t.name.is_empty())
        .unwrap_or_else(|| WorkflowType {
            name: state.workflow_type.clone(),
        });
    let task_queue = TaskQueue {
        name: a
            .task_queue
            .as_ref()
            .map(|q| q.name.clone())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| state.task_queue.clone()),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    };
    let run_timeout = a
        .workflow_run_timeout
        .or_else(|| opt_duration(state.run_timeout_ms).filter(|_| state.execution_timeout_ms == 0));
    let task_timeout = a
        .workflow_task_timeout
        .or_else(|| opt_duration(state.workflow_task_timeout_ms));
    let memo = a.memo.clone().unwrap_or_else(|| Memo {
        fields: state.memo.clone().into_iter().collect::<HashMap<_, _>>(),
    });
    let search_attributes = a
        .search_attributes
        .clone()
        .unwrap_or_else(|| SearchAttributes {
            indexed_fields: state.search_attributes.clone().into_iter().collect(),
        });
    let initiator = match ContinueAsNewInitiator::try_from(a.initiator) {
        Ok(ContinueAsNewInitiator::Unspecified) | Err(_) => ContinueAsNewInitiator::Workflow,
        Ok(initiator) => initiator,
    } as i32;
    #[allow(deprecated)] // `failure` is how the SDKs still pass a continued failure.
    let continued_failure = a.failure.clone();
    let request = StartWorkflowExecutionRequest {
        namespace: state.namespace.clone(),
        workflow_id: state.workflow_id.clone(),
        workflow_type: Some(workflow_type.clone()),
        task_queue: Some(task_queue.clone()),
        input: a.input.clone(),
        workflow_execution_timeout: opt_duration(state.execution_timeout_ms),
        workflow_run_timeout: run_timeout,
        workflow_task_timeout: task_timeout,
        identity: ctx.identity.to_string(),
        retry_policy: a.retry_policy.clone(),
        memo: Some(memo.clone()),
        search_attributes: Some(search_attributes.clone()),
        header: a.header.clone(),
        continued_failure: continued_failure.clone(),
        last_completion_result: a.last_completion_result.clone(),
        ..Default::default()
    };
    let lineage = RunLineage {
        continued_execution_run_id: state.run_id.clone(),
        first_execution_run_id: state.first_execution_run_id.clone(),
        initiator,
        execution_expiration_ms: state.execution_expiration_ms,
        parent: state.parent.clone(),
        root: state.root.clone(),
        // The new run's first workflow task waits behind a durable timer.
        backoff_ms,
        ..Default::default()
    };
    // The new run must start: refuse the command now rather than fail the commit later.
    start_run(&request, ctx.new_run_id, &lineage, cx.now).map_err(|e| bad(e.to_string()))?;
    #[allow(deprecated)]
    let attributes = WorkflowExecutionContinuedAsNewEventAttributes {
        new_execution_run_id: ctx.new_run_id.to_string(),
        workflow_type: Some(workflow_type),
        task_queue: Some(task_queue),
        input: a.input.clone(),
        workflow_run_timeout: request.workflow_run_timeout,
        workflow_task_timeout: request.workflow_task_timeout,
        workflow_task_completed_event_id: ctx.completed_event_id,
        initiator,
        failure: continued_failure,
        last_completion_result: a.last_completion_result.clone(),
        header: a.header.clone(),
        memo: Some(memo),
        search_attributes: Some(search_attributes),
        ..Default::default()
    };
    cx.close(
        WorkflowExecutionStatus::ContinuedAsNew,
        Attributes::WorkflowExecutionContinuedAsNewEventAttributes(attributes),
    );
    cx.effect(Effect::StartRun(Box::new(NewRun {
        run_id: ctx.new_run_id.to_string(),
        request,
        lineage,
    })));
    ctx.closed = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{ParentInfo, complete_workflow_task, signal, start_run, test_support::*};

    fn continued() -> (crate::engine::MutableState, crate::engine::Transition) {
        let mut state = task_in_flight();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![continue_as_new_cmd("next")]),
            "run-2",
            T0,
        )
        .unwrap();
        (state, t)
    }

    #[test]
    fn closes_the_run_and_starts_the_next_one() {
        let (state, t) = continued();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::WorkflowExecutionContinuedAsNew
            ]
        );
        let Some(A::WorkflowExecutionContinuedAsNewEventAttributes(c)) = &t.events[1].attributes
        else {
            panic!()
        };
        assert_eq!(c.new_execution_run_id, "run-2");
        assert_eq!(c.workflow_task_completed_event_id, 4);
        assert_eq!(c.task_queue.as_ref().unwrap().name, TASK_QUEUE);
        assert_eq!(c.workflow_type.as_ref().unwrap().name, WORKFLOW_TYPE);
        assert_eq!(state.status(), WorkflowExecutionStatus::ContinuedAsNew);
        let [Effect::Closed, Effect::StartRun(new)] = &t.effects[..] else {
            panic!("{:?}", t.effects)
        };
        assert_eq!(new.run_id, "run-2");
        assert_eq!(new.lineage.continued_execution_run_id, "run-1");
        assert_eq!(new.lineage.first_execution_run_id, "run-1");
        let (next, started) = start_run(
            &new.request,
            &new.run_id,
            &new.lineage,
            state.close_time_ms(),
        )
        .unwrap();
        assert_eq!(
            types(&started),
            [
                EventType::WorkflowExecutionStarted,
                EventType::WorkflowTaskScheduled
            ]
        );
        let Some(A::WorkflowExecutionStartedEventAttributes(s)) = &started.events[0].attributes
        else {
            panic!()
        };
        assert_eq!(s.continued_execution_run_id, "run-1");
        assert_eq!(s.first_execution_run_id, "run-1");
        assert_eq!(s.original_execution_run_id, "run-2");
        assert_eq!(s.attempt, 1);
        assert_eq!(s.input, Some(payloads("next")));
        assert_eq!(
            s.initiator,
            ContinueAsNewInitiator::Workflow as i32,
            "initiated by the workflow"
        );
        assert_eq!(next.first_execution_run_id(), "run-1");
        assert_eq!(next.run_id(), "run-2");
        assert_eq!(next.workflow_id(), WORKFLOW_ID);
    }

    #[test]
    fn a_backoff_start_interval_holds_the_first_task_back() {
        let mut state = task_in_flight();
        let mut cmd = continue_as_new_cmd("later");
        if let Some(
            temporalio_protos::temporal::api::command::v1::command::Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(a),
        ) = cmd.attributes.as_mut()
        {
            a.backoff_start_interval = Some(crate::engine::time::duration(3_000));
        }
        let t = complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![cmd]), "run-2", T0)
            .unwrap();
        let [Effect::Closed, Effect::StartRun(new)] = &t.effects[..] else {
            panic!("{:?}", t.effects)
        };
        let (next, started) = start_run(&new.request, &new.run_id, &new.lineage, T0).unwrap();
        assert_eq!(types(&started), [EventType::WorkflowExecutionStarted]);
        assert!(next.pending_workflow_task().is_none());
    }

    #[test]
    fn buffered_events_make_it_unhandled() {
        let mut state = task_in_flight();
        signal(&mut state, &signal_req("late", ""), T0).unwrap();
        let err = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![continue_as_new_cmd("x")]),
            "run-2",
            T0,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            EngineError::CommandRejected {
                cause: Cause::UnhandledCommand,
                ..
            }
        ));
    }

    #[test]
    fn a_child_keeps_its_parent_and_does_not_notify_it() {
        let parent = ParentInfo {
            namespace: "default".into(),
            workflow_id: "parent".into(),
            run_id: "p-run".into(),
            initiated_event_id: 5,
        };
        let lineage = RunLineage {
            parent: Some(parent.clone()),
            ..Default::default()
        };
        let (mut state, _) = start_run(&start_req(), "run-1", &lineage, T0).unwrap();
        crate::engine::workflow_task_started(&mut state, 2, 1, "w", "p", T0).unwrap();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![continue_as_new_cmd("x")]),
            "run-2",
            T0,
        )
        .unwrap();
        let [Effect::Closed, Effect::StartRun(new)] = &t.effects[..] else {
            panic!("{:?}", t.effects)
        };
        assert_eq!(new.lineage.parent, Some(parent));
    }
}
