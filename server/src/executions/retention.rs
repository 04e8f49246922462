//! Retention and deletion: a closed run is deleted — state, history, visibility row, task and
//! timer rows, and the current-run pointer if it still points at it — once its namespace's retention
//! period has passed (a durable timer armed when it closes), or at once by
//! DeleteWorkflowExecution (which terminates a running run first, as Temporal does).

use temporalio_protos::temporal::api::workflowservice::v1::{
    DeleteWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
};

use super::{ExecutionError, Executions, RunKey, keys};
use crate::{
    engine::TimerTask,
    store::{Keyspace, WriteBatch},
    visibility,
};

impl Executions {
    /// The retention timer of a run that closes at `close_ms`, per its namespace's policy.
    pub(super) fn retention_timer(&self, run: &RunKey, close_ms: i64) -> TimerTask {
        let retention_ms = self
            .namespaces
            .get(&run.namespace)
            .map(|ns| i64::try_from(ns.retention().as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(i64::MAX);
        TimerTask::retention(close_ms.saturating_add(retention_ms))
    }

    /// DeleteWorkflowExecution: terminates the run if it is open, then deletes it.
    pub async fn delete(
        &self,
        request: &DeleteWorkflowExecutionRequest,
    ) -> Result<(), ExecutionError> {
        let execution = request.workflow_execution.clone().unwrap_or_default();
        let run = self.resolve(
            &request.namespace,
            &execution.workflow_id,
            &execution.run_id,
        )?;
        let running = self.load(&run)?.is_some_and(|state| !state.is_closed());
        if running {
            self.terminate(&TerminateWorkflowExecutionRequest {
                namespace: run.namespace.clone(),
                workflow_execution: Some(execution),
                reason: "deleted".into(),
                ..Default::default()
            })
            .await?;
        }
        self.delete_run(&run, None).await
    }

    /// Deletes every stored trace of a closed run (and `timer_row`, the timer that asked).
    pub(super) async fn delete_run(
        &self,
        run: &RunKey,
        timer_row: Option<Vec<u8>>,
    ) -> Result<(), ExecutionError> {
        let _guard = self.locks.lock(&run.namespace, &run.workflow_id).await;
        let mut batch = WriteBatch::default();
        if let Some(row) = timer_row {
            batch.delete(Keyspace::Timers, row);
        }
        let Some(state) = self.load(run)? else {
            self.committer.commit(batch).await?;
            return Ok(());
        };
        if !state.is_closed() {
            return Err(ExecutionError::InvalidArgument(
                "a running workflow is not deleted by retention".into(),
            ));
        }
        let store = self.committer.store();
        let prefix = keys::history_prefix(run);
        for (key, _) in store.scan_prefix(Keyspace::History, &prefix, usize::MAX)? {
            batch.delete(Keyspace::History, key);
        }
        // Task rows share the run's key prefix.
        for (key, _) in store.scan_prefix(Keyspace::Tasks, &prefix, usize::MAX)? {
            batch.delete(Keyspace::Tasks, key);
        }
        batch.delete(Keyspace::Executions, keys::state(run));
        batch.delete(
            Keyspace::Visibility,
            visibility::row_key(&run.namespace, state.start_time_ms(), &run.run_id),
        );
        if self
            .current_run_id(&run.namespace, &run.workflow_id)?
            .as_deref()
            == Some(run.run_id.as_str())
        {
            batch.delete(
                Keyspace::Executions,
                keys::current_run(&run.namespace, &run.workflow_id),
            );
        }
        // Last, after every fallible read: the run's other durable timers would only fire to
        // find it gone, so they go with it.
        let timers = self.timers.remove_where(|due| due.run == *run);
        for (_, due) in &timers {
            batch.delete(Keyspace::Timers, due.row.clone());
        }
        if let Err(err) = self.committer.commit(batch).await {
            // Nothing was deleted: the timers stay armed.
            for (fire_at, due) in timers {
                self.timers.insert(fire_at, due);
            }
            return Err(err.into());
        }
        tracing::info!(namespace = %run.namespace, workflow_id = %run.workflow_id, run_id = %run.run_id, "run deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use prost::Message;
    use temporalio_protos::temporal::api::{
        common::v1::{WorkflowExecution, WorkflowType},
        taskqueue::v1::TaskQueue,
        workflowservice::v1::{
            CountWorkflowExecutionsRequest, DescribeWorkflowExecutionRequest,
            StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
        },
    };

    use crate::{
        executions::{ExecutionError, Executions},
        namespaces::{NamespaceRecord, Namespaces},
        store::{Committer, Keyspace, MemoryStore, Store, WriteBatch},
        tokens::TokenKey,
    };

    #[tokio::test(start_paused = true)]
    async fn closed_runs_are_deleted_after_the_retention_period() {
        let store = Arc::new(MemoryStore::default());
        // One second of retention, written directly: the API refuses less than an hour.
        let record = NamespaceRecord {
            name: "ns".into(),
            id: "ns-id".into(),
            retention_seconds: 1,
            ..Default::default()
        };
        let mut batch = WriteBatch::default();
        batch.put(Keyspace::Namespaces, b"ns".to_vec(), record.encode_to_vec());
        store.apply(&batch).unwrap();
        let committer = Committer::start(store.clone());
        let namespaces = Arc::new(Namespaces::load(committer.clone()).unwrap());
        let executions =
            Executions::open(committer, TokenKey::from_bytes([7; 32]), namespaces).unwrap();
        let driver = executions.spawn_timer_driver();

        executions
            .start_workflow(&StartWorkflowExecutionRequest {
                namespace: "ns".into(),
                workflow_id: "wf".into(),
                workflow_type: Some(WorkflowType { name: "t".into() }),
                task_queue: Some(TaskQueue {
                    name: "q".into(),
                    ..Default::default()
                }),
                request_id: "r".into(),
                // Arms a timer that outlives the retention period.
                workflow_execution_timeout: Some(prost_wkt_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        let execution = Some(WorkflowExecution {
            workflow_id: "wf".into(),
            run_id: String::new(),
        });
        executions
            .terminate(&TerminateWorkflowExecutionRequest {
                namespace: "ns".into(),
                workflow_execution: execution.clone(),
                reason: "done".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let describe = DescribeWorkflowExecutionRequest {
            namespace: "ns".into(),
            execution,
        };
        assert!(
            executions.describe(&describe).is_ok(),
            "kept during retention"
        );

        let armed = store
            .scan_prefix(Keyspace::Timers, b"", usize::MAX)
            .unwrap();
        assert!(
            armed.len() >= 2,
            "retention and timeout timers: {}",
            armed.len()
        );

        tokio::time::sleep(Duration::from_secs(3)).await;
        // The deletion commits on the store's commit thread, in real time, while the paused
        // clock jumps ahead whenever the runtime idles: wait for it (real time, bounded).
        let deleted = || {
            matches!(
                executions.describe(&describe),
                Err(ExecutionError::NotFound(_))
            )
        };
        for _ in 0..500 {
            if deleted() {
                break;
            }
            let pause = || std::thread::sleep(Duration::from_millis(10));
            tokio::task::spawn_blocking(pause).await.unwrap();
        }
        assert!(deleted(), "deleted after the retention period");
        assert!(
            store
                .scan_prefix(Keyspace::History, b"", usize::MAX)
                .unwrap()
                .is_empty()
        );
        for keyspace in [Keyspace::Visibility, Keyspace::Timers, Keyspace::Tasks] {
            assert!(
                store
                    .scan_prefix(keyspace, b"", usize::MAX)
                    .unwrap()
                    .is_empty(),
                "{keyspace:?}"
            );
        }
        let count = executions
            .count(&CountWorkflowExecutionsRequest {
                namespace: "ns".into(),
                query: String::new(),
            })
            .unwrap();
        assert_eq!(count.count, 0);
        executions.shutdown();
        driver.await.unwrap();
    }
}
