//! A parent's side of its child workflows, and the outbox records that carry a child's life
//! between the two runs (each run changes only under its own lock, in its own batch).
//!
//! 1. `StartChildWorkflowExecution` (commands/) writes `StartChildWorkflowExecutionInitiated`
//!    and asks for [`Effect::StartChild`](super::Effect::StartChild) (an outbox row).
//! 2. The caller's processor reads [`child_start`] (request + lineage, with a request id derived
//!    from the parent run and the initiated event, so a retried start is idempotent), starts
//!    the child run, then records [`child_started`] or [`start_child_failed`] on the parent.
//! 3. When a child run closes (other than by continue-as-new), its closing transition carries
//!    [`Effect::NotifyParent`](super::Effect::NotifyParent) with a [`ChildCompletion`]; the
//!    processor hands it to [`child_closed`] on the parent.
//! 4. When a parent closes with started children still open, it carries one
//!    [`Effect::ParentClosePolicy`](super::Effect::ParentClosePolicy) per child whose policy is
//!    not ABANDON.
//!
//! Every parent-side transition is a no-op on a closed parent or an unknown / already
//! resolved child, so the processor may retry any step. A child may close before its parent
//! recorded the start: [`child_closed`] then writes `ChildWorkflowExecutionStarted` first.

use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::{ParentClosePolicy, StartChildWorkflowExecutionFailedCause},
    history::v1::{
        ChildWorkflowExecutionCanceledEventAttributes,
        ChildWorkflowExecutionCompletedEventAttributes,
        ChildWorkflowExecutionFailedEventAttributes, ChildWorkflowExecutionStartedEventAttributes,
        ChildWorkflowExecutionTerminatedEventAttributes,
        ChildWorkflowExecutionTimedOutEventAttributes, HistoryEvent,
        StartChildWorkflowExecutionFailedEventAttributes, history_event::Attributes,
    },
    workflowservice::v1::StartWorkflowExecutionRequest,
};

use super::{
    ChildInfo, EngineError, MutableState, ParentInfo, RunLineage, Transition,
    apply::{Apply, transact},
};

/// The outbox record of a child run that closed, for its parent.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChildCompletion {
    /// The parent and its initiated event.
    #[prost(message, optional, tag = "1")]
    pub parent: Option<ParentInfo>,
    /// The child run that closed.
    #[prost(message, optional, tag = "2")]
    pub child_execution: Option<WorkflowExecution>,
    /// The child's first run (the one the parent started).
    #[prost(string, tag = "3")]
    pub first_run_id: String,
    /// The child's workflow type.
    #[prost(string, tag = "4")]
    pub workflow_type: String,
    /// The child's namespace.
    #[prost(string, tag = "5")]
    pub namespace: String,
    /// The child run's closing event.
    #[prost(message, optional, tag = "6")]
    pub close_event: Option<HistoryEvent>,
}

impl ChildCompletion {
    pub(crate) fn new(
        child: &MutableState,
        parent: ParentInfo,
        close_event: Option<HistoryEvent>,
    ) -> Self {
        ChildCompletion {
            parent: Some(parent),
            child_execution: Some(child.execution()),
            first_run_id: child.first_execution_run_id.clone(),
            workflow_type: child.workflow_type.clone(),
            namespace: child.namespace.clone(),
            close_event,
        }
    }
}

/// The outbox record of a parent close policy to apply to a child that was still open.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ParentCloseAction {
    /// The child's namespace.
    #[prost(string, tag = "1")]
    pub namespace: String,
    /// The child's workflow id.
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    /// The child's first run: the policy applies to the current run of that chain only.
    #[prost(string, tag = "3")]
    pub first_run_id: String,
    /// `ParentClosePolicy::Terminate` or `RequestCancel`.
    #[prost(int32, tag = "4")]
    pub policy: i32,
    /// The parent run that closed.
    #[prost(message, optional, tag = "5")]
    pub parent: Option<WorkflowExecution>,
}

