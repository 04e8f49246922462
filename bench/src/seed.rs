//! Seeding a Lockstep data directory with closed executions, fast: the server's own library
//! (sled store, group commit, the real engine) driven in-process, without TLS or gRPC, so a
//! million closed one-activity workflows are written in minutes instead of hours. Each seeded
//! workflow goes through exactly the RPC sequence a worker would send — start, workflow task
//! with a ScheduleActivityTask command, activity task and its result, workflow task with
//! CompleteWorkflowExecution — so the stored rows (state, eleven history events, visibility
//! row, retention timer) are the ones real workflows leave behind.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use lockstep_server::{
    NamespaceSpec,
    executions::Executions,
    namespaces::{DEFAULT_NAMESPACE, Namespaces, PayloadPolicy},
    store::{Committer, Keyspace, SledStore, Store},
    tokens::TokenKey,
};
use temporalio_protos::temporal::api::{
    command::v1::{
        Command, CompleteWorkflowExecutionCommandAttributes, ScheduleActivityTaskCommandAttributes,
        command::Attributes,
    },
    common::v1::{ActivityType, Payload, Payloads, WorkflowType},
    enums::v1::CommandType,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        PollActivityTaskQueueRequest, PollWorkflowTaskQueueRequest,
        RespondActivityTaskCompletedRequest, RespondWorkflowTaskCompletedRequest,
        StartWorkflowExecutionRequest,
    },
};
use tokio::task::JoinSet;

/// How many seeding tasks run at once (each on its own task queue); enough for group commit
/// to share flushes widely.
const SEEDERS: usize = 256;
/// The size of each seeded payload: about what an encrypted greeting is.
const PAYLOAD_BYTES: usize = 96;

/// When every seeded workflow's timeouts (workflow task and activity start-to-close, 10 s
/// each) have come due, counted from the last seeded workflow.
const STALE_TIMERS_DUE: Duration = Duration::from_secs(12);
/// How long the store may take to close once seeding is done (background tasks of the
/// executions still hold it for a moment).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes `count` closed one-activity workflows into the Lockstep store `store_dir` (the
/// `db` directory under a start-dev data dir), creating the store and the `default`
/// namespace if needed, and returns once the store is closed (so a server can open it).
/// Prints progress; returns how long it took.
pub(crate) async fn seed_closed(store_dir: &Path, count: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let dir = store_dir.to_path_buf();
    let store: Arc<dyn Store> = Arc::new(
        tokio::task::spawn_blocking(move || SledStore::open(&dir))
            .await?
            .with_context(|| format!("open the store in {}", store_dir.display()))?,
    );
    let open = Arc::downgrade(&store);
    seed_into(store, store_dir, count).await?;
    let closing = Instant::now();
    while open.strong_count() > 0 {
        if closing.elapsed() > CLOSE_TIMEOUT {
            bail!("the seeded store was still open {CLOSE_TIMEOUT:?} after seeding");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_until_openable(store_dir, closing).await?;
    Ok(started.elapsed())
}

/// Waits until the store in `dir` can be opened again: sled's own background threads (its
/// flusher, segment rewrites) hold the database for a while after the last handle is dropped,
/// longer the more was written. Opens it once and closes it at once (nothing to flush then).
async fn wait_until_openable(dir: &Path, since: Instant) -> anyhow::Result<()> {
    loop {
        let path = dir.to_path_buf();
        match tokio::task::spawn_blocking(move || SledStore::open(&path)).await? {
            Ok(store) => {
                drop(store);
                return Ok(());
            }
            Err(_) if since.elapsed() < CLOSE_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => bail!("the seeded store does not open again: {err}"),
        }
    }
}

async fn seed_into(store: Arc<dyn Store>, store_dir: &Path, count: usize) -> anyhow::Result<()> {
    let committer = Committer::start(store.clone());
    let namespaces = Arc::new(Namespaces::load(committer.clone())?);
    namespaces
        .ensure(
            DEFAULT_NAMESPACE,
            PayloadPolicy::Any,
            NamespaceSpec::named(DEFAULT_NAMESPACE).retention(),
        )
        .await?;
    let tokens = TokenKey::load_or_create(store_dir)?;
    let executions = Executions::open(committer.clone(), tokens, namespaces)?;
    // The seeded workflows' workflow-task and activity timeouts go stale when they close; a
    // server deletes those timer rows as they come due, so the seeder runs the timers too.
    let timer_driver = executions.spawn_timer_driver();

    let next = Arc::new(AtomicUsize::new(0));
    let mut seeders = JoinSet::new();
    for seeder in 0..SEEDERS.min(count.max(1)) {
        let (executions, next) = (executions.clone(), next.clone());
        seeders.spawn(async move {
            let task_queue = format!("seed-{seeder}-{}", uuid::Uuid::new_v4());
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<(), anyhow::Error>(());
                }
                one_closed_workflow(&executions, &task_queue, index).await?;
                if (index + 1) % 100_000 == 0 {
                    eprintln!("seeded {} closed workflows", index + 1);
                }
            }
        });
    }
    while let Some(joined) = seeders.join_next().await {
        joined??;
    }
    wait_for_stale_timers(store.as_ref(), count).await?;
    executions.shutdown();
    timer_driver.await?;
    committer.flush_now().await?;
    Ok(())
}

