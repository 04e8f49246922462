//! Builders shared by the engine's unit tests.

use temporalio_protos::temporal::api::{
    command::v1::{
        CancelTimerCommandAttributes, CancelWorkflowExecutionCommandAttributes, Command,
        CompleteWorkflowExecutionCommandAttributes,
        ContinueAsNewWorkflowExecutionCommandAttributes, FailWorkflowExecutionCommandAttributes,
        RequestCancelActivityTaskCommandAttributes,
        RequestCancelExternalWorkflowExecutionCommandAttributes,
        ScheduleActivityTaskCommandAttributes, SignalExternalWorkflowExecutionCommandAttributes,
        StartChildWorkflowExecutionCommandAttributes, StartTimerCommandAttributes,
        command::Attributes as C,
    },
    common::v1::{ActivityType, Payload, Payloads, WorkflowExecution, WorkflowType},
    enums::v1::{CommandType, EventType},
    failure::v1::{ApplicationFailureInfo, Failure, failure::FailureInfo},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        RespondWorkflowTaskCompletedRequest, SignalWorkflowExecutionRequest,
        StartWorkflowExecutionRequest,
    },
};

use super::{
    MutableState, ParentInfo, RunLineage, Transition, activity_task_started,
    complete_workflow_task, signal, start_workflow, time::duration, workflow_task_started,
};

pub(crate) const T0: i64 = 1_700_000_000_000;
pub(crate) const TASK_QUEUE: &str = "tq";
pub(crate) const WORKFLOW_ID: &str = "wf-1";
pub(crate) const WORKFLOW_TYPE: &str = "MyWorkflow";

pub(crate) fn start_req() -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: WORKFLOW_ID.into(),
        workflow_type: Some(WorkflowType {
            name: WORKFLOW_TYPE.into(),
        }),
        task_queue: Some(TaskQueue {
            name: TASK_QUEUE.into(),
            ..Default::default()
        }),
        identity: "client".into(),
        request_id: "start-req".into(),
        ..Default::default()
    }
}

/// A fresh run: Started(1), WorkflowTaskScheduled(2).
pub(crate) fn started() -> (MutableState, Transition) {
    start_workflow(&start_req(), "run-1", T0).expect("start")
}

/// A fresh run whose first task (scheduled 2) is started (3).
pub(crate) fn task_in_flight() -> MutableState {
    let (mut state, _) = started();
    workflow_task_started(&mut state, 2, 1, "worker", "poll-1", T0).expect("task started");
    state
}

/// A run whose first task completed without commands: nothing pending, next event 5.
pub(crate) fn idle_state() -> MutableState {
    let mut state = task_in_flight();
    complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![]), "run-2", T0)
        .expect("complete");
    state
}

/// A completed run.
pub(crate) fn closed_state() -> MutableState {
    let mut state = task_in_flight();
    complete_workflow_task(
        &mut state,
        2,
        3,
        1,
        &completed_req(vec![complete_cmd()]),
        "run-2",
        T0,
    )
    .expect("complete");
    state
}

/// A fresh run whose first task (2/3) completed with `commands` at T0 ("run-2" for a new run);
/// the state afterwards and the transition.
pub(crate) fn first_task_completed(commands: Vec<Command>) -> (MutableState, Transition) {
    let mut state = task_in_flight();
    let t = complete_workflow_task(&mut state, 2, 3, 1, &completed_req(commands), "run-2", T0)
        .expect("complete the first task");
    (state, t)
}

/// The lineage of a child run of "parent" (run "p-run", initiated event 5).
pub(crate) fn child_lineage() -> RunLineage {
    RunLineage {
        parent: Some(ParentInfo {
            namespace: "default".into(),
            workflow_id: "parent".into(),
            run_id: "p-run".into(),
            initiated_event_id: 5,
        }),
        ..Default::default()
    }
}

/// Makes sure a workflow task is pending (signalling if needed), starts it and returns its
/// scheduled and started event ids.
pub(crate) fn run_task(state: &mut MutableState) -> (i64, i64) {
    if state.pending_workflow_task().is_none() {
        signal(state, &signal_req("poke", ""), T0).expect("signal");
    }
    let task = state.pending_workflow_task().expect("pending task").clone();
    workflow_task_started(
        state,
        task.scheduled_event_id,
        task.attempt,
        "worker",
        "p",
        T0,
    )
    .expect("task started");
    let task = state.pending_workflow_task().expect("started task");
    (task.scheduled_event_id, task.started_event_id)
}

/// A run with activity "act-1" scheduled (event 5) and no workflow task pending.
pub(crate) fn activity_scheduled(
    edit: impl FnOnce(&mut ScheduleActivityTaskCommandAttributes),
) -> (MutableState, i64) {
    let mut state = task_in_flight();
    let cmd = schedule_activity_cmd("act-1", edit);
    complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![cmd]), "run-2", T0)
        .expect("schedule");
    (state, 5)
}

/// Like [`activity_scheduled`], with attempt 1 started at T0 by "w1".
pub(crate) fn activity_started(
    edit: impl FnOnce(&mut ScheduleActivityTaskCommandAttributes),
) -> (MutableState, i64) {
    let (mut state, sched) = activity_scheduled(edit);
    activity_task_started(&mut state, sched, 1, "w1", "req-1", T0).expect("activity started");
    (state, sched)
}

pub(crate) fn signal_req(name: &str, request_id: &str) -> SignalWorkflowExecutionRequest {
    SignalWorkflowExecutionRequest {
        signal_name: name.into(),
        request_id: request_id.into(),
        identity: "client".into(),
        ..Default::default()
    }
}

pub(crate) fn completed_req(commands: Vec<Command>) -> RespondWorkflowTaskCompletedRequest {
    RespondWorkflowTaskCompletedRequest {
        commands,
        identity: "worker".into(),
        ..Default::default()
    }
}

