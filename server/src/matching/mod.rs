//! In-memory task queues with long-poll hand-off.
//!
//! [`TaskQueues`] holds, per [`QueueKey`], a FIFO of tasks nobody has taken yet and a FIFO of
//! pollers waiting for one. [`TaskQueues::push`] gives a task straight to the longest-waiting
//! poller, else queues it; [`TaskQueues::poll`] takes the oldest task, else waits for one.
//!
//! The queues are an index over durable state, not the truth: the engine rebuilds them from
//! the store at start-up, so nothing here needs to survive a crash. What must hold while the
//! process runs is that no task is ever lost or delivered twice, even when a long poll is
//! cancelled (the client went away) at the exact moment a task was handed to it.
//!
//! # How a hand-off stays race-free
//! Every change to a queue happens under one mutex, and `push` sends into a waiter's oneshot
//! channel while holding it. A poller that stops waiting (timeout or drop) takes the same
//! mutex, removes its own waiter entry, and then looks into its channel: if a task arrived in
//! the meantime it is either returned (timeout) or put back at the front of the queue (drop),
//! so it is never stranded in a channel nobody reads.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

/// Identifies a queue: (namespace, task queue name, kind).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueKey {
    /// The namespace the task queue belongs to.
    pub namespace: String,
    /// The task queue name, as workers poll it.
    pub name: String,
    /// Workflow tasks and activity tasks of one task queue are separate queues.
    pub kind: QueueKind,
}

impl QueueKey {
    /// A key for `kind` tasks of task queue `name` in `namespace`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, kind: QueueKind) -> Self {
        QueueKey {
            namespace: namespace.into(),
            name: name.into(),
            kind,
        }
    }
}

/// Which kind of task a queue holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueKind {
    /// Workflow tasks (`PollWorkflowTaskQueue`).
    Workflow,
    /// Activity tasks (`PollActivityTaskQueue`).
    Activity,
}

/// In-memory task queues, keyed by [`QueueKey`], with long-poll hand-off.
///
/// `Send + Sync` when `T: Send`; share it behind an `Arc`. Queues are created on first use
/// and removed again once they hold neither tasks nor pollers, so short-lived queue names
/// (sticky queues, one per worker) do not accumulate.
pub struct TaskQueues<T> {
    /// Every queue and the shutdown flag, under one lock so a hand-off is atomic.
    state: Mutex<State<T>>,
}

struct State<T> {
    queues: HashMap<QueueKey, Queue<T>>,
    /// Identifies waiter entries so a poller can remove exactly its own.
    next_waiter: u64,
    shutdown: bool,
}

struct Queue<T> {
    tasks: VecDeque<T>,
    waiters: VecDeque<Waiter<T>>,
}

struct Waiter<T> {
    id: u64,
    sender: oneshot::Sender<T>,
}

impl<T> TaskQueues<T> {
    /// Empty queues, accepting polls.
    pub fn new() -> Self {
        TaskQueues {
            state: Mutex::new(State {
                queues: HashMap::new(),
                next_waiter: 0,
                shutdown: false,
            }),
        }
    }

    /// Hands the task to the longest-waiting poller of that queue, else appends it (FIFO).
    ///
    /// After [`shutdown`](Self::shutdown) the task is queued (nobody will take it).
    pub fn push(&self, key: &QueueKey, task: T) {
        let mut state = self.lock();
        let queue = state.queues.entry(key.clone()).or_insert_with(Queue::new);
        if let Some(task) = queue.hand_off(task) {
            queue.tasks.push_back(task);
        }
        state.remove_if_empty(key);
    }

    /// Waits up to `timeout` for a task of `key`'s queue.
    ///
    /// Returns `None` on timeout, and at once (or as soon as it is called) after
    /// [`shutdown`](Self::shutdown). Cancellation-safe: if the future is dropped, no task is
    /// lost; a task that was handed to it in the meantime goes to the next waiting poller, else
    /// back to the front of the queue.
    pub async fn poll(&self, key: &QueueKey, timeout: Duration) -> Option<T> {
        let receiver = {
            let mut state = self.lock();
            if state.shutdown {
                return None;
            }
            let id = state.next_waiter;
            state.next_waiter += 1;
            let queue = state.queues.entry(key.clone()).or_insert_with(Queue::new);
            if let Some(task) = queue.tasks.pop_front() {
                state.remove_if_empty(key);
                return Some(task);
            }
            let (sender, receiver) = oneshot::channel();
            queue.waiters.push_back(Waiter { id, sender });
            Waiting {
                queues: self,
                key,
                id,
                receiver,
                finished: false,
            }
        };
        receiver.wait(timeout).await
    }

