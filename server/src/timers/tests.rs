use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::*;

type Batches = mpsc::UnboundedReceiver<(i64, Vec<&'static str>)>;

/// Runs `wheel` on a task; each batch arrives with the time it fired, relative to `base`.
fn start(wheel: &TimerWheel<&'static str>, base: i64) -> (JoinHandle<()>, Batches) {
    let (tx, rx) = mpsc::unbounded_channel();
    let runner = wheel.clone();
    let clock = wheel.clone();
    let handle = tokio::spawn(async move {
        runner
            .run(move |batch| {
                let fired_at = clock.now_ms() - base;
                let tx = tx.clone();
                async move {
                    let _ = tx.send((fired_at, batch));
                }
            })
            .await;
    });
    (handle, rx)
}

#[tokio::test(start_paused = true)]
async fn fires_in_time_order_then_insertion_order() {
    let wheel = TimerWheel::new();
    let base = wheel.now_ms();
    wheel.insert(base + 300, "d");
    wheel.insert(base + 100, "a");
    wheel.insert(base + 200, "b");
    wheel.insert(base + 200, "c");
    assert_eq!(wheel.len(), 4);
    let (_run, mut batches) = start(&wheel, base);
    assert_eq!(batches.recv().await.unwrap(), (100, vec!["a"]));
    assert_eq!(batches.recv().await.unwrap(), (200, vec!["b", "c"]));
    assert_eq!(batches.recv().await.unwrap(), (300, vec!["d"]));
    assert!(wheel.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_earlier_insert_wakes_the_sleeper() {
    let wheel = TimerWheel::new();
    let base = wheel.now_ms();
    wheel.insert(base + 10_000, "late");
    let (_run, mut batches) = start(&wheel, base);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    wheel.insert(base + 2_000, "early");
    assert_eq!(batches.recv().await.unwrap(), (2_000, vec!["early"]));
    assert_eq!(batches.recv().await.unwrap(), (10_000, vec!["late"]));
}

#[tokio::test(start_paused = true)]
async fn an_insert_wakes_an_idle_wheel() {
    let wheel = TimerWheel::new();
    let base = wheel.now_ms();
    let (_run, mut batches) = start(&wheel, base);
    tokio::time::sleep(Duration::from_millis(500)).await;
    wheel.insert(base + 700, "x");
    assert_eq!(batches.recv().await.unwrap(), (700, vec!["x"]));
}

#[tokio::test(start_paused = true)]
async fn items_in_the_past_fire_at_once() {
    let wheel = TimerWheel::new();
    let base = wheel.now_ms();
    let (_run, mut batches) = start(&wheel, base);
    tokio::time::sleep(Duration::from_millis(50)).await;
    wheel.insert(base, "now-ish");
    wheel.insert(base - 5_000, "overdue");
    wheel.insert(i64::MIN, "ancient");
    assert_eq!(
        batches.recv().await.unwrap(),
        (50, vec!["ancient", "overdue", "now-ish"])
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_holds_every_item_due_while_fire_ran() {
    let wheel = TimerWheel::new();
    let base = wheel.now_ms();
    for (at, item) in [(100, "a"), (400, "d"), (200, "b"), (300, "c"), (900, "e")] {
        wheel.insert(base + at, item);
    }
    let (tx, mut batches) = mpsc::unbounded_channel();
    let runner = wheel.clone();
    let clock = wheel.clone();
    tokio::spawn(async move {
        runner
            .run(move |batch| {
                let fired_at = clock.now_ms() - base;
                let tx = tx.clone();
                async move {
                    let _ = tx.send((fired_at, batch));
                    // A slow consumer: b, c and d come due meanwhile.
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
            })
            .await;
    });
    assert_eq!(batches.recv().await.unwrap(), (100, vec!["a"]));
    assert_eq!(batches.recv().await.unwrap(), (500, vec!["b", "c", "d"]));
    assert_eq!(batches.recv().await.unwrap(), (900, vec!["e"]));
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_run() {
    let wheel = TimerWheel::new();
    let base = wheel.now_ms();
    wheel.insert(base + 60_000, "never");
    let (run, mut batches) = start(&wheel, base);
    tokio::time::sleep(Duration::from_millis(10)).await;
    wheel.shutdown();
    run.await.unwrap();
    assert_eq!(wheel.now_ms() - base, 10);
    assert!(batches.recv().await.is_none(), "nothing fired");
    assert_eq!(wheel.len(), 1);

    // A run started after shutdown returns at once.
    wheel.run(|_| async {}).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_an_idle_run() {
    let wheel = TimerWheel::<&str>::new();
    let (run, _batches) = start(&wheel, wheel.now_ms());
    tokio::task::yield_now().await;
    wheel.shutdown();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_custom_clock_is_used() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let now = Arc::new(AtomicI64::new(1_000));
    let wheel = TimerWheel::with_clock({
        let now = Arc::clone(&now);
        Arc::new(move || now.load(Ordering::SeqCst))
    });
    wheel.insert(1_500, "x");
    wheel.insert(900, "due");
    assert_eq!(wheel.now_ms(), 1_000);
    let (_run, mut batches) = start(&wheel, 0);
    assert_eq!(batches.recv().await.unwrap(), (1_000, vec!["due"]));
    now.store(1_500, Ordering::SeqCst);
    assert_eq!(batches.recv().await.unwrap(), (1_500, vec!["x"]));
}

#[tokio::test(start_paused = true)]
async fn removed_items_never_fire() {
    let wheel = TimerWheel::new();
    let base = wheel.now_ms();
    wheel.insert(base + 100, "keep");
    wheel.insert(base + 200, "drop-1");
    wheel.insert(base + 300, "drop-2");
    let removed = wheel.remove_where(|item| item.starts_with("drop"));
    assert_eq!(
        removed,
        vec![(base + 200, "drop-1"), (base + 300, "drop-2")]
    );
    assert_eq!(wheel.len(), 1);
    let (_run, mut batches) = start(&wheel, base);
    assert_eq!(batches.recv().await.unwrap(), (100, vec!["keep"]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(batches.try_recv().is_err(), "nothing else fires");
}
