//! Workflow updates: UpdateWorkflowExecution and PollWorkflowExecutionUpdate (update-with-start
//! is in `update_with_start.rs`).
//!
//! Admission is an ordinary change of the run (lock → load → `engine::admit_update` → one
//! batch → flush), so an admitted update survives a crash and is delivered after the restart;
//! a client that lost its call retries with the same update id and finds it. The caller then
//! waits — holding no lock — for the stage it asked for: every transition that moves an
//! update carries an [`Effect::Update`](crate::engine::Effect::Update), published after its
//! batch is durable, which wakes the waiters; they re-read the run. ACCEPTED or COMPLETED is
//! therefore only ever answered once it is on disk. A rejection is not stored: its failure
//! travels in the effect. Waiting gives up after [`UPDATE_LONG_POLL`] with the stage reached
//! so far (the SDKs ask again), as Temporal does.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::{UpdateWorkflowExecutionLifecycleStage as Stage, WorkflowExecutionStatus},
    failure::v1::Failure,
    history::v1::history_event::Attributes,
    update::v1::{Outcome, UpdateRef, WaitPolicy, outcome},
    workflowservice::v1::{
        PollWorkflowExecutionUpdateRequest, PollWorkflowExecutionUpdateResponse,
        UpdateWorkflowExecutionRequest, UpdateWorkflowExecutionResponse,
    },
};
use tokio::sync::watch;

use super::{ExecutionError, Executions, RunKey};
use crate::{
    engine::{self, EngineError, UpdateChange, UpdateStatus},
    store::WriteBatch,
};

/// How long a call waits for an update to reach the stage it asked for before it answers with
/// the stage reached so far (Temporal's long-poll interval for updates).
const UPDATE_LONG_POLL: Duration = Duration::from_secs(20);

/// Where an update got to, as answered to a client.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Reached {
    pub(super) stage: Stage,
    pub(super) outcome: Option<Outcome>,
}

impl Executions {
    /// UpdateWorkflowExecution: admits the update (or finds the one with its id) and waits for
    /// the requested stage (unspecified = COMPLETED, Temporal's default).
    pub async fn update_workflow(
        &self,
        request: &UpdateWorkflowExecutionRequest,
    ) -> Result<UpdateWorkflowExecutionResponse, ExecutionError> {
        engine::check_update_request(request)?;
        let execution = request.workflow_execution.clone().unwrap_or_default();
        let run = self.resolve(
            &request.namespace,
            &execution.workflow_id,
            &execution.run_id,
        )?;
        let update_id = update_id_of(request);
        let waiter = self.update_waiters.subscribe(&run, update_id);
        self.mutate(&run, WriteBatch::default(), |state, now| {
            engine::admit_update(state, request, now)
        })
        .await?;
        let wanted = wait_stage(request.wait_policy.as_ref(), Stage::Completed);
        let reached = self.await_update(&run, update_id, wanted, waiter).await?;
        Ok(update_response(&run, update_id, reached))
    }

    /// PollWorkflowExecutionUpdate: waits for a known update to reach the requested stage
    /// (unspecified: answers the stage reached at once, as Temporal does). NotFound for an
    /// update the run does not know (never admitted, or rejected).
    pub async fn poll_update(
        &self,
        request: &PollWorkflowExecutionUpdateRequest,
    ) -> Result<PollWorkflowExecutionUpdateResponse, ExecutionError> {
        let update_ref = request.update_ref.clone().unwrap_or_default();
        let execution = update_ref.workflow_execution.unwrap_or_default();
        if update_ref.update_id.is_empty() {
            return Err(ExecutionError::InvalidArgument(
                "update_ref.update_id is required".into(),
            ));
        }
        let run = self.resolve(
            &request.namespace,
            &execution.workflow_id,
            &execution.run_id,
        )?;
        let update_id = update_ref.update_id.as_str();
        let waiter = self.update_waiters.subscribe(&run, update_id);
        let state = self.load(&run)?.ok_or_else(|| run_not_found(&run))?;
        if engine::update_status(&state, update_id).is_none() {
            return Err(EngineError::not_found(format!("update {update_id:?} not found")).into());
        }
        let wanted = wait_stage(request.wait_policy.as_ref(), Stage::Admitted);
        let reached = self.await_update(&run, update_id, wanted, waiter).await?;
        Ok(PollWorkflowExecutionUpdateResponse {
            outcome: reached.outcome,
            stage: reached.stage as i32,
            update_ref: Some(update_ref_of(&run, update_id)),
        })
    }

