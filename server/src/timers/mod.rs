//! The in-memory side of the durable timer queue: a wheel that fires items when they are due.
//!
//! The durable timer rows live in the store; at start-up (and whenever a timer is written)
//! the engine inserts them here, and [`TimerWheel::run`] hands due items back to it in batches.
//! The wheel itself persists nothing: after a crash it is rebuilt from the store, so an item
//! fired but not yet acted upon is simply fired again on the next start.
//!
//! # Clock
//! Fire times are unix milliseconds. [`TimerWheel::new`] reads them from a clock anchored to
//! `SystemTime` once, at construction, and advanced by `tokio::time::Instant` from then on: it
//! is monotonic (a wall-clock step does not fire or stall every timer at once) and follows
//! tokio's paused clock in tests. [`TimerWheel::with_clock`] takes any other clock; the wheel
//! sleeps with tokio's timer for the difference and looks again, so any clock that advances
//! roughly with tokio's works.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::Instant;

/// A clock returning the current time in unix milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Fires items at their scheduled time, in time order, in batches.
///
/// Cheap to clone: clones share the same items. Usually one task calls [`run`](Self::run)
/// while others [`insert`](Self::insert).
pub struct TimerWheel<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Wakes `run` when an item is inserted (it may be earlier than the one it sleeps for) or on
    /// shutdown.
    wake: Notify,
    clock: Clock,
}

struct State<T> {
    /// Keyed by (fire time, insertion sequence): same-time items fire in insertion order.
    items: BTreeMap<(i64, u64), T>,
    next_seq: u64,
    shutdown: bool,
}

/// What `run` should do next.
enum Next<T> {
    Fire(Vec<T>),
    SleepUntil(i64, i64),
    Wait,
    Stop,
}

impl<T> TimerWheel<T> {
    /// An empty wheel on the default clock (see the [module docs](self)).
    ///
    /// Must be called within a Tokio runtime when time is paused (tests), so the clock follows
    /// the paused time; otherwise anywhere.
    pub fn new() -> Self {
        let anchor = Instant::now();
        let anchor_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self::with_clock(Arc::new(move || {
            let elapsed = i64::try_from(anchor.elapsed().as_millis()).unwrap_or(i64::MAX);
            anchor_ms.saturating_add(elapsed)
        }))
    }

    /// An empty wheel reading the time (unix milliseconds) from `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        TimerWheel {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    items: BTreeMap::new(),
                    next_seq: 0,
                    shutdown: false,
                }),
                wake: Notify::new(),
                clock,
            }),
        }
    }

    /// Schedules `item` at `fire_at_ms` (unix millis). Items with the same time fire in
    /// insertion order; items already due fire promptly.
    pub fn insert(&self, fire_at_ms: i64, item: T) {
        {
            let mut state = self.lock();
            let seq = state.next_seq;
            state.next_seq += 1;
            state.items.insert((fire_at_ms, seq), item);
        }
        self.shared.wake.notify_waiters();
    }

    /// Takes every item not yet fired for which `unwanted` holds, with its fire time (e.g. the
    /// timers of a run being deleted). A linear scan: meant for rare housekeeping.
    pub fn remove_where(&self, mut unwanted: impl FnMut(&T) -> bool) -> Vec<(i64, T)> {
        let mut state = self.lock();
        let keys: Vec<(i64, u64)> = state
            .items
            .iter()
            .filter(|(_, item)| unwanted(item))
            .map(|(key, _)| *key)
            .collect();
        keys.into_iter()
            .filter_map(|key| state.items.remove(&key).map(|item| (key.0, item)))
            .collect()
    }

    /// Number of items not yet fired.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether no item is waiting to fire.
    pub fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// The wheel's current time in unix milliseconds (its clock).
    pub fn now_ms(&self) -> i64 {
        (self.shared.clock)()
    }

    /// Fires items until [`shutdown`](Self::shutdown) is called.
    ///
    /// Sleeps until the earliest item is due (woken early when an item is inserted), then
    /// calls `fire` with *all* items due at that moment, in time order, and awaits it before
    /// looking again. Items inserted while `fire` runs wait for the next turn. Returns after
    /// `shutdown`, without firing what is left; a shutdown during `fire` takes effect once it
    /// returns. Call it from one task at a time.
    pub async fn run<F, Fut>(&self, mut fire: F)
    where
        F: FnMut(Vec<T>) -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            // Registered before looking at the state, so an insert or shutdown that happens
            // after the look still wakes us.
            let woken = self.shared.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.next() {
                Next::Fire(batch) => fire(batch).await,
                Next::SleepUntil(at, now) => {
                    let wait =
                        Duration::from_millis(u64::try_from(at.saturating_sub(now)).unwrap_or(0));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = woken => {}
                    }
                }
                Next::Wait => woken.await,
                Next::Stop => return,
            }
        }
    }

    /// Makes [`run`](Self::run) return (after its current `fire`, if any). Idempotent.
    pub fn shutdown(&self) {
        self.lock().shutdown = true;
        self.shared.wake.notify_waiters();
    }

    /// Takes every due item, or says how long to sleep.
    fn next(&self) -> Next<T> {
        let mut state = self.lock();
        if state.shutdown {
            return Next::Stop;
        }
        let now = self.now_ms();
        let due = match now.checked_add(1) {
            Some(bound) => {
                let later = state.items.split_off(&(bound, 0));
                std::mem::replace(&mut state.items, later)
            }
            None => std::mem::take(&mut state.items),
        };
        if !due.is_empty() {
            return Next::Fire(due.into_values().collect());
        }
        match state.items.first_key_value() {
            Some((&(at, _), _)) => Next::SleepUntil(at, now),
            None => Next::Wait,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the map consistent before anything that could panic.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Clone for TimerWheel<T> {
    fn clone(&self) -> Self {
        TimerWheel {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("TimerWheel")
            .field("len", &state.items.len())
            .field("next_ms", &state.items.keys().next().map(|&(at, _)| at))
            .field("shutdown", &state.shutdown)
            .finish()
    }
}

#[cfg(test)]
mod tests;
