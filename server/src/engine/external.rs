//! Signals and cancellation requests that a run sends to ANOTHER workflow, and the outbox
//! records that carry them between the two runs (each run changes only under its own lock, in
//! its own batch).
//!
//! 1. `SignalExternalWorkflowExecution` / `RequestCancelExternalWorkflowExecution` (commands/)
//!    write the Initiated event, remember an [`ExternalRequest`] and ask for
//!    [`Effect::External`](super::Effect::External) (an outbox row).
//! 2. The caller's processor reads [`external_delivery`] on the issuing run, applies
//!    [`deliver_external`] to the target run, then records the outcome on the issuing run with
//!    [`external_resolved`] (ExternalWorkflowExecutionSignaled / …CancelRequested, or the
//!    matching Failed event), all carrying `initiated_event_id`.
//!
//! Retries are safe: a signal's request id is derived from the issuing run and the initiated
//! event, so the target's deduplication drops a repeated delivery; a cancellation request is
//! idempotent by nature; [`external_resolved`] is a no-op once the request is resolved.
//!
//! Temporal's rules are kept: a target that is closed fails a signal (not found) but accepts a
//! cancellation request as done; `child_workflow_only` requires the target's parent to be the
//! issuing run; a run never signals or cancels its own workflow id (not found).

use temporalio_protos::temporal::api::{
    common::v1::{Header, Payloads, WorkflowExecution},
    enums::v1::{
        CancelExternalWorkflowExecutionFailedCause, SignalExternalWorkflowExecutionFailedCause,
    },
    history::v1::{
        ExternalWorkflowExecutionCancelRequestedEventAttributes,
        ExternalWorkflowExecutionSignaledEventAttributes,
        RequestCancelExternalWorkflowExecutionFailedEventAttributes,
        SignalExternalWorkflowExecutionFailedEventAttributes,
        WorkflowExecutionCancelRequestedEventAttributes, history_event::Attributes,
    },
};

use super::{
    Effect, EngineError, MutableState, Transition,
    apply::{Apply, transact},
    commands::CommandContext,
    signal::SignalInput,
};

/// Identity recorded on the target's events.
const IDENTITY: &str = "lockstep-server";

/// A signal or cancellation request of a run that is not resolved yet (kept in its state by
/// initiated event id).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExternalRequest {
    /// Id of the Initiated event.
    #[prost(int64, tag = "1")]
    pub initiated_event_id: i64,
    /// The target's namespace (the issuing run's: other namespaces are refused).
    #[prost(string, tag = "2")]
    pub namespace: String,
    /// The target; an empty run id means its current run.
    #[prost(message, optional, tag = "3")]
    pub target: Option<WorkflowExecution>,
    /// Only a child of the issuing run may be the target.
    #[prost(bool, tag = "4")]
    pub child_workflow_only: bool,
    /// The `WorkflowTaskCompleted` event of the task that issued it.
    #[prost(int64, tag = "5")]
    pub workflow_task_completed_event_id: i64,
    /// The command's (deprecated) control string, echoed on the outcome events.
    #[prost(string, tag = "6")]
    pub control: String,
    /// Set for a signal; `None` for a cancellation request.
    #[prost(message, optional, tag = "7")]
    pub signal: Option<ExternalSignal>,
    /// The cancellation reason.
    #[prost(string, tag = "8")]
    pub reason: String,
}

/// The signal of an [`ExternalRequest`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExternalSignal {
    /// Signal name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Signal input.
    #[prost(message, optional, tag = "2")]
    pub input: Option<Payloads>,
    /// Signal header.
    #[prost(message, optional, tag = "3")]
    pub header: Option<Header>,
}

impl ExternalRequest {
    /// The request of a command of the workflow task completed by `ctx`'s event (its signal or
    /// reason still to set).
    pub(crate) fn new(
        namespace: String,
        target: WorkflowExecution,
        child_workflow_only: bool,
        ctx: &CommandContext<'_>,
        control: &str,
    ) -> Self {
        ExternalRequest {
            namespace,
            target: Some(target),
            child_workflow_only,
            workflow_task_completed_event_id: ctx.completed_event_id,
            control: control.to_string(),
            ..Default::default()
        }
    }

