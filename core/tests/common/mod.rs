//! Helpers shared by the real-thread tests: a small deterministic RNG, a
//! hang detector, and interrupt slots that mirror how the facade registers a
//! waiting node with a context.

#![allow(dead_code)]

pub mod tasks;
pub mod workers;

use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use concur_core::{AcquireError, RawSemaphore, Waiter};

/// xorshift64*: deterministic per seed, good enough to pick operations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Waits until `cond` holds, for states another thread reaches; fails the
/// test after 60 s (only a real hang gets there).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "hang: never reached: {what}"
        );
        thread::yield_now();
    }
}

/// Runs `body` on another thread and fails the test if it has not finished
/// after `limit`: the limit is generous and only fires on a real hang.
pub fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let out = body();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        Ok(()) => handle.join().expect("test body panicked"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(_) => unreachable!(),
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hang: not finished after {limit:?}"),
    }
}

/// One registration slot per worker: a worker publishes its pinned node here
/// while it may block, and a canceller interrupts whatever is published.
/// The slot's lock makes "interrupt" and "unpublish" mutually exclusive, so a
/// node is never interrupted after its owner has moved on.
pub struct Slots {
    slots: Vec<Mutex<usize>>,
}

impl Slots {
    pub fn new(n: usize) -> Self {
        Self {
            slots: (0..n).map(|_| Mutex::new(0)).collect(),
        }
    }

    /// Publishes `node` in slot `i` for the duration of `f`.
    pub fn with_published<R>(&self, i: usize, node: Pin<&Waiter>, f: impl FnOnce() -> R) -> R {
        *self.slots[i].lock().unwrap() = &*node as *const Waiter as usize;
        let out = f();
        *self.slots[i].lock().unwrap() = 0;
        out
    }

    /// Interrupts the node published in slot `i`, if any. Returns whether one was.
    pub fn interrupt(&self, i: usize) -> bool {
        let slot = self.slots[i].lock().unwrap();
        if *slot == 0 {
            return false;
        }
        // SAFETY: the owner clears the slot under this lock before its node
        // goes out of scope, and we hold the lock for the whole call.
        unsafe { (*(*slot as *const Waiter)).interrupt() };
        true
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

/// Runs `wait` on a new thread with a node that the caller can interrupt;
/// returns the thread and the node.
pub fn spawn_waiting<R: Send + 'static>(
    wait: impl FnOnce(Pin<&Waiter>) -> R + Send + 'static,
) -> (JoinHandle<R>, Arc<Waiter>) {
    let node = Arc::new(Waiter::new());
    let theirs = node.clone();
    let handle = thread::spawn(move || {
        // SAFETY: the Arc keeps the node at one address until the thread ends.
        let pinned = unsafe { Pin::new_unchecked(&*theirs) };
        wait(pinned)
    });
    (handle, node)
}

/// Runs `wait` on a new thread, interrupts its node, and returns what the
/// wait returned (whether the interrupt came before or during the wait).
pub fn interrupted_wait<R: Send + 'static>(
    wait: impl FnOnce(Pin<&Waiter>) -> R + Send + 'static,
) -> R {
    let (handle, node) = spawn_waiting(wait);
    node.interrupt();
    handle.join().expect("waiting thread panicked")
}

/// Spawns a thread that acquires `n` and reports `(tag, result)` on `tx`,
/// holding the permits until `hold` is signalled or dropped (then releasing
/// them).
pub fn spawn_acquirer(
    sem: &Arc<RawSemaphore>,
    n: u64,
    tag: u64,
    tx: mpsc::Sender<(u64, Result<(), AcquireError>)>,
) -> (JoinHandle<()>, mpsc::Sender<()>) {
    let sem = sem.clone();
    let (hold_tx, hold_rx) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let node = std::pin::pin!(Waiter::new());
        let r = sem.acquire(node.as_ref(), n);
        tx.send((tag, r)).unwrap();
        if r.is_ok() {
            let _ = hold_rx.recv();
            sem.release(n);
        }
    });
    (handle, hold_tx)
}