    /// Wakes every waiting poller with `None` and makes later polls return `None` at once.
    ///
    /// Queued tasks stay queued (they are rebuilt from the store on the next start anyway).
    pub fn shutdown(&self) {
        let mut state = self.lock();
        state.shutdown = true;
        for queue in state.queues.values_mut() {
            // Dropping a sender completes its receiver with an error: the poll returns None.
            queue.waiters.clear();
        }
        state.queues.retain(|_, queue| !queue.is_empty());
    }

    /// Takes the queued tasks of `key` that `unwanted` selects (a task that moved to another
    /// queue, a worker that shut down), in queue order.
    pub fn remove_where(&self, key: &QueueKey, mut unwanted: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut state = self.lock();
        let Some(queue) = state.queues.get_mut(key) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        let mut kept = VecDeque::with_capacity(queue.tasks.len());
        for task in queue.tasks.drain(..) {
            if unwanted(&task) {
                removed.push(task);
            } else {
                kept.push_back(task);
            }
        }
        queue.tasks = kept;
        state.remove_if_empty(key);
        removed
    }

    /// Number of queued tasks of `key` (for tests and describe calls).
    pub fn len(&self, key: &QueueKey) -> usize {
        self.lock().queues.get(key).map_or(0, |q| q.tasks.len())
    }

    /// Number of pollers waiting on `key`.
    pub fn pollers(&self, key: &QueueKey) -> usize {
        self.lock().queues.get(key).map_or(0, |q| q.waiters.len())
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the state consistent before anything that could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Default for TaskQueues<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> State<T> {
    fn remove_if_empty(&mut self, key: &QueueKey) {
        if self.queues.get(key).is_some_and(Queue::is_empty) {
            self.queues.remove(key);
        }
    }

    /// Removes waiter `id` of `key`; returns whether it was still registered.
    fn remove_waiter(&mut self, key: &QueueKey, id: u64) -> bool {
        let Some(queue) = self.queues.get_mut(key) else {
            return false;
        };
        let removed = match queue.waiters.iter().position(|w| w.id == id) {
            Some(index) => queue.waiters.remove(index).is_some(),
            None => false,
        };
        self.remove_if_empty(key);
        removed
    }
}

impl<T> Queue<T> {
    fn new() -> Self {
        Queue {
            tasks: VecDeque::new(),
            waiters: VecDeque::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.waiters.is_empty()
    }

    /// Sends `task` to the longest-waiting live poller; gives it back if there is none.
    fn hand_off(&mut self, mut task: T) -> Option<T> {
        while let Some(waiter) = self.waiters.pop_front() {
            match waiter.sender.send(task) {
                Ok(()) => return None,
                // The poller is gone (its receiver was closed): try the next one.
                Err(returned) => task = returned,
            }
        }
        Some(task)
    }
}

/// A registered poller; removes its waiter entry however the wait ends.
struct Waiting<'a, T> {
    queues: &'a TaskQueues<T>,
    key: &'a QueueKey,
    id: u64,
    receiver: oneshot::Receiver<T>,
    /// Set once the waiter entry is known to be gone and the channel drained.
    finished: bool,
}

impl<T> Waiting<'_, T> {
    async fn wait(mut self, timeout: Duration) -> Option<T> {
        match tokio::time::timeout(timeout, &mut self.receiver).await {
            // `push` removed our entry before sending.
            Ok(Ok(task)) => {
                self.finished = true;
                Some(task)
            }
            // `shutdown` dropped our entry (and its sender).
            Ok(Err(_)) => {
                self.finished = true;
                None
            }
            Err(_elapsed) => {
                let mut state = self.queues.lock();
                state.remove_waiter(self.key, self.id);
                self.finished = true;
                // Under the lock no push can race with us: a task sent before we took the lock
                // is in the channel now, and none can be sent after. Returning it is fine — it
                // arrived by the deadline.
                self.receiver.try_recv().ok()
            }
        }
    }
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut state = self.queues.lock();
        if state.remove_waiter(self.key, self.id) {
            // Nobody sent to us: nothing to give back.
            return;
        }
        self.receiver.close();
        if let Ok(task) = self.receiver.try_recv() {
            let queue = state
                .queues
                .entry(self.key.clone())
                .or_insert_with(Queue::new);
            if let Some(task) = queue.hand_off(task) {
                queue.tasks.push_front(task);
            }
            state.remove_if_empty(self.key);
        }
    }
}

#[cfg(test)]
mod tests;