fn command(command_type: CommandType, attributes: C) -> Command {
    Command {
        command_type: command_type as i32,
        attributes: Some(attributes),
        ..Default::default()
    }
}

pub(crate) fn schedule_activity_cmd(
    activity_id: &str,
    edit: impl FnOnce(&mut ScheduleActivityTaskCommandAttributes),
) -> Command {
    let mut a = ScheduleActivityTaskCommandAttributes {
        activity_id: activity_id.into(),
        activity_type: Some(ActivityType {
            name: "DoIt".into(),
        }),
        input: Some(payloads("in")),
        start_to_close_timeout: Some(duration(10_000)),
        ..Default::default()
    };
    edit(&mut a);
    command(
        CommandType::ScheduleActivityTask,
        C::ScheduleActivityTaskCommandAttributes(a),
    )
}

pub(crate) fn cancel_activity_cmd(scheduled_event_id: i64) -> Command {
    command(
        CommandType::RequestCancelActivityTask,
        C::RequestCancelActivityTaskCommandAttributes(RequestCancelActivityTaskCommandAttributes {
            scheduled_event_id,
        }),
    )
}

pub(crate) fn start_timer_cmd(timer_id: &str, ms: i64) -> Command {
    command(
        CommandType::StartTimer,
        C::StartTimerCommandAttributes(StartTimerCommandAttributes {
            timer_id: timer_id.into(),
            start_to_fire_timeout: Some(duration(ms)),
        }),
    )
}

pub(crate) fn cancel_timer_cmd(timer_id: &str) -> Command {
    command(
        CommandType::CancelTimer,
        C::CancelTimerCommandAttributes(CancelTimerCommandAttributes {
            timer_id: timer_id.into(),
        }),
    )
}

pub(crate) fn complete_cmd() -> Command {
    command(
        CommandType::CompleteWorkflowExecution,
        C::CompleteWorkflowExecutionCommandAttributes(CompleteWorkflowExecutionCommandAttributes {
            result: Some(payloads("done")),
        }),
    )
}

pub(crate) fn fail_cmd(message: &str) -> Command {
    command(
        CommandType::FailWorkflowExecution,
        C::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes {
            failure: Some(Failure {
                message: message.into(),
                ..Default::default()
            }),
        }),
    )
}

pub(crate) fn cancel_workflow_cmd() -> Command {
    command(
        CommandType::CancelWorkflowExecution,
        C::CancelWorkflowExecutionCommandAttributes(CancelWorkflowExecutionCommandAttributes {
            details: None,
        }),
    )
}

pub(crate) fn continue_as_new_cmd(input: &str) -> Command {
    command(
        CommandType::ContinueAsNewWorkflowExecution,
        C::ContinueAsNewWorkflowExecutionCommandAttributes(
            ContinueAsNewWorkflowExecutionCommandAttributes {
                input: Some(payloads(input)),
                ..Default::default()
            },
        ),
    )
}

pub(crate) fn start_child_cmd(workflow_id: &str) -> Command {
    command(
        CommandType::StartChildWorkflowExecution,
        C::StartChildWorkflowExecutionCommandAttributes(
            StartChildWorkflowExecutionCommandAttributes {
                workflow_id: workflow_id.into(),
                workflow_type: Some(WorkflowType {
                    name: "ChildWorkflow".into(),
                }),
                input: Some(payloads("child-in")),
                ..Default::default()
            },
        ),
    )
}

pub(crate) fn signal_external_cmd(
    workflow_id: &str,
    namespace: &str,
    signal_name: &str,
) -> Command {
    #[allow(deprecated)]
    let attributes = SignalExternalWorkflowExecutionCommandAttributes {
        namespace: namespace.into(),
        execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: String::new(),
        }),
        signal_name: signal_name.into(),
        input: Some(payloads("ping-in")),
        ..Default::default()
    };
    command(
        CommandType::SignalExternalWorkflowExecution,
        C::SignalExternalWorkflowExecutionCommandAttributes(attributes),
    )
}

pub(crate) fn cancel_external_cmd(workflow_id: &str, child_workflow_only: bool) -> Command {
    command(
        CommandType::RequestCancelExternalWorkflowExecution,
        C::RequestCancelExternalWorkflowExecutionCommandAttributes(
            RequestCancelExternalWorkflowExecutionCommandAttributes {
                workflow_id: workflow_id.into(),
                child_workflow_only,
                reason: "stop".into(),
                ..Default::default()
            },
        ),
    )
}

/// A running parent whose first task started child "child-1" (initiated event 5); no workflow
/// task pending.
pub(crate) fn parent_with_child() -> MutableState {
    let mut state = task_in_flight();
    complete_workflow_task(
        &mut state,
        2,
        3,
        1,
        &completed_req(vec![start_child_cmd("child-1")]),
        "run-2",
        T0,
    )
    .expect("start child");
    state
}

pub(crate) fn payload(data: &str) -> Payload {
    Payload {
        data: data.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub(crate) fn payloads(data: &str) -> Payloads {
    Payloads {
        payloads: vec![payload(data)],
    }
}

/// An application failure with `message` (its type is "AppError").
pub(crate) fn app_failure(message: &str, non_retryable: bool) -> Failure {
    Failure {
        message: message.into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: "AppError".into(),
                non_retryable,
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

pub(crate) fn types(t: &Transition) -> Vec<EventType> {
    t.events
        .iter()
        .map(|e| EventType::try_from(e.event_type).unwrap_or(EventType::Unspecified))
        .collect()
}

pub(crate) fn ids(t: &Transition) -> Vec<i64> {
    t.events.iter().map(|e| e.event_id).collect()
}
