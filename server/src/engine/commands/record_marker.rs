//! `RecordMarker` → `MarkerRecorded` (local activities, versioning patches): opaque details.

use temporalio_protos::temporal::api::{
    command::v1::RecordMarkerCommandAttributes,
    enums::v1::WorkflowTaskFailedCause as Cause,
    history::v1::{MarkerRecordedEventAttributes, history_event::Attributes},
};

use super::CommandContext;
use crate::engine::{EngineError, apply::Apply};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &RecordMarkerCommandAttributes,
) -> Result<(), EngineError> {
    if a.marker_name.is_empty() {
        return Err(EngineError::rejected(
            Cause::BadRecordMarkerAttributes,
            "RecordMarker: marker_name is not set",
        ));
    }
    cx.append(Attributes::MarkerRecordedEventAttributes(
        MarkerRecordedEventAttributes {
            marker_name: a.marker_name.clone(),
            details: a.details.clone(),
            workflow_task_completed_event_id: ctx.completed_event_id,
            header: a.header.clone(),
            failure: a.failure.clone(),
        },
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        command::v1::{Command, command},
        enums::v1::{CommandType, EventType},
        history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{complete_workflow_task, test_support::*};

    fn marker(name: &str) -> Command {
        Command {
            command_type: CommandType::RecordMarker as i32,
            attributes: Some(command::Attributes::RecordMarkerCommandAttributes(
                RecordMarkerCommandAttributes {
                    marker_name: name.into(),
                    details: [("data".to_string(), payloads("x"))].into_iter().collect(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn records_opaque_details() {
        let mut state = task_in_flight();
        let t = complete_workflow_task(
            &mut state,
            2,
            3,
            1,
            &completed_req(vec![marker("core_local_activity")]),
            "run-2",
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [EventType::WorkflowTaskCompleted, EventType::MarkerRecorded]
        );
        let Some(A::MarkerRecordedEventAttributes(m)) = &t.events[1].attributes else {
            panic!()
        };
        assert_eq!(m.details["data"], payloads("x"));
        assert_eq!(m.workflow_task_completed_event_id, 4);
        assert!(matches!(
            complete_workflow_task(
                &mut state,
                2,
                3,
                1,
                &completed_req(vec![marker("")]),
                "run-2",
                T0
            ),
            Err(EngineError::NotFound(_))
        ));
        let mut state = task_in_flight();
        assert!(matches!(
            complete_workflow_task(
                &mut state,
                2,
                3,
                1,
                &completed_req(vec![marker("")]),
                "run-2",
                T0
            ),
            Err(EngineError::CommandRejected {
                cause: Cause::BadRecordMarkerAttributes,
                ..
            })
        ));
    }
}