impl ParentCloseAction {
    /// The action for `child` when `parent` closes; `None` for ABANDON or a child that never
    /// started. An unspecified policy means TERMINATE (Temporal's default).
    pub(crate) fn for_child(parent: &MutableState, child: &ChildInfo) -> Option<Self> {
        if !child.started {
            return None;
        }
        let policy = match ParentClosePolicy::try_from(child.parent_close_policy()) {
            Ok(ParentClosePolicy::Abandon) => return None,
            Ok(ParentClosePolicy::RequestCancel) => ParentClosePolicy::RequestCancel,
            _ => ParentClosePolicy::Terminate,
        };
        Some(ParentCloseAction {
            namespace: parent.namespace.clone(),
            workflow_id: child.workflow_id().to_string(),
            first_run_id: child.run_id.clone(),
            policy: policy as i32,
            parent: Some(parent.execution()),
        })
    }

    /// The policy to apply.
    pub fn policy(&self) -> ParentClosePolicy {
        ParentClosePolicy::try_from(self.policy).unwrap_or(ParentClosePolicy::Terminate)
    }
}

/// The start request and lineage of the child initiated by `initiated_event_id`, if the
/// parent is running and the child still waits to start. The request id is derived from the
/// parent run and the initiated event, so starting it twice starts one run.
pub fn child_start(
    parent: &MutableState,
    initiated_event_id: i64,
) -> Option<(StartWorkflowExecutionRequest, RunLineage)> {
    if parent.is_closed() {
        return None;
    }
    let child = parent.children.get(&initiated_event_id)?;
    if child.started {
        return None;
    }
    let c = child.command.as_ref()?;
    let request = StartWorkflowExecutionRequest {
        namespace: parent.namespace.clone(),
        workflow_id: c.workflow_id.clone(),
        workflow_type: c.workflow_type.clone(),
        task_queue: c.task_queue.clone(),
        input: c.input.clone(),
        workflow_execution_timeout: c.workflow_execution_timeout,
        workflow_run_timeout: c.workflow_run_timeout,
        workflow_task_timeout: c.workflow_task_timeout,
        request_id: child_request_id(parent, initiated_event_id),
        workflow_id_reuse_policy: c.workflow_id_reuse_policy,
        retry_policy: c.retry_policy.clone(),
        cron_schedule: c.cron_schedule.clone(),
        memo: c.memo.clone(),
        search_attributes: c.search_attributes.clone(),
        header: c.header.clone(),
        priority: c.priority.clone(),
        ..Default::default()
    };
    let lineage = RunLineage {
        parent: Some(ParentInfo {
            namespace: parent.namespace.clone(),
            workflow_id: parent.workflow_id.clone(),
            run_id: parent.run_id.clone(),
            initiated_event_id,
        }),
        root: parent.root.clone().or_else(|| Some(parent.execution())),
        ..Default::default()
    };
    Some((request, lineage))
}

/// The start request id of a child: unique per parent run and initiated event.
pub(crate) fn child_request_id(parent: &MutableState, initiated_event_id: i64) -> String {
    format!("child:{}:{initiated_event_id}", parent.run_id)
}

