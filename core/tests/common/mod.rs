//! Helpers shared by the real-thread tests: a small deterministic RNG, a
//! hang detector, and interrupt slots that mirror how the facade registers a
//! waiting node with a context.

#![allow(dead_code)]

use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use concur_core::Waiter;

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
