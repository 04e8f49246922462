//! `UpsertWorkflowSearchAttributes` → `UpsertWorkflowSearchAttributes` event, merged into the
//! run's search attributes (a `null` payload removes a key). Core sends it for
//! `TemporalChangeVersion`, so it must be accepted.

use temporalio_protos::temporal::api::{
    command::v1::UpsertWorkflowSearchAttributesCommandAttributes,
    history::v1::{UpsertWorkflowSearchAttributesEventAttributes, history_event::Attributes},
};

use super::{CommandContext, merge_payloads};
use crate::engine::{EngineError, apply::Apply};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &UpsertWorkflowSearchAttributesCommandAttributes,
) -> Result<(), EngineError> {
    if let Some(attributes) = &a.search_attributes {
        merge_payloads(&mut cx.state.search_attributes, &attributes.indexed_fields);
    }
    cx.append(Attributes::UpsertWorkflowSearchAttributesEventAttributes(
        UpsertWorkflowSearchAttributesEventAttributes {
            workflow_task_completed_event_id: ctx.completed_event_id,
            search_attributes: a.search_attributes.clone(),
        },
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        command::v1::{Command, command},
        common::v1::SearchAttributes,
        enums::v1::{CommandType, EventType},
    };

    use super::*;
    use crate::engine::{complete_workflow_task, test_support::*};

    #[test]
    fn upserts_and_records() {
        let mut state = task_in_flight();
        let cmd = Command {
            command_type: CommandType::UpsertWorkflowSearchAttributes as i32,
            attributes: Some(
                command::Attributes::UpsertWorkflowSearchAttributesCommandAttributes(
                    UpsertWorkflowSearchAttributesCommandAttributes {
                        search_attributes: Some(SearchAttributes {
                            indexed_fields: [("TemporalChangeVersion".to_string(), payload("v1"))]
                                .into_iter()
                                .collect(),
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
                EventType::UpsertWorkflowSearchAttributes
            ]
        );
        let described = state.describe().workflow_execution_info.unwrap();
        assert_eq!(
            described.search_attributes.unwrap().indexed_fields["TemporalChangeVersion"],
            payload("v1")
        );
    }
}