/// Waits until the store holds what a long-running server holds for `count` closed runs: one
/// retention timer each, their stale timeouts fired (the timer driver may lag behind a large
/// seed by a few seconds); warns if more rows remain after that.
async fn wait_for_stale_timers(store: &dyn Store, count: usize) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    tokio::time::sleep(STALE_TIMERS_DUE).await;
    let waiting = Instant::now();
    loop {
        let timers = store.scan_prefix(Keyspace::Timers, &[], count + 1)?.len();
        if timers <= count {
            return Ok(());
        }
        if waiting.elapsed() > CLOSE_TIMEOUT {
            // Measured anyway: a handful of rows does not change the figures, and the count is
            // printed for whoever reads the run.
            eprintln!(
                "warning: {timers} timer rows remain for {count} closed workflows (expected one \
                 each)"
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One workflow through the worker's RPC sequence, on a task queue no one else polls.
async fn one_closed_workflow(
    executions: &Executions,
    task_queue: &str,
    index: usize,
) -> anyhow::Result<()> {
    let queue = Some(TaskQueue {
        name: task_queue.to_string(),
        ..Default::default()
    });
    let namespace = DEFAULT_NAMESPACE.to_string();
    executions
        .start_workflow(&StartWorkflowExecutionRequest {
            namespace: namespace.clone(),
            workflow_id: format!("seeded-{index}"),
            workflow_type: Some(WorkflowType {
                name: "OneActivityWorkflow".into(),
            }),
            task_queue: queue.clone(),
            input: payloads(),
            request_id: uuid::Uuid::new_v4().to_string(),
            identity: "lockstep-bench-seed".into(),
            ..Default::default()
        })
        .await?;
    let workflow_poll = PollWorkflowTaskQueueRequest {
        namespace: namespace.clone(),
        task_queue: queue.clone(),
        identity: "lockstep-bench-seed".into(),
        ..Default::default()
    };
    let task = executions.poll_workflow_task(&workflow_poll).await?;
    complete_workflow_task(executions, task.task_token, schedule_greet(task_queue)).await?;
    let activity = executions
        .poll_activity_task(&PollActivityTaskQueueRequest {
            namespace: namespace.clone(),
            task_queue: queue,
            identity: "lockstep-bench-seed".into(),
            ..Default::default()
        })
        .await?;
    if activity.task_token.is_empty() {
        bail!("seeded workflow {index}: no activity task");
    }
    executions
        .complete_activity(&RespondActivityTaskCompletedRequest {
            namespace: namespace.clone(),
            task_token: activity.task_token,
            result: payloads(),
            identity: "lockstep-bench-seed".into(),
            ..Default::default()
        })
        .await?;
    let task = executions.poll_workflow_task(&workflow_poll).await?;
    let complete = Command {
        command_type: CommandType::CompleteWorkflowExecution as i32,
        attributes: Some(Attributes::CompleteWorkflowExecutionCommandAttributes(
            CompleteWorkflowExecutionCommandAttributes { result: payloads() },
        )),
        ..Default::default()
    };
    complete_workflow_task(executions, task.task_token, complete).await
}

async fn complete_workflow_task(
    executions: &Executions,
    task_token: Vec<u8>,
    command: Command,
) -> anyhow::Result<()> {
    if task_token.is_empty() {
        bail!("no workflow task");
    }
    executions
        .complete_workflow_task(&RespondWorkflowTaskCompletedRequest {
            namespace: DEFAULT_NAMESPACE.into(),
            task_token,
            commands: vec![command],
            identity: "lockstep-bench-seed".into(),
            ..Default::default()
        })
        .await?;
    Ok(())
}

fn schedule_greet(task_queue: &str) -> Command {
    Command {
        command_type: CommandType::ScheduleActivityTask as i32,
        attributes: Some(Attributes::ScheduleActivityTaskCommandAttributes(
            ScheduleActivityTaskCommandAttributes {
                activity_id: "1".into(),
                activity_type: Some(ActivityType {
                    name: "greet".into(),
                }),
                task_queue: Some(TaskQueue {
                    name: task_queue.to_string(),
                    ..Default::default()
                }),
                input: payloads(),
                start_to_close_timeout: Some(prost_wkt_types::Duration {
                    seconds: 10,
                    nanos: 0,
                }),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// One opaque payload the size of an encrypted greeting, marked as the codec marks it.
fn payloads() -> Option<Payloads> {
    Some(Payloads {
        payloads: vec![Payload {
            metadata: [("encoding".to_string(), b"binary/encrypted".to_vec())].into(),
            data: vec![0x5a; PAYLOAD_BYTES],
            ..Default::default()
        }],
    })
}
