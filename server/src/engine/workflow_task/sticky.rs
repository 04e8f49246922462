//! Sticky execution: which worker queue a run's next workflow tasks go to (see the module
//! docs of `workflow_task`).

use temporalio_protos::temporal::api::taskqueue::v1::StickyExecutionAttributes;

use crate::engine::{
    EngineError, MutableState, Transition,
    apply::{Apply, transact},
};

/// ResetStickyTaskQueue: later workflow tasks of the run go to the normal queue with the full
/// history (a task already waiting on the sticky queue keeps its timeout).
pub fn reset_stickiness(state: &mut MutableState, now: i64) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        cx.state.ensure_running()?;
        cx.clear_stickiness();
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// The worker's `sticky_attributes` make its queue the target of the next tasks; a completion
/// without them clears stickiness (Temporal's rule).
pub(crate) fn set_stickiness(cx: &mut Apply<'_>, attributes: Option<&StickyExecutionAttributes>) {
    let sticky = attributes
        .and_then(|a| a.worker_task_queue.as_ref().map(|q| (q, a)))
        .filter(|(queue, _)| !queue.name.is_empty());
    match sticky {
        Some((queue, attributes)) => {
            cx.state.sticky_task_queue = queue.name.clone();
            cx.state.sticky_schedule_to_start_ms = sticky_timeout_ms(attributes);
        }
        None => cx.clear_stickiness(),
    }
}

