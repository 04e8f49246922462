//! SignalWorkflowExecution: `WorkflowExecutionSignaled` (buffered while a workflow task is
//! started) and a workflow task if none is pending. Signals are deduplicated by request id
//! over the last [`SIGNAL_DEDUP_WINDOW`] signals.

use temporalio_protos::temporal::api::{
    common::v1::{Header, Payloads, WorkflowExecution},
    history::v1::{WorkflowExecutionSignaledEventAttributes, history_event::Attributes},
    workflowservice::v1::SignalWorkflowExecutionRequest,
};

use super::{
    EngineError, MutableState, Transition,
    apply::{Apply, transact},
};

/// How many recent signal request ids are remembered for deduplication.
pub(crate) const SIGNAL_DEDUP_WINDOW: usize = 100;

/// Delivers a signal. A repeated `request_id` is acknowledged without a second event.
pub fn signal(
    state: &mut MutableState,
    req: &SignalWorkflowExecutionRequest,
    now: i64,
) -> Result<Transition, EngineError> {
    transact(state, now, |cx| {
        cx.state.ensure_running()?;
        let input = SignalInput {
            name: &req.signal_name,
            input: req.input.as_ref(),
            header: req.header.as_ref(),
            identity: &req.identity,
            request_id: &req.request_id,
            external: None,
        };
        input.validate()?;
        input.deliver(cx);
        Ok(())
    })
    .map(|(transition, ())| transition)
}

/// The parts of a signal, from SignalWorkflowExecution or SignalWithStart.
pub(crate) struct SignalInput<'a> {
    pub(crate) name: &'a str,
    pub(crate) input: Option<&'a Payloads>,
    pub(crate) header: Option<&'a Header>,
    pub(crate) identity: &'a str,
    pub(crate) request_id: &'a str,
    /// The run that sent it (SignalExternalWorkflowExecution), if any.
    pub(crate) external: Option<&'a WorkflowExecution>,
}

impl SignalInput<'_> {
    pub(crate) fn validate(&self) -> Result<(), EngineError> {
        if self.name.is_empty() {
            return Err(EngineError::invalid("signal_name is required"));
        }
        Ok(())
    }

    /// Records the signal unless its request id was seen, and makes sure a workflow task
    /// follows (except while the run waits out its first-task backoff: as in Temporal, the
    /// signal is seen by that first task).
    pub(crate) fn deliver(&self, cx: &mut Apply<'_>) {
        if self.is_duplicate(cx.state) {
            return;
        }
        self.record(cx);
        if !cx.state.first_task_backoff {
            cx.ensure_workflow_task();
        }
    }

    fn is_duplicate(&self, state: &MutableState) -> bool {
        !self.request_id.is_empty()
            && state
                .signal_request_ids
                .iter()
                .any(|id| id == self.request_id)
    }

    /// Records the signal event (buffered if a task is started) and remembers its request id.
    pub(crate) fn record(&self, cx: &mut Apply<'_>) {
        cx.record(Attributes::WorkflowExecutionSignaledEventAttributes(
            WorkflowExecutionSignaledEventAttributes {
                signal_name: self.name.to_string(),
                input: self.input.cloned(),
                identity: self.identity.to_string(),
                header: self.header.cloned(),
                request_id: self.request_id.to_string(),
                external_workflow_execution: self.external.cloned(),
                ..Default::default()
            },
        ));
        if !self.request_id.is_empty() {
            let ids = &mut cx.state.signal_request_ids;
            if ids.len() >= SIGNAL_DEDUP_WINDOW {
                ids.remove(0);
            }
            ids.push(self.request_id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::enums::v1::EventType;

    use super::*;
    use crate::engine::{Effect, test_support::*};

    #[test]
    fn signal_when_idle_schedules_a_task() {
        let mut state = idle_state();
        let next = state.next_event_id();
        let t = signal(&mut state, &signal_req("go", "r1"), T0 + 10).unwrap();
        assert_eq!(
            types(&t),
            [
                EventType::WorkflowExecutionSignaled,
                EventType::WorkflowTaskScheduled
            ]
        );
        assert_eq!(ids(&t), [next, next + 1]);
        assert!(matches!(
            t.effects[..],
            [Effect::WorkflowTask { scheduled_event_id, attempt: 1, .. }] if scheduled_event_id == next + 1
        ));
    }

    #[test]
    fn signal_while_scheduled_appends_without_new_task() {
        let (mut state, _) = started();
        let t = signal(&mut state, &signal_req("go", ""), T0).unwrap();
        assert_eq!(types(&t), [EventType::WorkflowExecutionSignaled]);
        assert!(t.effects.is_empty());
    }

    #[test]
    fn signal_while_started_is_buffered() {
        let mut state = task_in_flight();
        let before = state.next_event_id();
        let t = signal(&mut state, &signal_req("go", ""), T0).unwrap();
        assert!(t.is_empty());
        assert_eq!(state.next_event_id(), before);
        assert_eq!(state.buffered_events.len(), 1);
    }

    #[test]
    fn duplicate_request_id_is_acknowledged_once() {
        let mut state = idle_state();
        signal(&mut state, &signal_req("go", "same"), T0).unwrap();
        let t = signal(&mut state, &signal_req("go", "same"), T0).unwrap();
        assert!(t.is_empty());
    }

    #[test]
    fn refuses_closed_runs_and_empty_names() {
        let mut state = idle_state();
        assert!(matches!(
            signal(&mut state, &signal_req("", ""), T0),
            Err(EngineError::InvalidArgument(_))
        ));
        let mut closed = closed_state();
        let before = closed.clone();
        assert!(matches!(
            signal(&mut closed, &signal_req("go", ""), T0),
            Err(EngineError::WorkflowClosed)
        ));
        assert_eq!(closed, before);
    }
}
