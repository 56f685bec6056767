//! Shared pieces of the models: pinned waiter nodes, a spin-until helper
//! and a race-checked counter.

use core::pin::Pin;

use concur_core::{AcquireError, RawSemaphore, Snapshot, Waiter};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// A fresh waiter node, pinned in an `Arc` so that other threads can hold it
/// to interrupt the wait.
///
/// `Arc::pin` makes the pinning safe: the node never moves until it is
/// dropped with the last `Arc`.
pub fn shared_node() -> Pin<Arc<Waiter>> {
    Arc::pin(Waiter::new())
}

/// A semaphore of `capacity` with every permit back and nobody queued: how
/// every semaphore model must end.
pub fn settled(capacity: u64) -> Snapshot {
    Snapshot {
        available: capacity,
        pending: 0,
        capacity,
        queued: 0,
        oversized: 0,
    }
}

/// Takes `n` permits with a fresh node, writes `data` while it holds them
/// (loom reports a holder whose write is not ordered after the last
/// holder's), and gives them back.
pub fn hold_once(sem: &RawSemaphore, data: &Tracked, n: u64) {
    let node = core::pin::pin!(Waiter::new());
    sem.acquire(node.as_ref(), n).unwrap();
    data.bump();
    sem.release(n);
}

/// [`hold_once`] on a new model thread.
pub fn holder(sem: &Arc<RawSemaphore>, data: &Arc<Tracked>, n: u64) -> thread::JoinHandle<()> {
    let (sem, data) = (sem.clone(), data.clone());
    thread::spawn(move || hold_once(&sem, &data, n))
}

/// Spawns a waiter for `n` permits that gives them back if it gets them,
/// and returns its result.
pub fn waiter(sem: &Arc<RawSemaphore>, n: u64) -> thread::JoinHandle<Result<(), AcquireError>> {
    let sem = sem.clone();
    thread::spawn(move || {
        let node = core::pin::pin!(Waiter::new());
        let result = sem.acquire(node.as_ref(), n);
        if result.is_ok() {
            sem.release(n);
        }
        result
    })
}

/// Spawns a waiter for `n` permits on a node the caller keeps (to
/// interrupt it, or to ask whether it timed out), that gives them back if
/// it gets them, and returns its result.
pub fn waiter_on(
    sem: &Arc<RawSemaphore>,
    node: &Pin<Arc<Waiter>>,
    n: u64,
) -> thread::JoinHandle<Result<(), AcquireError>> {
    let (sem, node) = (sem.clone(), node.clone());
    thread::spawn(move || {
        let result = sem.acquire(node.as_ref(), n);
        if result.is_ok() {
            sem.release(n);
        }
        result
    })
}

/// Number of nodes in the semaphore's queue right now.
pub fn queued(sem: &RawSemaphore) -> usize {
    sem.snapshot().queued
}

/// Yields to the other model threads until `done()` holds.
///
/// Used to reach the state a model is about (a waiter queued, a writer
/// announced) before starting the race it checks. Loom treats a yielding
/// thread as unable to make progress until another thread runs, so the
/// loop does not blow up the exploration.
pub fn spin_until(mut done: impl FnMut() -> bool) {
    while !done() {
        loom::thread::yield_now();
    }
}

/// A plain (non-atomic) counter whose every access loom checks.
///
/// Bumping it inside a critical section and reading it elsewhere turns
/// both a broken exclusion (two holders at once) and a missing
/// happens-before edge (a release that does not publish) into a loom
/// causality violation, instead of relying on timing. The final value
/// then counts the critical sections that ran.
#[derive(Debug)]
pub struct Tracked {
    cell: UnsafeCell<u64>,
}

impl Default for Tracked {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracked {
    /// A counter at zero.
    pub fn new() -> Self {
        Self {
            cell: UnsafeCell::new(0),
        }
    }

    /// Adds one (a write access).
    #[track_caller]
    pub fn bump(&self) {
        // SAFETY: loom runs one model thread at a time and checks, before
        // calling the closure, that this write is ordered after every other
        // access to the cell; an unordered access panics instead of racing.
        self.cell.with_mut(|value| unsafe { *value += 1 });
    }

    /// The current value (a read access).
    #[track_caller]
    pub fn get(&self) -> u64 {
        // SAFETY: as in `bump`: loom checks this read is ordered after every
        // write before it lets the closure run.
        self.cell.with(|value| unsafe { *value })
    }
}
