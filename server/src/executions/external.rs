//! The outbox step of a signal or cancellation request to another workflow (outbox kind
//! EXTERNAL): read the request on the issuing run, apply it to the target under the target's
//! lock only, then record the outcome on the issuing run in the batch that deletes the row.
//! Every part may run again after a crash: the signal's derived request id makes the target
//! drop a repeated delivery, a cancellation request is idempotent, and the outcome is recorded
//! once (see `engine/external.rs`).

use super::{ExecutionError, Executions, RunKey};
use crate::{
    engine::{self, EngineError, ExternalOutcome},
    store::{Keyspace, WriteBatch},
};

impl Executions {
    /// Carries out the EXTERNAL outbox row `row` of `issuer` for its initiated event.
    pub(super) async fn external(
        &self,
        issuer: &RunKey,
        initiated_event_id: i64,
        row: &[u8],
    ) -> Result<(), ExecutionError> {
        let delivery = self
            .load(issuer)?
            .and_then(|state| engine::external_delivery(&state, initiated_event_id));
        let Some(delivery) = delivery else {
            self.forget_row(Keyspace::Tasks, row.to_vec()).await;
            return Ok(());
        };
        let outcome = self.deliver_external(&delivery).await?;
        let mut consumed = WriteBatch::default();
        consumed.delete(Keyspace::Tasks, row.to_vec());
        let recorded = self
            .mutate(issuer, consumed, |state, now| {
                engine::external_resolved(state, initiated_event_id, outcome, now).map(|t| (t, ()))
            })
            .await;
        self.settle(recorded, row).await
    }

    /// Applies a delivery to its target under the target's lock (only): the named run, or the
    /// workflow's current run. A missing or closed target, or one that is not the issuer's
    /// child when that is required, is `NotFound`.
    async fn deliver_external(
        &self,
        delivery: &engine::ExternalDelivery,
    ) -> Result<ExternalOutcome, ExecutionError> {
        if delivery.targets_itself() {
            return Ok(ExternalOutcome::NotFound);
        }
        let target = delivery.target();
        let run = match self.resolve(delivery.namespace(), &target.workflow_id, &target.run_id) {
            Ok(run) => run,
            Err(ExecutionError::NotFound(_)) => return Ok(ExternalOutcome::NotFound),
            Err(err) => return Err(err),
        };
        let delivered = self
            .mutate(&run, WriteBatch::default(), |state, now| {
                engine::deliver_external(state, delivery, now).map(|t| (t, ()))
            })
            .await;
        match delivered {
            Ok(_) => Ok(ExternalOutcome::Delivered),
            Err(
                ExecutionError::NotFound(_)
                | ExecutionError::Engine(EngineError::NotFound(_) | EngineError::WorkflowClosed),
            ) => Ok(ExternalOutcome::NotFound),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use temporalio_protos::temporal::api::{
        command::v1::{Command, SignalExternalWorkflowExecutionCommandAttributes, command},
        common::v1::{WorkflowExecution, WorkflowType},
        enums::v1::{CommandType, EventType},
        taskqueue::v1::TaskQueue,
        workflowservice::v1::{
            PollWorkflowTaskQueueRequest, RespondWorkflowTaskCompletedRequest,
            StartWorkflowExecutionRequest,
        },
    };

    use super::*;
    use crate::{
        executions::{
            keys,
            outbox::{
                TASK_EXTERNAL,
                tests::{event_types, open},
            },
        },
        store::{MemoryStore, Store},
    };

    fn queue(name: &str) -> Option<TaskQueue> {
        Some(TaskQueue {
            name: name.into(),
            ..Default::default()
        })
    }

    async fn start(executions: &Executions, workflow_id: &str, task_queue: &str) {
        executions
            .start_workflow(&StartWorkflowExecutionRequest {
                namespace: "ns".into(),
                workflow_id: workflow_id.into(),
                workflow_type: Some(WorkflowType { name: "W".into() }),
                task_queue: queue(task_queue),
                request_id: format!("start-{workflow_id}"),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    fn signal_cmd(workflow_id: &str) -> Command {
        Command {
            command_type: CommandType::SignalExternalWorkflowExecution as i32,
            attributes: Some(
                command::Attributes::SignalExternalWorkflowExecutionCommandAttributes(
                    SignalExternalWorkflowExecutionCommandAttributes {
                        execution: Some(WorkflowExecution {
                            workflow_id: workflow_id.into(),
                            run_id: String::new(),
                        }),
                        signal_name: "ping".into(),
                        ..Default::default()
                    },
                ),
            ),
            ..Default::default()
        }
    }

    fn count(types: &[EventType], ty: EventType) -> usize {
        types.iter().filter(|t| **t == ty).count()
    }

    /// The delivery runs three times (as after crashes between its parts) and the step twice:
    /// the target is signalled once and the issuer records one outcome per request; a missing
    /// target fails its request with "not found".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_repeated_step_signals_once_and_a_missing_target_fails() {
        let store = Arc::new(MemoryStore::default());
        let executions = open(&store);
        start(&executions, "target", "tq").await;
        start(&executions, "issuer", "iq").await;
        let task = executions
            .poll_workflow_task(&PollWorkflowTaskQueueRequest {
                namespace: "ns".into(),
                task_queue: queue("iq"),
                ..Default::default()
            })
            .await
            .unwrap();
        executions
            .complete_workflow_task(&RespondWorkflowTaskCompletedRequest {
                namespace: "ns".into(),
                task_token: task.task_token,
                commands: vec![signal_cmd("target"), signal_cmd("missing")],
                ..Default::default()
            })
            .await
            .unwrap();
        let issuer = executions.resolve("ns", "issuer", "").unwrap();
        let (found_row, missing_row) = (
            keys::task(&issuer, TASK_EXTERNAL, 5, 0),
            keys::task(&issuer, TASK_EXTERNAL, 6, 0),
        );
        assert!(store.get(Keyspace::Tasks, &found_row).unwrap().is_some());

        let state = executions.load(&issuer).unwrap().unwrap();
        let delivery = engine::external_delivery(&state, 5).unwrap();
        for _ in 0..2 {
            assert_eq!(
                executions.deliver_external(&delivery).await.unwrap(),
                ExternalOutcome::Delivered
            );
        }
        for _ in 0..2 {
            executions.external(&issuer, 5, &found_row).await.unwrap();
        }
        executions.external(&issuer, 6, &missing_row).await.unwrap();

        let target = event_types(&executions, "target").await;
        assert_eq!(
            count(&target, EventType::WorkflowExecutionSignaled),
            1,
            "{target:?}"
        );
        let issued = event_types(&executions, "issuer").await;
        assert_eq!(
            count(&issued, EventType::ExternalWorkflowExecutionSignaled),
            1
        );
        assert_eq!(
            count(&issued, EventType::SignalExternalWorkflowExecutionFailed),
            1,
            "{issued:?}"
        );
        for row in [found_row, missing_row] {
            assert!(store.get(Keyspace::Tasks, &row).unwrap().is_none());
        }
        executions.shutdown();
    }
}
