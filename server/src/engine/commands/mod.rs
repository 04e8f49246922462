//! The workflow commands of a completed workflow task, one file per command. Each handler
//! validates its command, writes its event(s) with `workflow_task_completed_event_id`, and
//! updates the state; a bad command rejects the whole completion
//! ([`EngineError::CommandRejected`]) with the `BAD_*` cause Temporal uses for it.

mod cancel_timer;
mod cancel_workflow;
mod complete_workflow;
mod continue_as_new;
mod fail_workflow;
mod modify_workflow_properties;
mod record_marker;
mod request_cancel_activity;
mod request_cancel_external;
mod schedule_activity;
mod signal_external;
mod start_child_workflow;
mod start_timer;
mod upsert_search_attributes;

use std::collections::{BTreeMap, HashMap};

use temporalio_protos::temporal::api::{
    command::v1::{Command, command::Attributes as C},
    common::v1::Payload,
    enums::v1::{CommandType, WorkflowTaskFailedCause as Cause},
};

use crate::engine::{EngineError, apply::Apply, update};

/// What the commands of one completion share and produce.
pub(crate) struct CommandContext<'r> {
    /// Id of the `WorkflowTaskCompleted` event the command events point back to.
    pub(crate) completed_event_id: i64,
    /// The completing worker's identity.
    pub(crate) identity: &'r str,
    /// The run id a `ContinueAsNewWorkflowExecution` gives the new run (chosen by the caller:
    /// the engine draws no randomness).
    pub(crate) new_run_id: &'r str,
    /// A command produced an event the workflow has not seen yet: schedule a new task.
    pub(crate) new_task: bool,
    /// A command closed the run.
    pub(crate) closed: bool,
    /// The completion's update messages, taken by `PROTOCOL_MESSAGE` commands.
    pub(crate) answers: update::Answers,
}

impl<'r> CommandContext<'r> {
    pub(crate) fn new(completed_event_id: i64, identity: &'r str, new_run_id: &'r str) -> Self {
        CommandContext {
            completed_event_id,
            identity,
            new_run_id,
            new_task: false,
            closed: false,
            answers: update::Answers::default(),
        }
    }
}

