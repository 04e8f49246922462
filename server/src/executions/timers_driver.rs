//! Fires durable timers into the engine: each due timer that still applies is one transition of
//! its run that also deletes the timer's row, so it fires at most once even across crashes (a
//! crash before the commit leaves the row, and it fires after restart). Timers that no longer
//! apply write nothing but the deletion of their rows, one write per batch of due timers.
//!
//! A sticky task's schedule-to-start timer is the exception: it lives only in memory (derived
//! from the task's Tasks row, re-armed at start-up) and consumes that row and queue entry.

use std::sync::Arc;

use super::{DueTimer, ExecutionError, Executions, TASK_WORKFLOW, keys};
use crate::{
    engine::{self, EngineError, TimerKind},
    matching::{QueueKey, QueueKind},
    store::{Keyspace, WriteBatch},
};

pub(super) async fn run(executions: Arc<Executions>) {
    let this = executions.clone();
    executions
        .timers
        .run(move |batch: Vec<DueTimer>| {
            let this = this.clone();
            async move { this.fire_all(batch).await }
        })
        .await;
}

impl Executions {
    /// Fires due timers one after another, then deletes the rows of the stale ones in one
    /// write.
    pub(super) async fn fire_all(&self, batch: Vec<DueTimer>) {
        let mut stale = WriteBatch::default();
        for due in batch {
            if let Some((keyspace, row)) = self.fire(due).await {
                stale.delete(keyspace, row);
            }
        }
        if !stale.is_empty()
            && let Err(err) = self.committer.commit(stale).await
        {
            tracing::warn!(error = %err, "could not delete the rows of stale timers");
        }
    }

    /// Fires one due timer. A timer that no longer applies (most of them: the task or activity
    /// it guarded finished in time) changes nothing, so the row it consumes is handed back to
    /// be deleted with the other stale rows of the batch in one write; if that write is lost in
    /// a crash, the timer just fires again, as stale, after the restart.
    async fn fire(&self, due: DueTimer) -> Option<(Keyspace, Vec<u8>)> {
        let kind = due.timer.kind();
        if kind == TimerKind::Retention {
            if let Err(err) = self.delete_run(&due.run, Some(due.row)).await {
                tracing::error!(error = %err, workflow_id = %due.run.workflow_id, "retention could not delete the run");
            }
            return None;
        }
        let consumes = if kind == TimerKind::WorkflowTaskScheduleToStart {
            // Kept only in memory: what it consumes is the sticky task's queue entry and row.
            self.take_sticky_entry(&due);
            let row = keys::task(
                &due.run,
                TASK_WORKFLOW,
                due.timer.event_id,
                due.timer.attempt,
            );
            (Keyspace::Tasks, row)
        } else {
            (Keyspace::Timers, due.row)
        };
        let mut consumed = WriteBatch::default();
        consumed.delete(consumes.0, consumes.1.clone());
        let timer = due.timer.clone();
        // A run timeout may start the next run of a retried or cron chain.
        let next_run_id = uuid::Uuid::new_v4().to_string();
        let outcome = self
            .mutate_unless_unchanged(&due.run, consumed, move |state, now| {
                engine::fire_timer_starting(state, &timer, &next_run_id, now).map(|t| (t, ()))
            })
            .await;
        match outcome {
            Ok((_, (), unwritten)) => unwritten.map(|_| consumes),
            Err(ExecutionError::NotFound(_) | ExecutionError::Engine(EngineError::NotFound(_))) => {
                Some(consumes)
            }
            Err(err) => {
                // The row stays; the timer fires again after a restart.
                tracing::error!(error = %err, workflow_id = %due.run.workflow_id, "timer could not fire");
                None
            }
        }
    }

    /// Takes a timed-out sticky task out of its sticky queue, so no poller gets it (it moves
    /// to the normal queue) and a dead worker's queue does not keep it.
    fn take_sticky_entry(&self, due: &DueTimer) {
        let queue = QueueKey {
            namespace: due.run.namespace.clone(),
            name: due.timer.timer_id.clone(),
            kind: QueueKind::Workflow,
        };
        self.queues.remove_where(&queue, |task| {
            task.run == due.run
                && task.scheduled_event_id == due.timer.event_id
                && task.attempt == due.timer.attempt
                && task.query_id.is_none()
        });
    }

