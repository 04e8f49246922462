use std::collections::HashSet;
use std::sync::Arc;

use tokio::time::Instant;

use super::*;

const LONG: Duration = Duration::from_secs(60);

fn key(name: &str) -> QueueKey {
    QueueKey::new("default", name, QueueKind::Workflow)
}

/// Number of queues in the map (empty ones must have been removed).
fn queue_count<T>(queues: &TaskQueues<T>) -> usize {
    queues.lock().queues.len()
}

async fn until_pollers<T>(queues: &TaskQueues<T>, key: &QueueKey, n: usize) {
    while queues.pollers(key) < n {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn tasks_come_out_in_fifo_order() {
    let queues = TaskQueues::new();
    let k = key("q");
    for i in 0..5 {
        queues.push(&k, i);
    }
    assert_eq!(queues.len(&k), 5);
    for i in 0..5 {
        assert_eq!(queues.poll(&k, LONG).await, Some(i));
    }
    assert_eq!(queues.len(&k), 0);
    assert_eq!(queue_count(&queues), 0);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_poller_gets_a_pushed_task_immediately() {
    let queues = Arc::new(TaskQueues::new());
    let k = key("q");
    let start = Instant::now();
    let poller = tokio::spawn({
        let (queues, k) = (Arc::clone(&queues), k.clone());
        async move { queues.poll(&k, LONG).await }
    });
    until_pollers(&queues, &k, 1).await;
    queues.push(&k, "task");
    assert_eq!(poller.await.unwrap(), Some("task"));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(queues.len(&k), 0);
    assert_eq!(queue_count(&queues), 0);
}

#[tokio::test(start_paused = true)]
async fn the_longest_waiting_poller_is_served_first() {
    let queues = Arc::new(TaskQueues::new());
    let k = key("q");
    let mut pollers = Vec::new();
    for i in 0..3 {
        pollers.push(tokio::spawn({
            let (queues, k) = (Arc::clone(&queues), k.clone());
            async move { queues.poll(&k, LONG).await }
        }));
        until_pollers(&queues, &k, i + 1).await;
    }
    for task in ["a", "b", "c"] {
        queues.push(&k, task);
    }
    let mut got = Vec::new();
    for poller in pollers {
        got.push(poller.await.unwrap());
    }
    assert_eq!(got, [Some("a"), Some("b"), Some("c")]);
}

#[tokio::test(start_paused = true)]
async fn a_poll_times_out_with_none_and_leaves_nothing_behind() {
    let queues = TaskQueues::<u32>::new();
    let k = key("q");
    let start = Instant::now();
    assert_eq!(queues.poll(&k, Duration::from_secs(5)).await, None);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(queues.pollers(&k), 0);
    assert_eq!(queue_count(&queues), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_waiting_poll_loses_nothing() {
    let queues = TaskQueues::new();
    let k = key("q");
    let dropped = tokio::time::timeout(Duration::from_secs(1), queues.poll(&k, LONG)).await;
    assert!(dropped.is_err(), "the outer timeout drops the poll");
    assert_eq!(queues.pollers(&k), 0);
    assert_eq!(queue_count(&queues), 0);

    queues.push(&k, 7);
    assert_eq!(queues.len(&k), 1);
    assert_eq!(queues.poll(&k, LONG).await, Some(7));
}

#[tokio::test(start_paused = true)]
async fn a_task_handed_to_a_dropped_poll_goes_back_to_the_front() {
    let queues = TaskQueues::new();
    let k = key("q");
    {
        let poll = queues.poll(&k, LONG);
        tokio::pin!(poll);
        assert!(futures::poll!(poll.as_mut()).is_pending());
        assert_eq!(queues.pollers(&k), 1);
        // Sent into the poll's channel, but the poll is dropped before it reads it.
        queues.push(&k, "first");
        queues.push(&k, "second");
    }
    assert_eq!(queues.len(&k), 2);
    assert_eq!(queues.poll(&k, LONG).await, Some("first"));
    assert_eq!(queues.poll(&k, LONG).await, Some("second"));
    assert_eq!(queue_count(&queues), 0);
}

#[tokio::test(start_paused = true)]
async fn a_task_handed_to_a_dropped_poll_goes_to_the_next_waiting_poller() {
    let queues = Arc::new(TaskQueues::new());
    let k = key("q");
    let mut first = Box::pin(queues.poll(&k, LONG));
    assert!(futures::poll!(first.as_mut()).is_pending());
    let second = tokio::spawn({
        let (queues, k) = (Arc::clone(&queues), k.clone());
        async move { queues.poll(&k, LONG).await }
    });
    until_pollers(&queues, &k, 2).await;
    queues.push(&k, "task");
    // The task went to `first`, which is now dropped without reading it.
    drop(first);
    assert_eq!(second.await.unwrap(), Some("task"));
    assert_eq!(queues.len(&k), 0);
}

#[tokio::test(start_paused = true)]
async fn a_task_arriving_at_the_deadline_is_returned() {
    let queues = TaskQueues::new();
    let k = key("q");
    let poll = queues.poll(&k, Duration::from_secs(1));
    tokio::pin!(poll);
    assert!(futures::poll!(poll.as_mut()).is_pending());
    queues.push(&k, 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(poll.await, Some(1));
    assert_eq!(queues.len(&k), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_wakes_pollers_and_later_polls_return_at_once() {
    let queues = Arc::new(TaskQueues::<u32>::new());
    let k = key("q");
    let start = Instant::now();
    let pollers: Vec<_> = (0..3)
        .map(|_| {
            let (queues, k) = (Arc::clone(&queues), k.clone());
            tokio::spawn(async move { queues.poll(&k, LONG).await })
        })
        .collect();
    until_pollers(&queues, &k, 3).await;
    queues.shutdown();
    for poller in pollers {
        assert_eq!(poller.await.unwrap(), None);
    }
    assert_eq!(queues.poll(&k, LONG).await, None);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(queues.pollers(&k), 0);
}

#[tokio::test(start_paused = true)]
async fn queues_are_isolated_by_key() {
    let queues = TaskQueues::new();
    let workflow = QueueKey::new("ns1", "q", QueueKind::Workflow);
    let activity = QueueKey::new("ns1", "q", QueueKind::Activity);
    let other_ns = QueueKey::new("ns2", "q", QueueKind::Workflow);
    let other_name = QueueKey::new("ns1", "r", QueueKind::Workflow);
    queues.push(&workflow, "w");
    for k in [&activity, &other_ns, &other_name] {
        assert_eq!(queues.poll(k, Duration::from_secs(1)).await, None);
        assert_eq!(queues.len(k), 0);
    }
    assert_eq!(queues.len(&workflow), 1);
    queues.push(&activity, "a");
    assert_eq!(queues.poll(&activity, LONG).await, Some("a"));
    assert_eq!(queues.poll(&workflow, LONG).await, Some("w"));
}

/// Many pollers (some cancelling their polls at random moments) and many pushers on a
/// multi-threaded runtime: every task is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_and_polls_deliver_every_task_exactly_once() {
    const PUSHERS: usize = 8;
    const PER_PUSHER: usize = 500;
    const POLLERS: usize = 16;
    let queues = Arc::new(TaskQueues::new());
    let k = key("busy");
    let (delivered_tx, mut delivered_rx) = tokio::sync::mpsc::unbounded_channel();

    let mut pollers = Vec::new();
    for p in 0..POLLERS {
        let (queues, k, delivered) = (Arc::clone(&queues), k.clone(), delivered_tx.clone());
        pollers.push(tokio::spawn(async move {
            let mut round = 0usize;
            loop {
                round += 1;
                if (p + round).is_multiple_of(3) {
                    // Race the poll against a yield: often dropped mid-wait.
                    tokio::select! {
                        task = queues.poll(&k, LONG) => match task {
                            Some(task) => delivered.send(task).unwrap(),
                            None => return,
                        },
                        () = tokio::task::yield_now() => {}
                    }
                } else {
                    match queues.poll(&k, LONG).await {
                        Some(task) => delivered.send(task).unwrap(),
                        None => return,
                    }
                }
            }
        }));
    }
    drop(delivered_tx);

    let pushers: Vec<_> = (0..PUSHERS)
        .map(|p| {
            let (queues, k) = (Arc::clone(&queues), k.clone());
            tokio::spawn(async move {
                for i in 0..PER_PUSHER {
                    queues.push(&k, p * PER_PUSHER + i);
                    if i % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for pusher in pushers {
        pusher.await.unwrap();
    }

    let mut seen = HashSet::new();
    while seen.len() < PUSHERS * PER_PUSHER {
        let task = delivered_rx.recv().await.unwrap();
        assert!(seen.insert(task), "task {task} delivered twice");
    }
    queues.shutdown();
    for poller in pollers {
        poller.await.unwrap();
    }
    assert!(
        delivered_rx.recv().await.is_none(),
        "no task delivered twice"
    );
    assert_eq!(queues.len(&k), 0);
    assert_eq!(queue_count(&queues), 0);
}

#[tokio::test(start_paused = true)]
async fn remove_where_takes_only_the_selected_tasks() {
    let queues = TaskQueues::new();
    let k = key("sticky");
    for i in 0..6 {
        queues.push(&k, i);
    }
    assert_eq!(queues.remove_where(&k, |t| t % 2 == 0), [0, 2, 4]);
    assert_eq!(
        queues.remove_where(&key("other"), |_| true),
        Vec::<i32>::new()
    );
    assert_eq!(queues.poll(&k, LONG).await, Some(1));
    assert_eq!(queues.remove_where(&k, |_| true), [3, 5]);
    assert_eq!(queue_count(&queues), 0, "an emptied queue is removed");
}