/// Refuses a completion whose closing command is not the last one.
pub(crate) fn check_sequence(commands: &[Command]) -> Result<(), EngineError> {
    let closing = commands.iter().position(|c| is_closing(command_type(c)));
    match closing {
        Some(index) if index + 1 < commands.len() => {
            let ty = command_type(&commands[index]);
            Err(EngineError::rejected(
                bad_cause(ty),
                format!(
                    "invalid command sequence: {} must be the last command",
                    ty.as_str_name()
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Applies the commands in order.
pub(crate) fn apply_all(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    commands: &[Command],
) -> Result<(), EngineError> {
    commands
        .iter()
        .try_for_each(|command| apply_one(cx, ctx, command))
}

fn apply_one(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    command: &Command,
) -> Result<(), EngineError> {
    use CommandType as T;
    let ty = command_type(command);
    match (ty, &command.attributes) {
        (T::ScheduleActivityTask, Some(C::ScheduleActivityTaskCommandAttributes(a))) => {
            schedule_activity::apply(cx, ctx, a)
        }
        (T::RequestCancelActivityTask, Some(C::RequestCancelActivityTaskCommandAttributes(a))) => {
            request_cancel_activity::apply(cx, ctx, a)
        }
        (T::StartTimer, Some(C::StartTimerCommandAttributes(a))) => start_timer::apply(cx, ctx, a),
        (T::CancelTimer, Some(C::CancelTimerCommandAttributes(a))) => {
            cancel_timer::apply(cx, ctx, a)
        }
        (T::CompleteWorkflowExecution, Some(C::CompleteWorkflowExecutionCommandAttributes(a))) => {
            complete_workflow::apply(cx, ctx, a)
        }
        (T::FailWorkflowExecution, Some(C::FailWorkflowExecutionCommandAttributes(a))) => {
            fail_workflow::apply(cx, ctx, a)
        }
        (T::CancelWorkflowExecution, Some(C::CancelWorkflowExecutionCommandAttributes(a))) => {
            cancel_workflow::apply(cx, ctx, a)
        }
        (T::RecordMarker, Some(C::RecordMarkerCommandAttributes(a))) => {
            record_marker::apply(cx, ctx, a)
        }
        (
            T::ContinueAsNewWorkflowExecution,
            Some(C::ContinueAsNewWorkflowExecutionCommandAttributes(a)),
        ) => continue_as_new::apply(cx, ctx, a),
        (
            T::StartChildWorkflowExecution,
            Some(C::StartChildWorkflowExecutionCommandAttributes(a)),
        ) => start_child_workflow::apply(cx, ctx, a),
        (
            T::UpsertWorkflowSearchAttributes,
            Some(C::UpsertWorkflowSearchAttributesCommandAttributes(a)),
        ) => upsert_search_attributes::apply(cx, ctx, a),
        (T::ModifyWorkflowProperties, Some(C::ModifyWorkflowPropertiesCommandAttributes(a))) => {
            modify_workflow_properties::apply(cx, ctx, a)
        }
        (T::ProtocolMessage, Some(C::ProtocolMessageCommandAttributes(a))) => {
            update::protocol_message(cx, ctx, a)
        }
        (
            T::SignalExternalWorkflowExecution,
            Some(C::SignalExternalWorkflowExecutionCommandAttributes(a)),
        ) => signal_external::apply(cx, ctx, a),
        (
            T::RequestCancelExternalWorkflowExecution,
            Some(C::RequestCancelExternalWorkflowExecutionCommandAttributes(a)),
        ) => request_cancel_external::apply(cx, ctx, a),
        (ty, _) if is_supported(ty) => Err(EngineError::rejected(
            bad_cause(ty),
            format!(
                "command {} has missing or mismatched attributes",
                ty.as_str_name()
            ),
        )),
        (ty, _) => Err(EngineError::rejected(
            bad_cause(ty),
            format!(
                "command {} is not supported by Lockstep yet",
                ty.as_str_name()
            ),
        )),
    }
}

fn command_type(command: &Command) -> CommandType {
    CommandType::try_from(command.command_type).unwrap_or(CommandType::Unspecified)
}

fn is_supported(ty: CommandType) -> bool {
    use CommandType as T;
    matches!(
        ty,
        T::ScheduleActivityTask
            | T::RequestCancelActivityTask
            | T::StartTimer
            | T::CancelTimer
            | T::CompleteWorkflowExecution
            | T::FailWorkflowExecution
            | T::CancelWorkflowExecution
            | T::RecordMarker
            | T::UpsertWorkflowSearchAttributes
            | T::ModifyWorkflowProperties
            | T::ContinueAsNewWorkflowExecution
            | T::StartChildWorkflowExecution
            | T::ProtocolMessage
            | T::SignalExternalWorkflowExecution
            | T::RequestCancelExternalWorkflowExecution
    )
}

fn is_closing(ty: CommandType) -> bool {
    use CommandType as T;
    matches!(
        ty,
        T::CompleteWorkflowExecution
            | T::FailWorkflowExecution
            | T::CancelWorkflowExecution
            | T::ContinueAsNewWorkflowExecution
    )
}

/// The `WorkflowTaskFailed` cause for a bad command of type `ty`.
fn bad_cause(ty: CommandType) -> Cause {
    use CommandType as T;
    match ty {
        T::ScheduleActivityTask => Cause::BadScheduleActivityAttributes,
        T::RequestCancelActivityTask => Cause::BadRequestCancelActivityAttributes,
        T::StartTimer => Cause::BadStartTimerAttributes,
        T::CancelTimer => Cause::BadCancelTimerAttributes,
        T::CompleteWorkflowExecution => Cause::BadCompleteWorkflowExecutionAttributes,
        T::FailWorkflowExecution => Cause::BadFailWorkflowExecutionAttributes,
        T::CancelWorkflowExecution => Cause::BadCancelWorkflowExecutionAttributes,
        T::RequestCancelExternalWorkflowExecution => {
            Cause::BadRequestCancelExternalWorkflowExecutionAttributes
        }
        T::RecordMarker => Cause::BadRecordMarkerAttributes,
        T::ContinueAsNewWorkflowExecution => Cause::BadContinueAsNewAttributes,
        T::StartChildWorkflowExecution => Cause::BadStartChildExecutionAttributes,
        T::SignalExternalWorkflowExecution => Cause::BadSignalWorkflowExecutionAttributes,
        T::UpsertWorkflowSearchAttributes => Cause::BadSearchAttributes,
        T::ProtocolMessage => Cause::BadUpdateWorkflowExecutionMessage,
        T::ModifyWorkflowProperties => Cause::BadModifyWorkflowPropertiesAttributes,
        T::ScheduleNexusOperation => Cause::BadScheduleNexusOperationAttributes,
        T::RequestCancelNexusOperation => Cause::BadRequestCancelNexusOperationAttributes,
        T::Unspecified => Cause::Unspecified,
    }
}

/// Temporal's rule: a workflow task may not close the run while events it has not seen are
/// buffered; it is failed with `UNHANDLED_COMMAND` and the SDK replays with the new events.
fn ensure_nothing_buffered(cx: &Apply<'_>) -> Result<(), EngineError> {
    if cx.state.buffered_events.is_empty() {
        Ok(())
    } else {
        Err(EngineError::rejected(
            Cause::UnhandledCommand,
            "UnhandledCommand",
        ))
    }
}

/// Upserts `fields` into `map`; a `null` (or empty) payload removes the key.
pub(crate) fn merge_payloads(
    map: &mut BTreeMap<String, Payload>,
    fields: &HashMap<String, Payload>,
) {
    for (key, value) in fields {
        if value.data.is_empty() || value.data == b"null" {
            map.remove(key);
        } else {
            map.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::command::v1::ScheduleNexusOperationCommandAttributes;

    use super::*;
    use crate::engine::{complete_workflow_task, test_support::*};

    #[test]
    fn unsupported_commands_name_the_command() {
        let mut state = task_in_flight();
        let before = state.clone();
        let cmd = Command {
            command_type: CommandType::ScheduleNexusOperation as i32,
            attributes: Some(C::ScheduleNexusOperationCommandAttributes(
                ScheduleNexusOperationCommandAttributes::default(),
            )),
            ..Default::default()
        };
        let err =
            complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![cmd]), "run-2", T0)
                .unwrap_err();
        let EngineError::CommandRejected { cause, message } = err else {
            panic!("{err:?}")
        };
        assert_eq!(cause, Cause::BadScheduleNexusOperationAttributes);
        assert!(message.contains("SCHEDULE_NEXUS_OPERATION"), "{message}");
        assert!(message.contains("not supported by Lockstep yet"));
        assert_eq!(state, before);
    }

    #[test]
    fn mismatched_attributes_are_rejected() {
        let mut state = task_in_flight();
        let mut cmd = start_timer_cmd("t", 1000);
        cmd.command_type = CommandType::ScheduleActivityTask as i32;
        let err =
            complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![cmd]), "run-2", T0)
                .unwrap_err();
        assert!(matches!(
            err,
            EngineError::CommandRejected {
                cause: Cause::BadScheduleActivityAttributes,
                ..
            }
        ));
    }

    #[test]
    fn closing_command_must_be_last() {
        let mut state = task_in_flight();
        let cmds = vec![complete_cmd(), start_timer_cmd("t", 1000)];
        let err = complete_workflow_task(&mut state, 2, 3, 1, &completed_req(cmds), "run-2", T0)
            .unwrap_err();
        assert!(matches!(
            err,
            EngineError::CommandRejected {
                cause: Cause::BadCompleteWorkflowExecutionAttributes,
                ..
            }
        ));
    }
}
