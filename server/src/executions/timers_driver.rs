//! Fires durable timers into the engine: each due timer is one transition of its run that also
//! deletes the timer's row, so a timer fires at most once even across crashes (a crash before
//! the commit leaves the row, and it fires after restart).

use std::sync::Arc;

use super::{DueTimer, ExecutionError, Executions};
use crate::{
    engine::{self, EngineError, TimerKind},
    store::{Keyspace, WriteBatch},
};

pub(super) async fn run(executions: Arc<Executions>) {
    let this = executions.clone();
    executions
        .timers
        .run(move |batch: Vec<DueTimer>| {
            let this = this.clone();
            async move {
                for due in batch {
                    this.fire(due).await;
                }
            }
        })
        .await;
}

impl Executions {
    async fn fire(&self, due: DueTimer) {
        if due.timer.kind() == TimerKind::Retention {
            if let Err(err) = self.delete_run(&due.run, Some(due.row)).await {
                tracing::error!(error = %err, workflow_id = %due.run.workflow_id, "retention could not delete the run");
            }
            return;
        }
        let mut consumed = WriteBatch::default();
        consumed.delete(Keyspace::Timers, due.row.clone());
        let timer = due.timer.clone();
        // A run timeout may start the next run of a retried or cron chain.
        let next_run_id = uuid::Uuid::new_v4().to_string();
        let outcome = self
            .mutate(&due.run, consumed, move |state, now| {
                engine::fire_timer_starting(state, &timer, &next_run_id, now).map(|t| (t, ()))
            })
            .await;
        match outcome {
            Ok(_) => {}
            Err(ExecutionError::NotFound(_) | ExecutionError::Engine(EngineError::NotFound(_))) => {
                self.forget_row(Keyspace::Timers, due.row).await;
            }
            Err(err) => {
                // The row stays; the timer fires again after a restart.
                tracing::error!(error = %err, workflow_id = %due.run.workflow_id, "timer could not fire");
            }
        }
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
