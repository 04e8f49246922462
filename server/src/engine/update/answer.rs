//! The worker's answers, in `RespondWorkflowTaskCompletedRequest.messages`:
//! - Acceptance → `WorkflowExecutionUpdateAccepted`, Response →
//!   `WorkflowExecutionUpdateCompleted`, each where its `PROTOCOL_MESSAGE` command stands among
//!   the commands (messages no command names follow the commands, as in Temporal);
//! - Rejection → nothing in history; the update is forgotten and its waiters get the failure.
//!
//! An update given to the task and left unanswered is rejected by the server (Temporal's
//! "UnprocessedUpdate"); updates admitted while the task ran get the next task — a speculative
//! one unless the completion needs a task anyway.

use prost::Message as _;
use temporalio_protos::temporal::api::{
    command::v1::ProtocolMessageCommandAttributes,
    enums::v1::{UpdateWorkflowExecutionLifecycleStage as Stage, WorkflowTaskFailedCause},
    failure::v1::Failure,
    history::v1::{
        WorkflowExecutionUpdateAcceptedEventAttributes,
        WorkflowExecutionUpdateCompletedEventAttributes, history_event::Attributes,
    },
    protocol::v1::Message,
    update::v1::{Acceptance, Meta, Rejection, Response},
};

use super::{UpdateChange, admit::schedule_speculative, status::unprocessed_failure};
use crate::engine::{Effect, EngineError, apply::Apply, commands::CommandContext};

/// One decoded answer.
#[derive(Clone, Debug)]
enum Body {
    Accept(Acceptance),
    Reject(Rejection),
    Respond(Response),
}

#[derive(Clone, Debug)]
struct Answer {
    id: String,
    update_id: String,
    body: Body,
}

/// The answers of one completion, decoded up front (a bad one rejects the whole completion),
/// each applied once.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    pending: Vec<Answer>,
}

