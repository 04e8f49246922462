//! `ScheduleActivityTask` → `ActivityTaskScheduled`, with the retry policy defaults filled in
//! and the missing timeouts derived the way Temporal does; the first attempt is dispatched.

use temporalio_protos::temporal::api::{
    command::v1::ScheduleActivityTaskCommandAttributes,
    enums::v1::{TaskQueueKind, WorkflowTaskFailedCause as Cause},
    history::v1::{ActivityTaskScheduledEventAttributes, history_event::Attributes},
    taskqueue::v1::TaskQueue,
};

use super::CommandContext;
use crate::engine::{
    ActivityInfo, EngineError, TimerKind, TimerTask,
    activity::dispatch,
    apply::Apply,
    retry::with_defaults,
    time::{duration_ms, opt_duration, timestamp},
};

pub(super) fn apply(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    a: &ScheduleActivityTaskCommandAttributes,
) -> Result<(), EngineError> {
    let bad =
        |message: String| EngineError::rejected(Cause::BadScheduleActivityAttributes, message);
    if a.activity_id.is_empty() {
        return Err(bad("ScheduleActivityTask: activity_id is not set".into()));
    }
    if a.activity_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return Err(bad("ScheduleActivityTask: activity_type is not set".into()));
    }
    if cx
        .state
        .activities
        .values()
        .any(|i| i.activity_id == a.activity_id)
    {
        return Err(EngineError::rejected(
            Cause::ScheduleActivityDuplicateId,
            format!(
                "activity id {:?} is already in use by a pending activity",
                a.activity_id
            ),
        ));
    }
    let task_queue = match a.task_queue.as_ref().map(|q| q.name.as_str()) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => cx.state.task_queue.clone(),
    };
    let timeouts = Timeouts::derive(a, cx.state.run_timeout_ms).map_err(|e| match e {
        EngineError::InvalidArgument(message) => bad(message),
        other => other,
    })?;
    let retry_policy = with_defaults(a.retry_policy.as_ref()).map_err(bad)?;

    #[allow(deprecated)] // use_workflow_build_id: passed through as Temporal does.
    let scheduled_event_id = cx.append(Attributes::ActivityTaskScheduledEventAttributes(
        ActivityTaskScheduledEventAttributes {
            activity_id: a.activity_id.clone(),
            activity_type: a.activity_type.clone(),
            task_queue: Some(TaskQueue {
                name: task_queue.clone(),
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            header: a.header.clone(),
            input: a.input.clone(),
            schedule_to_close_timeout: opt_duration(timeouts.schedule_to_close),
            schedule_to_start_timeout: opt_duration(timeouts.schedule_to_start),
            start_to_close_timeout: opt_duration(timeouts.start_to_close),
            heartbeat_timeout: opt_duration(timeouts.heartbeat),
            workflow_task_completed_event_id: ctx.completed_event_id,
            retry_policy: Some(retry_policy.clone()),
            use_workflow_build_id: a.use_workflow_build_id,
            priority: a.priority.clone(),
        },
    ));
    cx.state.activities.insert(
        scheduled_event_id,
        ActivityInfo {
            scheduled_event_id,
            activity_id: a.activity_id.clone(),
            activity_type: a.activity_type.clone(),
            task_queue,
            input: a.input.clone(),
            header: a.header.clone(),
            schedule_to_close_timeout: opt_duration(timeouts.schedule_to_close),
            schedule_to_start_timeout: opt_duration(timeouts.schedule_to_start),
            start_to_close_timeout: opt_duration(timeouts.start_to_close),
            heartbeat_timeout: opt_duration(timeouts.heartbeat),
            retry_policy: Some(retry_policy),
            attempt: 1,
            scheduled_time: Some(timestamp(cx.now)),
            current_attempt_scheduled_time: Some(timestamp(cx.now)),
            priority: a.priority.clone(),
            ..Default::default()
        },
    );
    dispatch(cx, scheduled_event_id);
    if timeouts.schedule_to_close > 0 {
        cx.timer(TimerTask::new(
            TimerKind::ActivityScheduleToClose,
            cx.now.saturating_add(timeouts.schedule_to_close),
            scheduled_event_id,
            0,
        ));
    }
    Ok(())
}

/// Activity timeouts in ms (0 = none), after Temporal's derivation rules.
struct Timeouts {
    schedule_to_close: i64,
    schedule_to_start: i64,
    start_to_close: i64,
    heartbeat: i64,
}

impl Timeouts {
    fn derive(
        a: &ScheduleActivityTaskCommandAttributes,
        run_timeout: i64,
    ) -> Result<Self, EngineError> {
        let mut schedule_to_close = duration_ms(
            a.schedule_to_close_timeout.as_ref(),
            "schedule_to_close_timeout",
        )?;
        let mut schedule_to_start = duration_ms(
            a.schedule_to_start_timeout.as_ref(),
            "schedule_to_start_timeout",
        )?;
        let mut start_to_close =
            duration_ms(a.start_to_close_timeout.as_ref(), "start_to_close_timeout")?;
        let mut heartbeat = duration_ms(a.heartbeat_timeout.as_ref(), "heartbeat_timeout")?;
        if schedule_to_close > 0 {
            if run_timeout > 0 {
                schedule_to_close = schedule_to_close.min(run_timeout);
            }
            schedule_to_start = match schedule_to_start {
                0 => schedule_to_close,
                s => s.min(schedule_to_close),
            };
            start_to_close = match start_to_close {
                0 => schedule_to_close,
                s => s.min(schedule_to_close),
            };
        } else if start_to_close > 0 {
            // No overall limit: the run timeout (or nothing) bounds the activity.
            schedule_to_close = run_timeout;
            if run_timeout > 0 {
                schedule_to_start = match schedule_to_start {
                    0 => run_timeout,
                    s => s.min(run_timeout),
                };
                start_to_close = start_to_close.min(run_timeout);
            }
        } else {
            return Err(EngineError::invalid(
                "ScheduleActivityTask: a valid start_to_close_timeout or \
                 schedule_to_close_timeout is required",
            ));
        }
        if heartbeat > start_to_close {
            heartbeat = start_to_close;
        }
        Ok(Timeouts {
            schedule_to_close,
            schedule_to_start,
            start_to_close,
            heartbeat,
        })
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::EventType, history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{Effect, complete_workflow_task, test_support::*, time::duration};

    #[test]
    fn schedules_with_defaults_and_dispatches() {
        let mut state = task_in_flight();
        let cmd = schedule_activity_cmd("act-1", |a| {
            a.start_to_close_timeout = None;
            a.schedule_to_close_timeout = Some(duration(30_000));
        });
        let t = complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![cmd]), "run-2", T0)
            .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowTaskCompleted,
                EventType::ActivityTaskScheduled
            ]
        );
        let Some(A::ActivityTaskScheduledEventAttributes(a)) = &t.events[1].attributes else {
            panic!()
        };
        assert_eq!(a.workflow_task_completed_event_id, 4);
        assert_eq!(a.start_to_close_timeout, Some(duration(30_000)));
        assert_eq!(a.schedule_to_start_timeout, Some(duration(30_000)));
        let policy = a.retry_policy.as_ref().unwrap();
        assert_eq!(policy.initial_interval, Some(duration(1_000)));
        assert_eq!(policy.maximum_interval, Some(duration(100_000)));
        assert_eq!(policy.backoff_coefficient, 2.0);
        assert_eq!(a.task_queue.as_ref().unwrap().name, TASK_QUEUE);
        assert_eq!(
            t.effects,
            [
                Effect::ActivityTask {
                    task_queue: TASK_QUEUE.into(),
                    scheduled_event_id: 5,
                    attempt: 1
                },
                Effect::Timer(TimerTask::new(
                    TimerKind::ActivityScheduleToClose,
                    T0 + 30_000,
                    5,
                    0
                )),
            ]
        );
        assert_eq!(state.pending_activity(5).unwrap().attempt, 1);
    }

    #[test]
    fn start_to_close_only_uses_run_timeout() {
        let t = Timeouts::derive(
            &ScheduleActivityTaskCommandAttributes {
                start_to_close_timeout: Some(duration(5_000)),
                heartbeat_timeout: Some(duration(9_000)),
                ..Default::default()
            },
            60_000,
        )
        .unwrap();
        assert_eq!(
            (
                t.schedule_to_close,
                t.schedule_to_start,
                t.start_to_close,
                t.heartbeat
            ),
            (60_000, 60_000, 5_000, 5_000)
        );
    }

    #[test]
    fn rejections() {
        let cases = [
            (
                schedule_activity_cmd("", |_| {}),
                Cause::BadScheduleActivityAttributes,
            ),
            (
                schedule_activity_cmd("a", |a| a.start_to_close_timeout = None),
                Cause::BadScheduleActivityAttributes,
            ),
            (
                schedule_activity_cmd("a", |a| a.activity_type = None),
                Cause::BadScheduleActivityAttributes,
            ),
        ];
        for (cmd, expected) in cases {
            let mut state = task_in_flight();
            let before = state.clone();
            let err =
                complete_workflow_task(&mut state, 2, 3, 1, &completed_req(vec![cmd]), "run-2", T0)
                    .unwrap_err();
            assert!(matches!(err, EngineError::CommandRejected { cause, .. } if cause == expected));
            assert_eq!(state, before);
        }
        let mut state = task_in_flight();
        let cmds = vec![
            schedule_activity_cmd("a", |_| {}),
            schedule_activity_cmd("a", |_| {}),
        ];
        let err = complete_workflow_task(&mut state, 2, 3, 1, &completed_req(cmds), "run-2", T0)
            .unwrap_err();
        assert!(matches!(
            err,
            EngineError::CommandRejected {
                cause: Cause::ScheduleActivityDuplicateId,
                ..
            }
        ));
    }
}