    /// Waits until update `update_id` of `run` reaches stage `wanted` (or is rejected), at
    /// most [`UPDATE_LONG_POLL`]; then answers the stage reached. `waiter` must have been taken
    /// before the change that admitted the update was committed, so no wake-up is missed.
    pub(super) async fn await_update(
        &self,
        run: &RunKey,
        update_id: &str,
        wanted: Stage,
        mut waiter: UpdateWaiter,
    ) -> Result<Reached, ExecutionError> {
        let deadline = tokio::time::Instant::now() + UPDATE_LONG_POLL;
        let mut expired = false;
        loop {
            if let Some(failure) = waiter.rejection() {
                return Ok(Reached {
                    stage: Stage::Completed,
                    outcome: Some(failure_outcome(failure)),
                });
            }
            let state = self.load(run)?.ok_or_else(|| run_not_found(run))?;
            let Some(status) = engine::update_status(&state, update_id) else {
                return Err(gone(state.status(), update_id));
            };
            if status.stage() >= wanted {
                return self.reached(run, status);
            }
            if expired {
                return Ok(Reached {
                    stage: status.stage(),
                    outcome: None,
                });
            }
            // One last look after the deadline, so the answer is as fresh as it can be.
            expired = tokio::time::timeout_at(deadline, waiter.changed())
                .await
                .is_err();
        }
    }

    /// The answer for `status`, reading a completed update's outcome from its event.
    pub(super) fn reached(
        &self,
        run: &RunKey,
        status: UpdateStatus,
    ) -> Result<Reached, ExecutionError> {
        let outcome = match &status {
            UpdateStatus::Admitted | UpdateStatus::Accepted => None,
            UpdateStatus::Failed(failure) => Some(failure_outcome((**failure).clone())),
            UpdateStatus::Completed { completed_event_id } => self
                .read_events(run, *completed_event_id, *completed_event_id)?
                .into_iter()
                .find_map(|event| match event.attributes {
                    Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(a)) => {
                        a.outcome
                    }
                    _ => None,
                }),
        };
        Ok(Reached {
            stage: status.stage(),
            outcome,
        })
    }

    /// Wakes the waiters of a committed update change.
    pub(super) fn publish_update(&self, run: &RunKey, change: &UpdateChange) {
        self.update_waiters.notify(run, change);
    }
}

/// The update id of a checked request.
pub(super) fn update_id_of(request: &UpdateWorkflowExecutionRequest) -> &str {
    request
        .request
        .as_ref()
        .and_then(|r| r.meta.as_ref())
        .map_or("", |m| m.update_id.as_str())
}

/// The stage a caller waits for; `unspecified` when the policy names none.
pub(super) fn wait_stage(policy: Option<&WaitPolicy>, unspecified: Stage) -> Stage {
    match policy.map(|p| Stage::try_from(p.lifecycle_stage)) {
        Some(Ok(Stage::Unspecified)) | None | Some(Err(_)) => unspecified,
        Some(Ok(stage)) => stage,
    }
}

pub(super) fn update_response(
    run: &RunKey,
    update_id: &str,
    reached: Reached,
) -> UpdateWorkflowExecutionResponse {
    UpdateWorkflowExecutionResponse {
        update_ref: Some(update_ref_of(run, update_id)),
        outcome: reached.outcome,
        stage: reached.stage as i32,
        ..Default::default()
    }
}

fn update_ref_of(run: &RunKey, update_id: &str) -> UpdateRef {
    UpdateRef {
        workflow_execution: Some(WorkflowExecution {
            workflow_id: run.workflow_id.clone(),
            run_id: run.run_id.clone(),
        }),
        update_id: update_id.to_string(),
    }
}

fn failure_outcome(failure: Failure) -> Outcome {
    Outcome {
        value: Some(outcome::Value::Failure(failure)),
    }
}

fn run_not_found(run: &RunKey) -> ExecutionError {
    ExecutionError::NotFound(format!("{:?} run {:?}", run.workflow_id, run.run_id))
}

/// An update the caller saw admitted is no longer known: the run closed before accepting it
/// (Temporal's errors: NotFound, or a retryable ResourceExhausted when the run continued as
/// new, so the client's retry reaches the new run).
fn gone(status: WorkflowExecutionStatus, update_id: &str) -> ExecutionError {
    let err = match status {
        WorkflowExecutionStatus::ContinuedAsNew => EngineError::ResourceExhausted(format!(
            "the workflow continued as new before accepting update {update_id:?}; retry to \
             send it to the new run"
        )),
        WorkflowExecutionStatus::Running => {
            EngineError::not_found(format!("update {update_id:?} not found"))
        }
        _ => EngineError::not_found("workflow update was aborted by closing workflow"),
    };
    err.into()
}