/// The sticky schedule-to-start timeout the worker asked for (the SDKs default to 10 s), kept
/// within 1 s – 10 min so a bad value can neither flood the server with timeouts nor park a
/// task on a dead worker's queue for long.
fn sticky_timeout_ms(attributes: &StickyExecutionAttributes) -> i64 {
    const DEFAULT_MS: i64 = 10_000;
    let asked = attributes
        .schedule_to_start_timeout
        .as_ref()
        .map_or(DEFAULT_MS, |d| {
            d.seconds
                .saturating_mul(1000)
                .saturating_add(i64::from(d.nanos) / 1_000_000)
        });
    if asked <= 0 {
        DEFAULT_MS
    } else {
        asked.clamp(1_000, 600_000)
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::{EventType, TaskQueueKind, TimeoutType},
        history::v1::history_event::Attributes as A,
        taskqueue::v1::TaskQueue,
    };

    use super::*;
    use crate::engine::{
        Effect, TimerKind, TimerTask, complete_workflow_task, fail_workflow_task, fire_timer,
        signal, test_support::*, workflow_task_started,
    };

    const STICKY: &str = "worker-1-sticky";

    fn sticky_attributes(timeout_secs: i64) -> StickyExecutionAttributes {
        StickyExecutionAttributes {
            worker_task_queue: Some(TaskQueue {
                name: STICKY.into(),
                kind: TaskQueueKind::Sticky as i32,
                normal_name: TASK_QUEUE.into(),
            }),
            schedule_to_start_timeout: Some(prost_wkt_types::Duration {
                seconds: timeout_secs,
                nanos: 0,
            }),
        }
    }

    /// A run whose first task completed with sticky attributes, then got a signal: its second
    /// task (scheduled 6) waits on the sticky queue.
    fn sticky_task_pending() -> MutableState {
        let mut state = task_in_flight();
        let mut req = completed_req(vec![]);
        req.sticky_attributes = Some(sticky_attributes(3));
        complete_workflow_task(&mut state, 2, 3, 1, &req, "run-2", T0).unwrap();
        let t = signal(&mut state, &signal_req("go", "sig-1"), T0 + 1).unwrap();
        assert_eq!(
            t.effects,
            [Effect::WorkflowTask {
                task_queue: STICKY.into(),
                scheduled_event_id: 6,
                attempt: 1,
            }]
        );
        state
    }

    #[test]
    fn sticky_attributes_send_the_next_task_to_the_worker_queue() {
        let state = sticky_task_pending();
        assert_eq!(state.sticky_task_queue(), Some(STICKY));
        assert_eq!(state.sticky_schedule_to_start_ms(), 3_000);
        let task = state.pending_workflow_task().unwrap();
        assert!(task.sticky);
        assert_eq!(task.task_queue, STICKY);
        assert_eq!(task.sticky_deadline_ms(), T0 + 1 + 3_000);
    }

    #[test]
    fn the_scheduled_event_records_the_sticky_queue() {
        let mut state = task_in_flight();
        let mut req = completed_req(vec![]);
        req.sticky_attributes = Some(sticky_attributes(3));
        req.force_create_new_workflow_task = true;
        let t = complete_workflow_task(&mut state, 2, 3, 1, &req, "run-2", T0).unwrap();
        let Some(A::WorkflowTaskScheduledEventAttributes(a)) = &t.events[1].attributes else {
            panic!("{t:?}")
        };
        let queue = a.task_queue.as_ref().unwrap();
        assert_eq!(queue.name, STICKY);
        assert_eq!(queue.kind, TaskQueueKind::Sticky as i32);
        assert_eq!(queue.normal_name, TASK_QUEUE);
    }

    #[test]
    fn a_completion_without_sticky_attributes_clears_stickiness() {
        let mut state = sticky_task_pending();
        workflow_task_started(&mut state, 6, 1, "worker", "poll", T0 + 2).unwrap();
        let mut req = completed_req(vec![]);
        req.force_create_new_workflow_task = true;
        let t = complete_workflow_task(&mut state, 6, 7, 1, &req, "run-2", T0 + 3).unwrap();
        assert_eq!(state.sticky_task_queue(), None);
        assert!(matches!(
            &t.effects[..],
            [Effect::WorkflowTask { task_queue, .. }] if task_queue == TASK_QUEUE
        ));
    }

    #[test]
    fn schedule_to_start_timeout_moves_the_task_to_the_normal_queue_same_attempt() {
        let mut state = sticky_task_pending();
        let timer = TimerTask::new(TimerKind::WorkflowTaskScheduleToStart, T0 + 3_001, 6, 1);
        let t = fire_timer(&mut state, &timer, T0 + 3_001).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskTimedOut,
                EventType::WorkflowTaskScheduled
            ]
        );
        let Some(A::WorkflowTaskTimedOutEventAttributes(a)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!(a.timeout_type, TimeoutType::ScheduleToStart as i32);
        assert_eq!((a.scheduled_event_id, a.started_event_id), (6, 0));
        assert_eq!(
            t.effects,
            [Effect::WorkflowTask {
                task_queue: TASK_QUEUE.into(),
                scheduled_event_id: 8,
                attempt: 1,
            }]
        );
        assert_eq!(state.sticky_task_queue(), None);
        assert!(!state.pending_workflow_task().unwrap().sticky);
        // Fired again, or for a task that started in time, it is stale.
        assert!(
            fire_timer(&mut state, &timer, T0 + 4_000)
                .unwrap()
                .unchanged
        );
        let mut started = sticky_task_pending();
        workflow_task_started(&mut started, 6, 1, "worker", "poll", T0 + 2).unwrap();
        assert!(
            fire_timer(&mut started, &timer, T0 + 3_001)
                .unwrap()
                .unchanged
        );
    }

    #[test]
    fn a_failed_sticky_task_clears_stickiness_and_keeps_its_attempt() {
        let mut state = sticky_task_pending();
        workflow_task_started(&mut state, 6, 1, "worker", "poll", T0 + 2).unwrap();
        let t = fail_workflow_task(&mut state, 6, 7, 1, &Default::default(), T0 + 3).unwrap();
        assert_eq!(
            t.effects,
            [Effect::WorkflowTask {
                task_queue: TASK_QUEUE.into(),
                scheduled_event_id: 9,
                attempt: 1,
            }]
        );
        assert_eq!(state.sticky_task_queue(), None);
    }

    #[test]
    fn reset_stickiness_clears_the_queue_of_a_running_run_only() {
        let mut state = sticky_task_pending();
        let t = reset_stickiness(&mut state, T0 + 2).unwrap();
        assert!(t.events.is_empty() && !t.unchanged);
        assert_eq!(state.sticky_task_queue(), None);
        assert!(reset_stickiness(&mut closed_state(), T0).is_err());
    }

    #[test]
    fn worker_timeouts_are_kept_within_bounds() {
        assert_eq!(sticky_timeout_ms(&sticky_attributes(0)), 10_000);
        assert_eq!(sticky_timeout_ms(&sticky_attributes(-5)), 10_000);
        assert_eq!(
            sticky_timeout_ms(&StickyExecutionAttributes::default()),
            10_000
        );
        assert_eq!(sticky_timeout_ms(&sticky_attributes(86_400)), 600_000);
        let mut short = sticky_attributes(0);
        short.schedule_to_start_timeout.as_mut().unwrap().nanos = 1_000_000;
        assert_eq!(sticky_timeout_ms(&short), 1_000);
    }
}
