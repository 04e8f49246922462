//! RecordActivityTaskHeartbeat: stores the details and the time, and answers whether the
//! workflow asked for a cancellation. The heartbeat timer is not re-armed here: when it fires,
//! it compares the last heartbeat with `now` and re-arms itself for the new deadline (one
//! timer per attempt instead of one per heartbeat).

use temporalio_protos::temporal::api::common::v1::Payloads;

use crate::engine::{EngineError, MutableState, Transition, apply::transact, time::timestamp};

/// Records a heartbeat of the started attempt `attempt` of activity `scheduled_event_id`.
/// Returns the (currently always empty) transition and `cancel_requested`. NotFound when the
/// attempt is not the running one, which makes the SDK cancel the activity.
pub fn record_heartbeat(
    state: &mut MutableState,
    scheduled_event_id: i64,
    attempt: i32,
    details: Option<Payloads>,
    now: i64,
) -> Result<(Transition, bool), EngineError> {
    transact(state, now, |cx| {
        cx.state.started_activity(scheduled_event_id, attempt)?;
        let info = cx
            .state
            .activities
            .get_mut(&scheduled_event_id)
            .ok_or_else(|| EngineError::not_found("activity not found"))?;
        info.heartbeat_details = details;
        info.last_heartbeat_time = Some(timestamp(now));
        Ok(info.cancel_requested)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_support::*;

    #[test]
    fn stores_details_and_time() {
        let (mut state, sched) = activity_started(|_| {});
        let (t, cancel) =
            record_heartbeat(&mut state, sched, 1, Some(payloads("p")), T0 + 7).unwrap();
        assert!(t.is_empty());
        assert!(!cancel);
        let info = state.pending_activity(sched).unwrap();
        assert_eq!(info.heartbeat_details, Some(payloads("p")));
        assert_eq!(info.last_heartbeat_time, Some(timestamp(T0 + 7)));
        assert!(matches!(
            record_heartbeat(&mut state, sched, 2, None, T0),
            Err(EngineError::NotFound(_))
        ));
    }
}
