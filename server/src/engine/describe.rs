//! Read-only views of a run: DescribeWorkflowExecution, and the data of an activity poll.

use temporalio_protos::temporal::api::{
    common::v1::{Memo, SearchAttributes, WorkflowType},
    enums::v1::{PendingActivityState, PendingWorkflowTaskState, TaskQueueKind},
    taskqueue::v1::TaskQueue,
    workflow::v1::{
        PendingActivityInfo, PendingChildExecutionInfo, PendingWorkflowTaskInfo,
        WorkflowExecutionConfig, WorkflowExecutionExtendedInfo, WorkflowExecutionInfo,
    },
    workflowservice::v1::{DescribeWorkflowExecutionResponse, PollActivityTaskQueueResponse},
};

use super::{
    ActivityInfo, ChildInfo, MutableState, ParentInfo,
    time::{duration, opt_duration, opt_timestamp, timestamp},
};

impl MutableState {
    /// The run as listed by visibility and described: ids, type, times, status, memo, search
    /// attributes, history length and size.
    pub fn execution_info(&self) -> WorkflowExecutionInfo {
        let execution_duration = (self.close_time_ms > 0)
            .then(|| duration(self.close_time_ms.saturating_sub(self.start_time_ms).max(0)));
        WorkflowExecutionInfo {
            execution: Some(self.execution()),
            r#type: Some(WorkflowType {
                name: self.workflow_type.clone(),
            }),
            start_time: Some(timestamp(self.start_time_ms)),
            close_time: opt_timestamp(self.close_time_ms),
            status: self.status,
            history_length: self.next_event_id.saturating_sub(1),
            // When the first workflow task is due: later than the start while a retried,
            // cron or delayed run waits out its backoff (status RUNNING meanwhile, as Temporal).
            execution_time: Some(timestamp(self.execution_time_ms.max(self.start_time_ms))),
            memo: Some(Memo {
                fields: self.memo.clone().into_iter().collect(),
            }),
            search_attributes: Some(SearchAttributes {
                indexed_fields: self.search_attributes.clone().into_iter().collect(),
            }),
            task_queue: self.task_queue.clone(),
            state_transition_count: self.state_transition_count,
            history_size_bytes: self.history_size_bytes,
            execution_duration,
            first_run_id: self.first_execution_run_id.clone(),
            parent_execution: self.parent.as_ref().map(ParentInfo::execution),
            root_execution: self.root.clone(),
            ..Default::default()
        }
    }

    /// DescribeWorkflowExecution: status, times, task queue, type, memo, search attributes,
    /// history length and size, pending activities and workflow task.
    pub fn describe(&self) -> DescribeWorkflowExecutionResponse {
        let task_queue = TaskQueue {
            name: self.task_queue.clone(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        };
        let info = self.execution_info();
        let deadline = |timeout: i64| match timeout {
            0 => None,
            t => opt_timestamp(self.start_time_ms.saturating_add(t)),
        };
        DescribeWorkflowExecutionResponse {
            execution_config: Some(WorkflowExecutionConfig {
                task_queue: Some(task_queue),
                workflow_execution_timeout: opt_duration(self.execution_timeout_ms),
                workflow_run_timeout: opt_duration(self.run_timeout_ms),
                default_workflow_task_timeout: Some(duration(self.workflow_task_timeout_ms)),
                user_metadata: None,
            }),
            workflow_execution_info: Some(info),
            pending_activities: self.activities.values().map(pending_activity).collect(),
            pending_children: self.children.values().map(pending_child).collect(),
            pending_workflow_task: self.workflow_task.as_ref().map(|task| {
                PendingWorkflowTaskInfo {
                    state: if task.is_started() {
                        PendingWorkflowTaskState::Started
                    } else {
                        PendingWorkflowTaskState::Scheduled
                    } as i32,
                    scheduled_time: task.scheduled_time,
                    original_scheduled_time: task.scheduled_time,
                    started_time: task.started_time,
                    attempt: task.attempt,
                }
            }),
            workflow_extended_info: Some(WorkflowExecutionExtendedInfo {
                execution_expiration_time: deadline(self.execution_timeout_ms),
                run_expiration_time: deadline(self.run_timeout_ms),
                cancel_requested: self.cancel_requested,
                original_start_time: Some(timestamp(self.start_time_ms)),
                reset_run_id: self.reset_run_id.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Everything a `PollActivityTaskQueueResponse` carries for the current attempt of
    /// activity `scheduled_event_id`, except `task_token` (the caller's to mint).
    pub fn activity_task(&self, scheduled_event_id: i64) -> Option<PollActivityTaskQueueResponse> {
        let info = self.activities.get(&scheduled_event_id)?;
        Some(PollActivityTaskQueueResponse {
            workflow_namespace: self.namespace.clone(),
            workflow_type: Some(WorkflowType {
                name: self.workflow_type.clone(),
            }),
            workflow_execution: Some(self.execution()),
            activity_type: info.activity_type.clone(),
            activity_id: info.activity_id.clone(),
            header: info.header.clone(),
            input: info.input.clone(),
            heartbeat_details: info.heartbeat_details.clone(),
            scheduled_time: info.scheduled_time,
            current_attempt_scheduled_time: info.current_attempt_scheduled_time,
            started_time: info.started_time,
            attempt: info.attempt,
            schedule_to_close_timeout: info.schedule_to_close_timeout,
            start_to_close_timeout: info.start_to_close_timeout,
            heartbeat_timeout: info.heartbeat_timeout,
            retry_policy: info.retry_policy.clone(),
            priority: info.priority.clone(),
            ..Default::default()
        })
    }
}

fn pending_child(info: &ChildInfo) -> PendingChildExecutionInfo {
    PendingChildExecutionInfo {
        workflow_id: info.workflow_id().to_string(),
        run_id: info.run_id.clone(),
        workflow_type_name: info.workflow_type().map(|t| t.name).unwrap_or_default(),
        initiated_id: info.initiated_event_id,
        parent_close_policy: info.parent_close_policy(),
    }
}

fn pending_activity(info: &ActivityInfo) -> PendingActivityInfo {
    let state = if info.cancel_requested {
        PendingActivityState::CancelRequested
    } else if info.is_started() {
        PendingActivityState::Started
    } else {
        PendingActivityState::Scheduled
    };
    let expiration = match info.schedule_to_close_ms() {
        0 => None,
        t => opt_timestamp(info.scheduled_ms().saturating_add(t)),
    };
    PendingActivityInfo {
        activity_id: info.activity_id.clone(),
        activity_type: info.activity_type.clone(),
        state: state as i32,
        heartbeat_details: info.heartbeat_details.clone(),
        last_heartbeat_time: info.last_heartbeat_time,
        last_started_time: info.started_time,
        attempt: info.attempt,
        maximum_attempts: info
            .retry_policy
            .as_ref()
            .map_or(0, |policy| policy.maximum_attempts),
        scheduled_time: info.current_attempt_scheduled_time,
        expiration_time: expiration,
        last_failure: info.last_failure.clone(),
        last_worker_identity: info.started_identity.clone(),
        current_retry_interval: info.current_retry_interval,
        last_attempt_complete_time: info.last_attempt_complete_time,
        next_attempt_schedule_time: info.next_attempt_schedule_time,
        priority: info.priority.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;

    use super::*;
    use crate::engine::{fail_activity, test_support::*};

    #[test]
    fn describes_a_running_workflow_with_a_retrying_activity() {
        let (mut state, sched) = activity_started(|_| {});
        fail_activity(
            &mut state,
            sched,
            1,
            Some(app_failure("oops", false)),
            None,
            "w",
            T0 + 10,
        )
        .unwrap();
        let d = state.describe();
        let info = d.workflow_execution_info.unwrap();
        assert_eq!(info.status, WorkflowExecutionStatus::Running as i32);
        assert_eq!(info.history_length, state.next_event_id() - 1);
        assert_eq!(info.task_queue, TASK_QUEUE);
        assert_eq!(info.r#type.unwrap().name, WORKFLOW_TYPE);
        assert_eq!(d.pending_activities.len(), 1);
        let a = &d.pending_activities[0];
        assert_eq!(a.attempt, 2);
        assert_eq!(a.last_failure.as_ref().unwrap().message, "oops");
        assert_eq!(a.state, PendingActivityState::Scheduled as i32);
        assert_eq!(a.next_attempt_schedule_time, Some(timestamp(T0 + 1_010)));
    }

    #[test]
    fn activity_poll_data() {
        let (state, sched) = activity_scheduled(|_| {});
        let poll = state.activity_task(sched).unwrap();
        assert_eq!(poll.activity_id, "act-1");
        assert_eq!(poll.activity_type.unwrap().name, "DoIt");
        assert_eq!(poll.attempt, 1);
        assert_eq!(poll.workflow_execution, Some(state.execution()));
        assert_eq!(poll.start_to_close_timeout, Some(duration(10_000)));
        assert!(poll.retry_policy.is_some());
        assert!(state.activity_task(sched + 1).is_none());
    }
}