/// What a waiter is told: something changed (`seq`), and the rejection of a rejected update.
#[derive(Clone, Debug, Default)]
struct Notice {
    seq: u64,
    rejection: Option<Failure>,
}

type WaiterKey = (RunKey, String);

/// The callers waiting on updates, by run and update id. In memory only: after a restart,
/// clients retry and wait anew.
pub(crate) struct UpdateWaiters {
    waiting: Arc<Mutex<HashMap<WaiterKey, watch::Sender<Notice>>>>,
}

impl UpdateWaiters {
    pub(crate) fn new() -> Self {
        Self {
            waiting: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub(super) fn subscribe(&self, run: &RunKey, update_id: &str) -> UpdateWaiter {
        let key = (run.clone(), update_id.to_string());
        let receiver = lock(&self.waiting)
            .entry(key.clone())
            .or_insert_with(|| watch::channel(Notice::default()).0)
            .subscribe();
        UpdateWaiter {
            receiver,
            key,
            waiting: self.waiting.clone(),
        }
    }

    fn notify(&self, run: &RunKey, change: &UpdateChange) {
        let key = (run.clone(), change.update_id.clone());
        if let Some(sender) = lock(&self.waiting).get(&key) {
            sender.send_modify(|notice| {
                notice.seq = notice.seq.wrapping_add(1);
                if change.rejection.is_some() {
                    notice.rejection = change.rejection.clone();
                }
            });
        }
    }
}

/// One caller's subscription; dropping the last one forgets the entry.
pub(super) struct UpdateWaiter {
    receiver: watch::Receiver<Notice>,
    key: WaiterKey,
    waiting: Arc<Mutex<HashMap<WaiterKey, watch::Sender<Notice>>>>,
}

impl UpdateWaiter {
    fn rejection(&self) -> Option<Failure> {
        self.receiver.borrow().rejection.clone()
    }

    async fn changed(&mut self) {
        if self.receiver.changed().await.is_err() {
            // The sender is only dropped with the entry, which outlives its receivers.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for UpdateWaiter {
    fn drop(&mut self) {
        let mut waiting = lock(&self.waiting);
        if waiting
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            waiting.remove(&self.key);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunKey {
        RunKey::new("default", "wf", "run")
    }

    fn change(rejection: Option<&str>) -> UpdateChange {
        UpdateChange {
            update_id: "u1".into(),
            rejection: rejection.map(|message| Failure {
                message: message.into(),
                ..Default::default()
            }),
        }
    }

    #[tokio::test]
    async fn a_change_wakes_every_waiter_and_a_rejection_reaches_them() {
        let waiters = UpdateWaiters::new();
        let mut first = waiters.subscribe(&run(), "u1");
        let mut second = waiters.subscribe(&run(), "u1");
        waiters.notify(&run(), &change(None));
        first.changed().await;
        assert!(first.rejection().is_none());
        waiters.notify(&run(), &change(Some("no")));
        second.changed().await;
        assert_eq!(second.rejection().map(|f| f.message), Some("no".into()));
        assert_eq!(first.rejection().map(|f| f.message), Some("no".into()));
    }

    #[test]
    fn the_last_waiter_leaving_forgets_the_entry() {
        let waiters = UpdateWaiters::new();
        let first = waiters.subscribe(&run(), "u1");
        let second = waiters.subscribe(&run(), "u1");
        drop(first);
        assert_eq!(lock(&waiters.waiting).len(), 1);
        drop(second);
        assert!(lock(&waiters.waiting).is_empty());
        // Nobody waits: a change is dropped without creating an entry.
        waiters.notify(&run(), &change(None));
        assert!(lock(&waiters.waiting).is_empty());
    }

    #[test]
    fn an_unspecified_wait_stage_takes_the_callers_default() {
        let policy = |stage: Stage| WaitPolicy {
            lifecycle_stage: stage as i32,
        };
        assert_eq!(wait_stage(None, Stage::Completed), Stage::Completed);
        let unspecified = policy(Stage::Unspecified);
        assert_eq!(
            wait_stage(Some(&unspecified), Stage::Admitted),
            Stage::Admitted
        );
        let admitted = policy(Stage::Admitted);
        assert_eq!(
            wait_stage(Some(&admitted), Stage::Completed),
            Stage::Admitted
        );
        let accepted = policy(Stage::Accepted);
        assert_eq!(
            wait_stage(Some(&accepted), Stage::Completed),
            Stage::Accepted
        );
    }
}