    fn target(&self) -> WorkflowExecution {
        self.target.clone().unwrap_or_default()
    }
}

/// The namespace of a command's target (empty = the run's own), or why the command is refused:
/// no workflow id, or another namespace (the outbox acts without the issuing worker's
/// principal, so it must not reach where that worker has no role).
pub(crate) fn external_target(
    cx: &Apply<'_>,
    namespace: &str,
    workflow_id: &str,
) -> Result<String, String> {
    if workflow_id.is_empty() {
        return Err("workflow_id is required".into());
    }
    if !namespace.is_empty() && namespace != cx.state.namespace {
        return Err(format!(
            "namespace {namespace:?}: signalling or cancelling workflows in another namespace is \
             not supported by Lockstep"
        ));
    }
    Ok(cx.state.namespace.clone())
}

/// Appends the Initiated event, remembers `request` under its id and asks the outbox to
/// deliver it.
pub(crate) fn initiate_external(
    cx: &mut Apply<'_>,
    initiated: Attributes,
    mut request: ExternalRequest,
) {
    let initiated_event_id = cx.append(initiated);
    request.initiated_event_id = initiated_event_id;
    cx.state.externals.insert(initiated_event_id, request);
    cx.effect(Effect::External { initiated_event_id });
}

/// What the processor carries from the issuing run to the target.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalDelivery {
    /// The issuing run.
    pub issuer: WorkflowExecution,
    /// The request.
    pub request: ExternalRequest,
    /// The signal's request id: unique per issuing run and initiated event.
    pub request_id: String,
}

impl ExternalDelivery {
    /// The target's namespace.
    pub fn namespace(&self) -> &str {
        &self.request.namespace
    }

    /// The target (an empty run id means its current run).
    pub fn target(&self) -> WorkflowExecution {
        self.request.target()
    }

    /// True when the target is the issuing workflow itself (Temporal refuses it as not found).
    pub fn targets_itself(&self) -> bool {
        self.request.target().workflow_id == self.issuer.workflow_id
    }
}

/// How an external request ended, as seen by the processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalOutcome {
    /// The target recorded the signal / the cancellation request (or was already closed, for
    /// a cancellation).
    Delivered,
    /// No such (running) target, or it is not the issuing run's child when that was required.
    NotFound,
}

/// The delivery of the request initiated by `initiated_event_id`, if the issuing run is
/// running and the request is still unresolved.
pub fn external_delivery(
    issuer: &MutableState,
    initiated_event_id: i64,
) -> Option<ExternalDelivery> {
    if issuer.is_closed() {
        return None;
    }
    let request = issuer.externals.get(&initiated_event_id)?.clone();
    Some(ExternalDelivery {
        issuer: issuer.execution(),
        request_id: format!("external:{}:{initiated_event_id}", issuer.run_id),
        request,
    })
}

/// Applies a delivery to the target run: `WorkflowExecutionSignaled` (deduplicated by the
/// derived request id) or `WorkflowExecutionCancelRequested`, each naming the issuing run.
/// `NotFound` when `child_workflow_only` and the target is not the issuer's child;
/// `WorkflowClosed` for a signal to a closed run. A cancellation of a closed run is a no-op.
pub fn deliver_external(
    target: &mut MutableState,
    delivery: &ExternalDelivery,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(target, now, |cx| {
        let request = &delivery.request;
        if cx.state.is_closed() && request.signal.is_none() {
            return Ok(());
        }
        cx.state.ensure_running()?;
        let is_child = cx.state.parent.as_ref().is_some_and(|p| {
            p.workflow_id == delivery.issuer.workflow_id && p.run_id == delivery.issuer.run_id
        });
        if request.child_workflow_only && !is_child {
            return Err(EngineError::not_found(format!(
                "workflow {:?} is not a child of workflow {:?}",
                cx.state.workflow_id, delivery.issuer.workflow_id
            )));
        }
        match &request.signal {
            Some(signal) => deliver_signal(cx, signal, delivery),
            None => deliver_cancel(cx, delivery),
        }
        Ok(())
    })
    .map(|(transition, ())| transition)
}