/// The child initiated by `initiated_event_id` started as run `child_run_id`:
/// `ChildWorkflowExecutionStarted` and a workflow task. A no-op when already recorded.
pub fn child_started(
    state: &mut MutableState,
    initiated_event_id: i64,
    child_run_id: &str,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        if waiting_child(cx, initiated_event_id).is_some() {
            record_started(cx, initiated_event_id, child_run_id);
            cx.ensure_workflow_task();
        }
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// The child initiated by `initiated_event_id` could not start: `StartChildWorkflowExecutionFailed`
/// with `cause` and a workflow task. A no-op when the child is no longer waiting to start.
pub fn start_child_failed(
    state: &mut MutableState,
    initiated_event_id: i64,
    cause: StartChildWorkflowExecutionFailedCause,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        let Some(child) = waiting_child(cx, initiated_event_id) else {
            return Ok(());
        };
        cx.state.children.remove(&initiated_event_id);
        cx.record(
            Attributes::StartChildWorkflowExecutionFailedEventAttributes(
                StartChildWorkflowExecutionFailedEventAttributes {
                    namespace: cx.state.namespace.clone(),
                    workflow_id: child.workflow_id().to_string(),
                    workflow_type: child.workflow_type(),
                    cause: cause as i32,
                    initiated_event_id,
                    workflow_task_completed_event_id: child.workflow_task_completed_event_id,
                    ..Default::default()
                },
            ),
        );
        cx.ensure_workflow_task();
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// A child run closed: `ChildWorkflowExecution{Completed|Failed|Canceled|TimedOut|Terminated}`
/// (preceded by `ChildWorkflowExecutionStarted` if the start was not recorded yet) and a
/// workflow task. A no-op for a closed parent or a child it no longer waits for.
pub fn child_closed(
    state: &mut MutableState,
    completion: &ChildCompletion,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        let Some(parent) = &completion.parent else {
            return Err(EngineError::invalid("child completion without a parent"));
        };
        let initiated_event_id = parent.initiated_event_id;
        let child = match cx.state.children.get(&initiated_event_id) {
            Some(child)
                if !cx.state.is_closed()
                    && parent.run_id == cx.state.run_id
                    && Some(child.workflow_id())
                        == completion
                            .child_execution
                            .as_ref()
                            .map(|e| e.workflow_id.as_str())
                    && (!child.started || child.run_id == completion.first_run_id) =>
            {
                child.clone()
            }
            _ => return Ok(()),
        };
        let Some(close) = completion
            .close_event
            .as_ref()
            .and_then(|e| e.attributes.as_ref())
        else {
            return Err(EngineError::invalid(
                "child completion without a close event",
            ));
        };
        if !child.started {
            record_started(cx, initiated_event_id, &completion.first_run_id);
        }
        let started_event_id = cx
            .state
            .children
            .get(&initiated_event_id)
            .map_or(0, |c| c.started_event_id);
        let namespace = cx.state.namespace.clone();
        let workflow_execution = completion.child_execution.clone();
        let workflow_type = child.workflow_type();
        let attributes = match close {
            Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
                Attributes::ChildWorkflowExecutionCompletedEventAttributes(
                    ChildWorkflowExecutionCompletedEventAttributes {
                        result: a.result.clone(),
                        namespace,
                        workflow_execution,
                        workflow_type,
                        initiated_event_id,
                        started_event_id,
                        ..Default::default()
                    },
                )
            }
            Attributes::WorkflowExecutionFailedEventAttributes(a) => {
                Attributes::ChildWorkflowExecutionFailedEventAttributes(
                    ChildWorkflowExecutionFailedEventAttributes {
                        failure: a.failure.clone(),
                        namespace,
                        workflow_execution,
                        workflow_type,
                        initiated_event_id,
                        started_event_id,
                        retry_state: a.retry_state,
                        ..Default::default()
                    },
                )
            }
            Attributes::WorkflowExecutionCanceledEventAttributes(a) => {
                Attributes::ChildWorkflowExecutionCanceledEventAttributes(
                    ChildWorkflowExecutionCanceledEventAttributes {
                        details: a.details.clone(),
                        namespace,
                        workflow_execution,
                        workflow_type,
                        initiated_event_id,
                        started_event_id,
                        ..Default::default()
                    },
                )
            }
            Attributes::WorkflowExecutionTimedOutEventAttributes(a) => {
                Attributes::ChildWorkflowExecutionTimedOutEventAttributes(
                    ChildWorkflowExecutionTimedOutEventAttributes {
                        namespace,
                        workflow_execution,
                        workflow_type,
                        initiated_event_id,
                        started_event_id,
                        retry_state: a.retry_state,
                        ..Default::default()
                    },
                )
            }
            Attributes::WorkflowExecutionTerminatedEventAttributes(_) => {
                Attributes::ChildWorkflowExecutionTerminatedEventAttributes(
                    ChildWorkflowExecutionTerminatedEventAttributes {
                        namespace,
                        workflow_execution,
                        workflow_type,
                        initiated_event_id,
                        started_event_id,
                        ..Default::default()
                    },
                )
            }
            _ => {
                return Err(EngineError::invalid(
                    "child completion whose event does not close a run",
                ));
            }
        };
        cx.state.children.remove(&initiated_event_id);
        cx.record(attributes);
        cx.ensure_workflow_task();
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// The pending child `initiated_event_id` of a running parent, if it has not started yet.
fn waiting_child(cx: &Apply<'_>, initiated_event_id: i64) -> Option<ChildInfo> {
    if cx.state.is_closed() {
        return None;
    }
    cx.state
        .children
        .get(&initiated_event_id)
        .filter(|c| !c.started)
        .cloned()
}

/// Writes (or buffers) `ChildWorkflowExecutionStarted` and marks the child started. While the
/// event is buffered the child's `started_event_id` stays 0; the flush fills it in.
fn record_started(cx: &mut Apply<'_>, initiated_event_id: i64, child_run_id: &str) {
    // A speculative task's events come first (`record` writes them): the id read below must
    // be the one the started event gets.
    cx.materialize_speculative();
    let buffered = cx.state.task_started();
    let next_id = cx.state.next_event_id;
    let Some(child) = cx.state.children.get_mut(&initiated_event_id) else {
        return;
    };
    child.started = true;
    child.run_id = child_run_id.to_string();
    if !buffered {
        child.started_event_id = next_id;
    }
    let header = child.command.as_ref().and_then(|c| c.header.clone());
    let attributes = ChildWorkflowExecutionStartedEventAttributes {
        namespace: cx.state.namespace.clone(),
        initiated_event_id,
        workflow_execution: Some(WorkflowExecution {
            workflow_id: child.workflow_id().to_string(),
            run_id: child_run_id.to_string(),
        }),
        workflow_type: child.workflow_type(),
        header,
        ..Default::default()
    };
    cx.record(Attributes::ChildWorkflowExecutionStartedEventAttributes(
        attributes,
    ));
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::{EventType, WorkflowExecutionStatus},
        history::v1::{WorkflowExecutionCompletedEventAttributes, history_event::Attributes as A},
        workflowservice::v1::TerminateWorkflowExecutionRequest,
    };

    use super::*;
    use crate::engine::{
        Effect, complete_workflow_task, start_run, terminate_workflow, test_support::*,
        workflow_task_started,
    };

    /// A child run of the parent built by [`parent_with_child`], completed with "child-out".
    fn completed_child(_parent: &MutableState) -> ChildCompletion {
        let (request, lineage) = child_start(&parent_with_child(), 5).unwrap();
        let (mut child, _) = start_run(&request, "child-run", &lineage, T0).unwrap();
        workflow_task_started(&mut child, 2, 1, "w", "p", T0).unwrap();
        let mut complete = complete_cmd();
        if let Some(temporalio_protos::temporal::api::command::v1::command::Attributes::CompleteWorkflowExecutionCommandAttributes(a)) = complete.attributes.as_mut() {
            a.result = Some(payloads("child-out"));
        }
        let t =
            complete_workflow_task(&mut child, 2, 3, 1, &completed_req(vec![complete]), "x", T0)
                .unwrap();
        let [Effect::Closed, Effect::NotifyParent(completion)] = &t.effects[..] else {
            panic!("{:?}", t.effects)
        };
        completion.as_ref().clone()
    }

    fn attrs(t: &Transition, index: usize) -> &A {
        t.events[index].attributes.as_ref().unwrap()
    }

    #[test]
    fn started_then_completed_reach_the_parent() {
        let mut parent = parent_with_child();
        let t = child_started(&mut parent, 5, "child-run", T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ChildWorkflowExecutionStarted,
                EventType::WorkflowTaskScheduled
            ]
        );
        let A::ChildWorkflowExecutionStartedEventAttributes(s) = attrs(&t, 0) else {
            panic!()
        };
        assert_eq!(s.initiated_event_id, 5);
        assert_eq!(s.workflow_execution.as_ref().unwrap().run_id, "child-run");
        assert!(
            child_started(&mut parent, 5, "child-run", T0)
                .unwrap()
                .is_empty()
        );
        assert!(
            child_start(&parent, 5).is_none(),
            "started children are not started again"
        );

        let completion = completed_child(&parent);
        let t = child_closed(&mut parent, &completion, T0).unwrap();
        assert_eq!(types(&t), [EventType::ChildWorkflowExecutionCompleted]);
        let A::ChildWorkflowExecutionCompletedEventAttributes(c) = attrs(&t, 0) else {
            panic!()
        };
        assert_eq!((c.initiated_event_id, c.started_event_id), (5, 6));
        assert_eq!(c.result, Some(payloads("child-out")));
        assert!(parent.pending_child(5).is_none());
        assert!(
            child_closed(&mut parent, &completion, T0)
                .unwrap()
                .is_empty(),
            "idempotent"
        );
    }

    #[test]
    fn a_child_that_closes_first_gets_its_started_event_too() {
        let mut parent = parent_with_child();
        let completion = completed_child(&parent);
        let t = child_closed(&mut parent, &completion, T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ChildWorkflowExecutionStarted,
                EventType::ChildWorkflowExecutionCompleted,
                EventType::WorkflowTaskScheduled
            ]
        );
        let A::ChildWorkflowExecutionCompletedEventAttributes(c) = attrs(&t, 1) else {
            panic!()
        };
        assert_eq!(c.started_event_id, 6);
        assert!(
            child_started(&mut parent, 5, "child-run", T0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn buffered_started_and_closed_get_linked_ids() {
        let mut parent = parent_with_child();
        let (s, st) = run_task(&mut parent);
        child_started(&mut parent, 5, "child-run", T0).unwrap();
        let completion = completed_child(&parent);
        child_closed(&mut parent, &completion, T0).unwrap();
        let t =
            complete_workflow_task(&mut parent, s, st, 1, &completed_req(vec![]), "x", T0).unwrap();
        let started_index = types(&t)
            .iter()
            .position(|e| *e == EventType::ChildWorkflowExecutionStarted)
            .unwrap();
        let A::ChildWorkflowExecutionCompletedEventAttributes(c) = attrs(&t, started_index + 1)
        else {
            panic!("{:?}", types(&t))
        };
        assert_eq!(c.started_event_id, t.events[started_index].event_id);
    }

    #[test]
    fn id_conflict_fails_the_start() {
        let mut parent = parent_with_child();
        let t = start_child_failed(
            &mut parent,
            5,
            StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
            T0,
        )
        .unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::StartChildWorkflowExecutionFailed,
                EventType::WorkflowTaskScheduled
            ]
        );
        let A::StartChildWorkflowExecutionFailedEventAttributes(f) = attrs(&t, 0) else {
            panic!()
        };
        assert_eq!(
            f.cause,
            StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists as i32
        );
        assert_eq!(
            (f.initiated_event_id, f.workflow_task_completed_event_id),
            (5, 4)
        );
        assert!(parent.pending_child(5).is_none());
        assert!(
            start_child_failed(
                &mut parent,
                5,
                StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                T0
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn closing_parent_applies_close_policies_to_started_children() {
        let mut parent = parent_with_child();
        child_started(&mut parent, 5, "child-run", T0).unwrap();
        let t = terminate_workflow(
            &mut parent,
            &TerminateWorkflowExecutionRequest::default(),
            T0,
        )
        .unwrap();
        let [Effect::Closed, Effect::ParentClosePolicy(action)] = &t.effects[..] else {
            panic!("{:?}", t.effects)
        };
        assert_eq!(action.policy(), ParentClosePolicy::Terminate);
        assert_eq!(
            (action.workflow_id.as_str(), action.first_run_id.as_str()),
            ("child-1", "child-run")
        );
        assert_eq!(parent.status(), WorkflowExecutionStatus::Terminated);

        // Abandon, or a child not started yet: nothing to do.
        let mut parent = parent_with_child();
        let t = terminate_workflow(
            &mut parent,
            &TerminateWorkflowExecutionRequest::default(),
            T0,
        )
        .unwrap();
        assert_eq!(t.effects, [Effect::Closed]);
        let mut parent = parent_with_child();
        parent
            .children
            .get_mut(&5)
            .unwrap()
            .command
            .as_mut()
            .unwrap()
            .parent_close_policy = ParentClosePolicy::Abandon as i32;
        child_started(&mut parent, 5, "child-run", T0).unwrap();
        let t = terminate_workflow(
            &mut parent,
            &TerminateWorkflowExecutionRequest::default(),
            T0,
        )
        .unwrap();
        assert_eq!(t.effects, [Effect::Closed]);
    }

    #[test]
    fn completion_for_another_run_or_a_closed_parent_is_ignored() {
        let mut parent = parent_with_child();
        let mut completion = completed_child(&parent);
        completion.parent.as_mut().unwrap().run_id = "other".into();
        assert!(
            child_closed(&mut parent, &completion, T0)
                .unwrap()
                .is_empty()
        );
        let mut completion = completed_child(&parent);
        completion.close_event = Some(HistoryEvent {
            attributes: Some(A::WorkflowExecutionCompletedEventAttributes(
                WorkflowExecutionCompletedEventAttributes::default(),
            )),
            ..Default::default()
        });
        terminate_workflow(
            &mut parent,
            &TerminateWorkflowExecutionRequest::default(),
            T0,
        )
        .unwrap();
        assert!(
            child_closed(&mut parent, &completion, T0)
                .unwrap()
                .is_empty()
        );
    }
}
