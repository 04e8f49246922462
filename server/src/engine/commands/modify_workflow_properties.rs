//! `ModifyWorkflowProperties` → `WorkflowPropertiesModified`: a memo upsert (a `null` payload
//! removes a key).

use temporalio_protos::temporal::api::{
    command::v1::ModifyWorkflowPropertiesCommandAttributes,
    history::v1::{WorkflowPropertiesModifiedEventAttributes, history_event::Attributes},
};

use super::{CommandContext, merge_payloads};
use crate::engine::{EngineError, apply::Apply};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &ModifyWorkflowPropertiesCommandAttributes,
) -> Result<(), EngineError> {
    if let Some(memo) = &a.upserted_memo {
        merge_payloads(&mut cx.state.memo, &memo.fields);
    }
    cx.append(Attributes::WorkflowPropertiesModifiedEventAttributes(
        WorkflowPropertiesModifiedEventAttributes {
            workflow_task_completed_event_id: ctx.completed_event_id,
            upserted_memo: a.upserted_memo.clone(),
        },
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        command::v1::{Command, command},
        common::v1::Memo,
        enums::v1::{CommandType, EventType},
    };

    use super::*;
    use crate::engine::{complete_workflow_task, test_support::*};

    #[test]
    fn upserts_memo() {
        let mut state = task_in_flight();
        let cmd = Command {
            command_type: CommandType::ModifyWorkflowProperties as i32,
            attributes: Some(
                command::Attributes::ModifyWorkflowPropertiesCommandAttributes(
                    ModifyWorkflowPropertiesCommandAttributes {
                        upserted_memo: Some(Memo {
                            fields: [("note".to_string(), payload("hi"))].into_iter().collect(),
                        }),
                    },
                ),
            ),
            ..Default::default()
        };
        let t = complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![cmd]), "run-2", T0)
            .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::WorkflowPropertiesModified
            ]
        );
        assert_eq!(state.memo["note"], payload("hi"));
    }
}