fn deliver_signal(cx: &mut Apply<'_>, signal: &ExternalSignal, delivery: &ExternalDelivery) {
    let input = SignalInput {
        name: &signal.name,
        input: signal.input.as_ref(),
        header: signal.header.as_ref(),
        identity: IDENTITY,
        request_id: &delivery.request_id,
        external: Some(&delivery.issuer),
    };
    input.deliver(cx);
}

fn deliver_cancel(cx: &mut Apply<'_>, delivery: &ExternalDelivery) {
    if cx.state.cancel_requested {
        return;
    }
    cx.state.cancel_requested = true;
    cx.record(Attributes::WorkflowExecutionCancelRequestedEventAttributes(
        WorkflowExecutionCancelRequestedEventAttributes {
            cause: delivery.request.reason.clone(),
            external_initiated_event_id: delivery.request.initiated_event_id,
            external_workflow_execution: Some(delivery.issuer.clone()),
            identity: IDENTITY.to_string(),
        },
    ));
    cx.ensure_workflow_task();
}

/// Records the outcome of the request initiated by `initiated_event_id` on the issuing run,
/// and a workflow task. A no-op for a closed run or a request that is already resolved.
pub fn external_resolved(
    state: &mut MutableState,
    initiated_event_id: i64,
    outcome: ExternalOutcome,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        if cx.state.is_closed() {
            return Ok(());
        }
        let Some(request) = cx.state.externals.remove(&initiated_event_id) else {
            return Ok(());
        };
        cx.record(outcome_event(&request, outcome));
        cx.ensure_workflow_task();
        Ok(())
    })
    .map(|(transition, ())| transition)
}