impl Answers {
    /// Decodes `messages`; anything but an update Acceptance, Rejection or Response is refused
    /// with `BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE`.
    pub(crate) fn parse(messages: &[Message]) -> Result<Self, EngineError> {
        let pending = messages
            .iter()
            .map(|message| {
                let body = message
                    .body
                    .as_ref()
                    .ok_or_else(|| bad(format!("message {:?} has no body", message.id)))?;
                let kind = body.type_url.rsplit('/').next().unwrap_or_default();
                let value = body.value.as_slice();
                let body = match kind {
                    "temporal.api.update.v1.Acceptance" => {
                        Acceptance::decode(value).map(Body::Accept)
                    }
                    "temporal.api.update.v1.Rejection" => {
                        Rejection::decode(value).map(Body::Reject)
                    }
                    "temporal.api.update.v1.Response" => Response::decode(value).map(Body::Respond),
                    other => {
                        return Err(bad(format!(
                            "message {:?} has body type {other:?}; only update acceptances, \
                             rejections and responses are understood",
                            message.id
                        )));
                    }
                }
                .map_err(|err| bad(format!("message {:?} does not decode: {err}", message.id)))?;
                if message.protocol_instance_id.is_empty() {
                    return Err(bad(format!(
                        "message {:?} has no protocol_instance_id (the update id)",
                        message.id
                    )));
                }
                Ok(Answer {
                    id: message.id.clone(),
                    update_id: message.protocol_instance_id.clone(),
                    body,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Answers { pending })
    }

    /// True when every answer is a rejection (a speculative task with only those is dropped).
    pub(crate) fn only_rejections(&self) -> bool {
        self.pending
            .iter()
            .all(|a| matches!(a.body, Body::Reject(_)))
    }

    /// Applies the rejections (they write nothing, so their place does not matter).
    pub(crate) fn apply_rejections(&mut self, cx: &mut Apply<'_>) -> Result<(), EngineError> {
        let (rejections, rest) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|a| matches!(a.body, Body::Reject(_)));
        self.pending = rest;
        rejections.into_iter().try_for_each(|a| apply(cx, a))
    }

    /// Applies the answers no `PROTOCOL_MESSAGE` command named, in message order; none may be
    /// left when the completion closed the run.
    pub(crate) fn apply_remaining(
        &mut self,
        cx: &mut Apply<'_>,
        closed: bool,
    ) -> Result<(), EngineError> {
        let remaining = std::mem::take(&mut self.pending);
        if closed && let Some(answer) = remaining.first() {
            return Err(bad(format!(
                "message {:?} would be recorded after the workflow closed; name it with a \
                 PROTOCOL_MESSAGE command before the closing command",
                answer.id
            )));
        }
        remaining.into_iter().try_for_each(|a| apply(cx, a))
    }

    fn take(&mut self, message_id: &str) -> Option<Answer> {
        let index = self.pending.iter().position(|a| a.id == message_id)?;
        Some(self.pending.remove(index))
    }
}

/// The `PROTOCOL_MESSAGE` command: applies the message it names, here among the commands.
pub(crate) fn protocol_message(
    cx: &mut Apply<'_>,
    ctx: &mut CommandContext<'_>,
    attributes: &ProtocolMessageCommandAttributes,
) -> Result<(), EngineError> {
    let answer = ctx.answers.take(&attributes.message_id).ok_or_else(|| {
        bad(format!(
            "PROTOCOL_MESSAGE command names message {:?}, which this completion does not carry \
             (or another command already named)",
            attributes.message_id
        ))
    })?;
    apply(cx, answer)
}

/// After the commands (the run still open): rejects the updates the task was given and the
/// worker did not answer, then schedules the next task — a normal one if `new_task`, else a
/// speculative one when updates admitted while the task ran are waiting.
pub(crate) fn finish_task(cx: &mut Apply<'_>, new_task: bool) {
    let unanswered: Vec<String> = cx
        .state
        .updates
        .values()
        .filter(|u| u.is_admitted() && u.sent)
        .map(|u| u.update_id.clone())
        .collect();
    for update_id in unanswered {
        cx.state.updates.remove(&update_id);
        changed(cx, update_id, Some(unprocessed_failure()));
    }
    if new_task {
        cx.schedule_workflow_task(1);
    } else if cx.state.workflow_task.is_none() && cx.state.updates.values().any(|u| u.is_admitted())
    {
        schedule_speculative(cx);
    }
}

fn apply(cx: &mut Apply<'_>, answer: Answer) -> Result<(), EngineError> {
    let Answer {
        id,
        update_id,
        body,
    } = answer;
    let Some(info) = cx.state.updates.get_mut(&update_id) else {
        return Err(bad(format!(
            "message {id:?} answers update {update_id:?}, which this run does not have in flight"
        )));
    };
    let expected = match body {
        Body::Accept(_) | Body::Reject(_) => Stage::Admitted,
        Body::Respond(_) => Stage::Accepted,
    };
    if info.stage() != expected {
        return Err(bad(format!(
            "message {id:?} does not fit update {update_id:?}, which is {}",
            info.stage().as_str_name()
        )));
    }
    match body {
        Body::Accept(acceptance) => {
            // A reapplied update's request is in its admitted event; Temporal then leaves it
            // out of the accepted event (the SDKs read it from the admitted one).
            let request = if info.admission_in_history() {
                None
            } else {
                info.request.take().or(acceptance.accepted_request)
            };
            let accepted_event_id =
                cx.append(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(
                    WorkflowExecutionUpdateAcceptedEventAttributes {
                        protocol_instance_id: update_id.clone(),
                        accepted_request_message_id: acceptance.accepted_request_message_id,
                        accepted_request_sequencing_event_id: acceptance
                            .accepted_request_sequencing_event_id,
                        accepted_request: request,
                    },
                ));
            if let Some(info) = cx.state.updates.get_mut(&update_id) {
                info.stage = Stage::Accepted as i32;
                info.sent = false;
                info.admitted_seq = 0;
                info.accepted_event_id = accepted_event_id;
            }
            changed(cx, update_id, None);
        }
        Body::Respond(response) => {
            let accepted_event_id = info.accepted_event_id;
            let outcome = response
                .outcome
                .ok_or_else(|| bad(format!("response {id:?} carries no outcome")))?;
            let meta = response.meta.unwrap_or_else(|| Meta {
                update_id: update_id.clone(),
                identity: String::new(),
            });
            let completed_event_id =
                cx.append(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(
                    WorkflowExecutionUpdateCompletedEventAttributes {
                        meta: Some(meta),
                        accepted_event_id,
                        outcome: Some(outcome),
                    },
                ));
            if let Some(info) = cx.state.updates.get_mut(&update_id) {
                info.stage = Stage::Completed as i32;
                info.completed_event_id = completed_event_id;
            }
            changed(cx, update_id, None);
        }
        Body::Reject(rejection) => {
            cx.state.updates.remove(&update_id);
            let failure = rejection.failure.unwrap_or_else(|| Failure {
                message: "the workflow rejected the update".to_string(),
                ..Default::default()
            });
            changed(cx, update_id, Some(failure));
        }
    }
    Ok(())
}

fn changed(cx: &mut Apply<'_>, update_id: String, rejection: Option<Failure>) {
    cx.effect(Effect::Update(Box::new(UpdateChange {
        update_id,
        rejection,
    })));
}

fn bad(message: String) -> EngineError {
    EngineError::rejected(
        WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage,
        message,
    )
}
