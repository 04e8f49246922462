//! `StartChildWorkflowExecution` → `StartChildWorkflowExecutionInitiated`, the child recorded
//! as pending, and [`Effect::StartChild`]: the caller's outbox starts the child run and records
//! the outcome on this run (see `engine/child.rs`). Children live in the parent's namespace.

use temporalio_protos::temporal::api::{
    command::v1::StartChildWorkflowExecutionCommandAttributes,
    enums::v1::{TaskQueueKind, WorkflowTaskFailedCause as Cause},
    history::v1::{StartChildWorkflowExecutionInitiatedEventAttributes, history_event::Attributes},
    taskqueue::v1::TaskQueue,
};

use super::CommandContext;
use crate::engine::{
    ChildInfo, Effect, EngineError, apply::Apply, cron::CronSchedule, time::duration_ms,
};

#[allow(deprecated)] // `namespace` and `control` are deprecated but still on the wire.
pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &StartChildWorkflowExecutionCommandAttributes,
) -> Result<(), EngineError> {
    let bad =
        |message: String| EngineError::rejected(Cause::BadStartChildExecutionAttributes, message);
    if a.workflow_id.is_empty() {
        return Err(bad("workflow_id is required".into()));
    }
    if a.workflow_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return Err(bad("workflow_type.name is required".into()));
    }
    if !a.namespace.is_empty() && a.namespace != cx.state.namespace {
        return Err(bad(
            "child workflows in another namespace are not supported by Lockstep yet".into(),
        ));
    }
    if !a.cron_schedule.is_empty() {
        let schedule = CronSchedule::parse(&a.cron_schedule)
            .map_err(|problem| bad(format!("invalid cron_schedule: {problem}")))?;
        if schedule.backoff_ms(cx.now, cx.now).is_none() {
            return Err(bad("invalid cron_schedule: no time satisfies it".into()));
        }
    }
    for (value, field) in [
        (&a.workflow_execution_timeout, "workflow_execution_timeout"),
        (&a.workflow_run_timeout, "workflow_run_timeout"),
        (&a.workflow_task_timeout, "workflow_task_timeout"),
    ] {
        duration_ms(value.as_ref(), field).map_err(|e| bad(e.to_string()))?;
    }
    let mut command = a.clone();
    command.namespace = cx.state.namespace.clone();
    let queue = a
        .task_queue
        .as_ref()
        .map(|q| q.name.clone())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| cx.state.task_queue.clone());
    command.task_queue = Some(TaskQueue {
        name: queue,
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    });
    let control = command.control.clone();
    let initiated_event_id = cx.append(
        Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(
            StartChildWorkflowExecutionInitiatedEventAttributes {
                namespace: command.namespace.clone(),
                workflow_id: command.workflow_id.clone(),
                workflow_type: command.workflow_type.clone(),
                task_queue: command.task_queue.clone(),
                input: command.input.clone(),
                workflow_execution_timeout: command.workflow_execution_timeout,
                workflow_run_timeout: command.workflow_run_timeout,
                workflow_task_timeout: command.workflow_task_timeout,
                parent_close_policy: command.parent_close_policy,
                control,
                workflow_task_completed_event_id: ctx.completed_event_id,
                workflow_id_reuse_policy: command.workflow_id_reuse_policy,
                retry_policy: command.retry_policy.clone(),
                header: command.header.clone(),
                memo: command.memo.clone(),
                search_attributes: command.search_attributes.clone(),
                priority: command.priority.clone(),
                ..Default::default()
            },
        ),
    );
    cx.state.children.insert(
        initiated_event_id,
        ChildInfo {
            initiated_event_id,
            command: Some(command),
            workflow_task_completed_event_id: ctx.completed_event_id,
            ..Default::default()
        },
    );
    cx.effect(Effect::StartChild { initiated_event_id });
    Ok(())
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{child_start, complete_workflow_task, test_support::*};

    #[test]
    fn initiates_and_asks_the_outbox_to_start_it() {
        let mut state = task_in_flight();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![start_child_cmd("child-1")]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::StartChildWorkflowExecutionInitiated
            ]
        );
        let Some(A::StartChildWorkflowExecutionInitiatedEventAttributes(a)) =
            &t.events[1].attributes
        else {
            panic!()
        };
        assert_eq!(a.workflow_id, "child-1");
        assert_eq!(
            a.task_queue.as_ref().unwrap().name,
            TASK_QUEUE,
            "parent's queue"
        );
        assert_eq!(a.workflow_task_completed_event_id, 4);
        assert_eq!(
            t.effects,
            [Effect::StartChild {
                initiated_event_id: 5
            }]
        );
        let (request, lineage) = child_start(&state, 5).unwrap();
        assert_eq!(request.workflow_id, "child-1");
        assert_eq!(request.request_id, "child:run-1:5");
        assert_eq!(request.input, Some(payloads("child-in")));
        let parent = lineage.parent.unwrap();
        assert_eq!(
            (
                parent.workflow_id.as_str(),
                parent.run_id.as_str(),
                parent.initiated_event_id
            ),
            (WORKFLOW_ID, "run-1", 5)
        );
        assert_eq!(lineage.root, Some(state.execution()));
        assert!(child_start(&state, 4).is_none());
    }

    #[test]
    fn missing_workflow_id_is_rejected() {
        let mut state = task_in_flight();
        let before = state.clone();
        let err = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![start_child_cmd("")]),
            "run-2",
            T0,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            EngineError::CommandRejected {
                cause: Cause::BadStartChildExecutionAttributes,
                ..
            }
        ));
        assert_eq!(state, before);
    }
}