#[allow(deprecated)] // `control` is deprecated but still echoed, as Temporal does.
fn outcome_event(request: &ExternalRequest, outcome: ExternalOutcome) -> Attributes {
    let (namespace, workflow_execution) = (request.namespace.clone(), request.target.clone());
    let (initiated_event_id, control) = (request.initiated_event_id, request.control.clone());
    let completed_id = request.workflow_task_completed_event_id;
    // The two Failed events have the same fields; only their types and cause enums differ.
    macro_rules! failed {
        ($attributes:ident, $cause:expr) => {
            Attributes::$attributes($attributes {
                cause: $cause as i32,
                workflow_task_completed_event_id: completed_id,
                namespace,
                workflow_execution,
                initiated_event_id,
                control,
                ..Default::default()
            })
        };
    }
    match (request.signal.is_some(), outcome) {
        (true, ExternalOutcome::Delivered) => {
            Attributes::ExternalWorkflowExecutionSignaledEventAttributes(
                ExternalWorkflowExecutionSignaledEventAttributes {
                    initiated_event_id,
                    namespace,
                    workflow_execution,
                    control,
                    ..Default::default()
                },
            )
        }
        (true, ExternalOutcome::NotFound) => failed!(
            SignalExternalWorkflowExecutionFailedEventAttributes,
            SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound
        ),
        (false, ExternalOutcome::Delivered) => {
            Attributes::ExternalWorkflowExecutionCancelRequestedEventAttributes(
                ExternalWorkflowExecutionCancelRequestedEventAttributes {
                    initiated_event_id,
                    namespace,
                    workflow_execution,
                    ..Default::default()
                },
            )
        }
        (false, ExternalOutcome::NotFound) => failed!(
            RequestCancelExternalWorkflowExecutionFailedEventAttributes,
            CancelExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound
        ),
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        enums::v1::{EventType, WorkflowExecutionStatus},
        history::v1::history_event::Attributes as A,
    };

    use super::*;
    use crate::engine::{
        Effect, ParentInfo, RunLineage, complete_workflow_task, start_run, test_support::*,
    };

    /// A running issuer whose first task sent `cmd` (initiated event 5); no task pending.
    fn issuer_with(cmd: temporalio_protos::temporal::api::command::v1::Command) -> MutableState {
        first_task_completed(vec![cmd]).0
    }

    /// A running target "target" (its first task scheduled), optionally a child of run-1.
    fn target(child_of_issuer: bool) -> MutableState {
        let mut req = start_req();
        req.workflow_id = "target".into();
        let lineage = RunLineage {
            parent: child_of_issuer.then(|| ParentInfo {
                namespace: "default".into(),
                workflow_id: WORKFLOW_ID.into(),
                run_id: "run-1".into(),
                initiated_event_id: 5,
            }),
            ..Default::default()
        };
        start_run(&req, "target-run", &lineage, T0).unwrap().0
    }

    #[test]
    fn both_commands_initiate_and_ask_the_outbox() {
        let signal = signal_external_cmd("target", "", "ping");
        let cancel = cancel_external_cmd("child-1", true);
        for (cmd, initiated) in [
            (signal, EventType::SignalExternalWorkflowExecutionInitiated),
            (
                cancel,
                EventType::RequestCancelExternalWorkflowExecutionInitiated,
            ),
        ] {
            let (state, t) = first_task_completed(vec![cmd]);
            assert_eq!(types(&t), [EventType::WorkflowTaskCompleted, initiated]);
            assert_eq!(
                t.effects,
                [Effect::External {
                    initiated_event_id: 5
                }]
            );
            let delivery = external_delivery(&state, 5).unwrap();
            assert_eq!(delivery.request_id, "external:run-1:5");
            assert_eq!(delivery.request.workflow_task_completed_event_id, 4);
            assert!(!delivery.targets_itself());
            assert!(external_delivery(&state, 4).is_none());
            match &t.events[1].attributes {
                Some(A::SignalExternalWorkflowExecutionInitiatedEventAttributes(a)) => {
                    assert_eq!(
                        (a.signal_name.as_str(), a.namespace.as_str()),
                        ("ping", "default")
                    );
                    assert_eq!(delivery.target().workflow_id, "target");
                }
                Some(A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(a)) => {
                    assert!(a.child_workflow_only && delivery.request.child_workflow_only);
                    assert_eq!(a.reason, "stop");
                    assert!(delivery.request.signal.is_none());
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_signal_reaches_the_target_once_and_resolves_the_issuer() {
        let mut issuer = issuer_with(signal_external_cmd("target", "", "ping"));
        let delivery = external_delivery(&issuer, 5).unwrap();
        let mut target = target(false);
        let t = deliver_external(&mut target, &delivery, T0).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowExecutionSignaled]);
        let Some(A::WorkflowExecutionSignaledEventAttributes(s)) = &t.events[0].attributes else {
            panic!()
        };
        assert_eq!(
            (s.signal_name.as_str(), s.request_id.as_str()),
            ("ping", "external:run-1:5")
        );
        assert_eq!(s.input, Some(payloads("ping-in")));
        assert_eq!(s.external_workflow_execution, Some(issuer.execution()));
        // The step runs again (a crash before the issuer recorded it): nothing new.
        assert!(
            deliver_external(&mut target, &delivery, T0)
                .unwrap()
                .is_empty()
        );

        let t = external_resolved(&mut issuer, 5, ExternalOutcome::Delivered, T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ExternalWorkflowExecutionSignaled,
                EventType::WorkflowTaskScheduled
            ]
        );
        let Some(A::ExternalWorkflowExecutionSignaledEventAttributes(e)) = &t.events[0].attributes
        else {
            panic!()
        };
        assert_eq!(e.initiated_event_id, 5);
        assert_eq!(e.workflow_execution.as_ref().unwrap().workflow_id, "target");
        assert!(external_delivery(&issuer, 5).is_none(), "resolved");
        assert!(
            external_resolved(&mut issuer, 5, ExternalOutcome::NotFound, T0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_signal_to_a_closed_run_fails_with_not_found() {
        let mut issuer = issuer_with(signal_external_cmd("target", "", "ping"));
        let delivery = external_delivery(&issuer, 5).unwrap();
        let mut closed = closed_state();
        let before = closed.clone();
        assert!(matches!(
            deliver_external(&mut closed, &delivery, T0),
            Err(EngineError::WorkflowClosed)
        ));
        assert_eq!(closed, before);
        let t = external_resolved(&mut issuer, 5, ExternalOutcome::NotFound, T0).unwrap();
        let Some(A::SignalExternalWorkflowExecutionFailedEventAttributes(f)) =
            &t.events[0].attributes
        else {
            panic!("{:?}", types(&t))
        };
        assert_eq!(
            f.cause(),
            SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound
        );
        assert_eq!(
            (f.initiated_event_id, f.workflow_task_completed_event_id),
            (5, 4)
        );
    }

    #[test]
    fn child_workflow_only_cancels_only_the_issuers_child() {
        let mut issuer = issuer_with(cancel_external_cmd("target", true));
        let delivery = external_delivery(&issuer, 5).unwrap();
        let mut stranger = target(false);
        assert!(matches!(
            deliver_external(&mut stranger, &delivery, T0),
            Err(EngineError::NotFound(_))
        ));
        let mut child = target(true);
        let t = deliver_external(&mut child, &delivery, T0).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowExecutionCancelRequested]);
        let Some(A::WorkflowExecutionCancelRequestedEventAttributes(c)) = &t.events[0].attributes
        else {
            panic!()
        };
        assert_eq!(c.cause, "stop");
        assert_eq!(c.external_initiated_event_id, 5);
        assert_eq!(c.external_workflow_execution, Some(issuer.execution()));
        assert!(
            deliver_external(&mut child, &delivery, T0)
                .unwrap()
                .is_empty()
        );

        let t = external_resolved(&mut issuer, 5, ExternalOutcome::Delivered, T0).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::ExternalWorkflowExecutionCancelRequested,
                EventType::WorkflowTaskScheduled
            ]
        );
    }

    #[test]
    fn cancelling_a_closed_run_is_done_and_a_closed_issuer_records_nothing() {
        let issuer = issuer_with(cancel_external_cmd("target", false));
        let delivery = external_delivery(&issuer, 5).unwrap();
        let mut closed = closed_state();
        assert!(
            deliver_external(&mut closed, &delivery, T0)
                .unwrap()
                .is_empty()
        );
        assert_eq!(closed.status(), WorkflowExecutionStatus::Completed);

        let mut failed = issuer.clone();
        let t = external_resolved(&mut failed, 5, ExternalOutcome::NotFound, T0).unwrap();
        let Some(A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(f)) =
            &t.events[0].attributes
        else {
            panic!("{:?}", types(&t))
        };
        assert_eq!(
            f.cause(),
            CancelExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound
        );

        let mut gone = issuer;
        crate::engine::terminate_workflow(&mut gone, &Default::default(), T0).unwrap();
        assert!(external_delivery(&gone, 5).is_none());
        assert!(
            external_resolved(&mut gone, 5, ExternalOutcome::Delivered, T0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_outcome_while_a_task_runs_is_buffered() {
        let mut issuer = issuer_with(signal_external_cmd("target", "", "ping"));
        let (s, st) = run_task(&mut issuer);
        let t = external_resolved(&mut issuer, 5, ExternalOutcome::Delivered, T0).unwrap();
        assert!(t.events.is_empty());
        let t =
            complete_workflow_task(&mut issuer, s, st, 1, &completed_req(vec![]), "r", T0).unwrap();
        assert!(types(&t).contains(&EventType::ExternalWorkflowExecutionSignaled));
    }
}
