//! The property test's update and reset operations: the worker's update answers in a
//! completion, and a reset the driver then follows into the new run.

use proptest::prelude::*;
use temporalio_protos::temporal::api::{
    command::v1::Command, enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage,
    protocol::v1::Message,
};

use super::{Driver, EventType, ty};
use crate::engine::{
    EngineError, ResetPlan, RunIdentity,
    rebuild::rebuild,
    reset_prefix_len, reset_run,
    update::test_support::{accept, protocol_cmd, reject, respond},
};

/// How the worker answers an update in a completion.
#[derive(Clone, Copy, Debug)]
pub(super) enum Answer {
    Accept,
    Reject,
    Respond,
    AcceptAndRespond,
}

/// One update answer: which update (of those in a fitting stage), how, and whether a
/// `PROTOCOL_MESSAGE` command names it (placed first) or it follows the commands.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ans {
    pick: usize,
    answer: Answer,
    named: bool,
}

pub(super) fn ans_strategy() -> impl Strategy<Value = Ans> {
    let answer = prop_oneof![
        3 => Just(Answer::Accept),
        2 => Just(Answer::Reject),
        3 => Just(Answer::Respond),
        2 => Just(Answer::AcceptAndRespond),
    ];
    (0usize..4, answer, any::<bool>()).prop_map(|(pick, answer, named)| Ans {
        pick,
        answer,
        named,
    })
}

impl Driver {
    /// Resets the run to one of its workflow task events, as `executions` does, and follows
    /// the new run (the base run itself is left as it was).
    pub(super) fn reset(&mut self, pick: usize, reapply: bool) {
        let points: Vec<i64> = self
            .history
            .iter()
            .filter(|e| {
                matches!(
                    ty(e),
                    EventType::WorkflowTaskStarted
                        | EventType::WorkflowTaskCompleted
                        | EventType::WorkflowTaskFailed
                        | EventType::WorkflowTaskTimedOut
                )
            })
            .map(|e| e.event_id)
            .collect();
        if points.is_empty() {
            return;
        }
        let finish = points[pick % points.len()];
        let len = reset_prefix_len(&self.state, finish).expect("a workflow task event is a point");
        let (prefix, later) = self.history.split_at(len);
        self.resets += 1;
        let run_id = format!("run-reset-{}", self.resets);
        let identity = RunIdentity {
            namespace: self.state.namespace(),
            run_id: &run_id,
            start_request_id: self.state.start_request_id(),
        };
        let rebuilt = rebuild(&identity, prefix).expect("an engine history rebuilds");
        let plan = ResetPlan {
            base_run_id: self.state.run_id(),
            new_run_id: &run_id,
            reason: "reset",
            request_id: "reset-req",
            finish_event_id: finish,
            reapply_signals: reapply,
            reapply_updates: reapply,
        };
        match reset_run(rebuilt, prefix, later, &plan, self.now) {
            Ok((state, t)) => {
                assert!(
                    state.sticky_task_queue().is_none()
                        && state.pending_workflow_task().is_none_or(|t| !t.sticky),
                    "a reset run starts on the normal queue"
                );
                self.state = state;
                self.history.clear();
                self.timers.clear();
                self.absorb(&t);
            }
            // A child still pending at that point: refused, nothing changes.
            Err(EngineError::InvalidArgument(message)) => {
                assert!(message.contains("child workflow"), "{message}");
            }
            Err(other) => panic!("reset to {finish}: {other:?}"),
        }
    }

    /// The update answers of a completion: the `PROTOCOL_MESSAGE` commands of the named ones
    /// and the messages. An answer that does not fit (an update answered twice) is sent anyway:
    /// the engine must refuse it.
    pub(super) fn answers(&self, answers: &[Ans]) -> (Vec<Command>, Vec<Message>) {
        let in_stage = |stage: Stage| -> Vec<String> {
            let ids = self.state.updates.values().filter(|u| u.stage() == stage);
            ids.map(|u| u.update_id.clone()).collect()
        };
        let (admitted, accepted) = (in_stage(Stage::Admitted), in_stage(Stage::Accepted));
        let (mut named, mut messages) = (Vec::new(), Vec::new());
        for ans in answers {
            let from = match ans.answer {
                Answer::Respond => &accepted,
                _ => &admitted,
            };
            if from.is_empty() {
                continue;
            }
            let id = &from[ans.pick % from.len()];
            let new = match ans.answer {
                Answer::Accept => vec![accept(id)],
                Answer::Reject => vec![reject(id, "no")],
                Answer::Respond => vec![respond(id, "done")],
                Answer::AcceptAndRespond => vec![accept(id), respond(id, "done")],
            };
            if ans.named {
                named.extend(new.iter().map(protocol_cmd));
            }
            messages.extend(new);
        }
        (named, messages)
    }
}