    /// Deletes an index row whose run no longer needs it.
    pub(super) async fn forget_row(&self, keyspace: Keyspace, row: Vec<u8>) {
        let mut batch = WriteBatch::default();
        batch.delete(keyspace, row);
        if let Err(err) = self.committer.commit(batch).await {
            tracing::warn!(error = %err, "could not delete a stale index row");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use temporalio_protos::temporal::api::{
        common::v1::WorkflowType,
        taskqueue::v1::TaskQueue,
        workflowservice::v1::{
            PollWorkflowTaskQueueRequest, RespondWorkflowTaskCompletedRequest,
            StartWorkflowExecutionRequest,
        },
    };

    use crate::{
        executions::{Executions, RunKey, keys},
        namespaces::{DEFAULT_NAMESPACE, Namespaces, PayloadPolicy},
        store::{Committer, Keyspace, RecordingStore, Store, WriteOp},
        tokens::TokenKey,
    };

    /// A workflow task completed well within its 1 s start-to-close timeout leaves a timer that
    /// no longer applies: when it fires, only its row is deleted; the run's state is not written.
    #[tokio::test]
    async fn stale_timers_write_only_their_row_deletion() {
        let store = Arc::new(RecordingStore::default());
        let committer = Committer::start(store.clone());
        let namespaces = Arc::new(Namespaces::load(committer.clone()).unwrap());
        namespaces
            .ensure(
                DEFAULT_NAMESPACE,
                PayloadPolicy::Any,
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
        let executions =
            Executions::open(committer, TokenKey::from_bytes([3; 32]), namespaces).unwrap();
        let driver = executions.spawn_timer_driver();
        let queue = Some(TaskQueue {
            name: "q".into(),
            ..Default::default()
        });
        let started = executions
            .start_workflow(&StartWorkflowExecutionRequest {
                namespace: DEFAULT_NAMESPACE.into(),
                workflow_id: "wf".into(),
                workflow_type: Some(WorkflowType { name: "t".into() }),
                task_queue: queue.clone(),
                request_id: "r".into(),
                workflow_task_timeout: Some(prost_wkt_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        let task = executions
            .poll_workflow_task(&PollWorkflowTaskQueueRequest {
                namespace: DEFAULT_NAMESPACE.into(),
                task_queue: queue,
                ..Default::default()
            })
            .await
            .unwrap();
        // A long user timer keeps the run open and its state stable.
        let wait = crate::engine::test_support::start_timer_cmd("t", 3_600_000);
        executions
            .complete_workflow_task(&RespondWorkflowTaskCompletedRequest {
                namespace: DEFAULT_NAMESPACE.into(),
                task_token: task.task_token,
                commands: vec![wait],
                ..Default::default()
            })
            .await
            .unwrap();
        let run = RunKey::new(DEFAULT_NAMESPACE, "wf", &started.run_id);
        let timers = || {
            store
                .scan_prefix(Keyspace::Timers, b"", usize::MAX)
                .unwrap()
                .len()
        };
        assert_eq!(
            timers(),
            2,
            "the task's start-to-close timeout and the user timer"
        );
        store.take_batches();

        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while timers() > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(timers(), 1, "the stale task timer's row is deleted");
        let written: Vec<WriteOp> = store
            .take_batches()
            .iter()
            .flat_map(|batch| batch.ops().to_vec())
            .collect();
        assert_eq!(
            written.len(),
            1,
            "only the row deletion is written: {written:?}"
        );
        assert!(matches!(
            &written[0],
            WriteOp::Delete {
                keyspace: Keyspace::Timers,
                ..
            }
        ));
        assert!(
            store
                .get(Keyspace::Executions, &keys::state(&run))
                .unwrap()
                .is_some(),
            "the run is still there"
        );
        executions.shutdown();
        driver.await.unwrap();
    }
}
