//! `WaitCounter`: the counter under a wait group: add, done, wait for zero
//! (as a thread, or as a future).
//!
//! # Words
//!
//! `state` (`u32`): bits 0..=29 are the count, bit 30 (`TASKS`) says
//! futures wait for zero in the [`TaskTable`](crate::table::TaskTable)
//! (set and cleared only under its bucket lock), bit 31 (`SLEEPERS`) says
//! a thread may sleep on `wake`.
//!
//! `wake` (`u32`): a futex word that only counts up (by [`EPOCH_UNIT`],
//! wrapping). A waiter reads `wake`, then `state`, and sleeps on the `wake`
//! value it read if the count is not zero. The `done` that brings the count to
//! zero clears `SLEEPERS` in the same CAS and then bumps `wake`, so a waiter
//! that read a non-zero count sleeps against a stale value and returns.
//! An interrupter bumps `wake` too.
//!
//! Releasing the count to zero costs no syscall unless someone sleeps, and
//! no table lookup unless a future waits.
//!
//! A future's wait ([`WaitCounter::wait_async`]) links its node into the
//! task table under the address of `state` after setting `TASKS` on a
//! non-zero count, under the bucket lock; the `done` that brings the count
//! to zero keeps `TASKS`, and wakes every future of the table's list, whose
//! last wake clears the bit.

mod task;

pub use task::WaitFuture;

use core::marker::PhantomData;
use core::pin::Pin;

use crate::park::{DefaultPark, Park};
use crate::sync::{AtomicU32, Ordering};
use crate::waiter::{Interrupted, Waiter, EPOCH_UNIT};

const SLEEPERS: u32 = 1 << 31;
const TASKS: u32 = 1 << 30;
/// The largest count a [`WaitCounter`] holds: 2^30 - 1.
pub const MAX_COUNT: u32 = TASKS - 1;

/// A count of outstanding work that threads can wait to reach zero.
///
/// ```
/// use concur_core::WaitCounter;
///
/// let c: WaitCounter = WaitCounter::new();
/// c.add(2);
/// c.done();
/// assert_eq!(c.count(), 1);
/// c.done();
/// c.wait(); // zero: returns at once
/// ```
#[derive(Debug)]
pub struct WaitCounter<P: Park = DefaultPark> {
    state: AtomicU32,
    wake: AtomicU32,
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> Default for WaitCounter<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Park> WaitCounter<P> {
    crate::sync::const_fn! {
        /// A counter at zero.
        pub fn new() -> Self {
            Self { state: AtomicU32::new(0), wake: AtomicU32::new(0), _park: PhantomData }
        }
    }

    /// The current count (a racy snapshot).
    #[inline]
    pub fn count(&self) -> u32 {
        self.state.load(Ordering::Acquire) & MAX_COUNT
    }

    /// Adds `n` to the count.
    ///
    /// # Panics
    /// If the count would exceed [`MAX_COUNT`]; the count is unchanged then.
    #[inline]
    pub fn add(&self, n: u32) {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let count = state & MAX_COUNT;
            if n > MAX_COUNT - count {
                overflow(count, n);
            }
            match self.state.compare_exchange_weak(
                state,
                state + n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// Subtracts one from the count, waking every waiter if it reaches zero.
    ///
    /// # Panics
    /// If the count is already zero (more `done` than `add`); the count is
    /// unchanged then.
    #[inline]
    pub fn done(&self) {
        if !self.try_done() {
            underflow();
        }
    }

    /// [`done`](Self::done) that reports a count already at zero by
    /// returning `false` (changing nothing) instead of panicking, for
    /// wrappers that name themselves in the panic.
    #[inline]
    pub fn try_done(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let count = state & MAX_COUNT;
            if count == 0 {
                return false;
            }
            // Reaching zero also clears SLEEPERS: we are about to wake
            // them. TASKS stays until the table's wake has taken the
            // nodes out (it is cleared under the bucket lock).
            let new = if count == 1 { state & TASKS } else { state - 1 };
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        if state & MAX_COUNT == 1 && state & (SLEEPERS | TASKS) != 0 {
            self.wake_sleepers(state);
        }
        true
    }

    #[cold]
    fn wake_sleepers(&self, state: u32) {
        if state & SLEEPERS != 0 {
            self.wake.fetch_add(EPOCH_UNIT, Ordering::Release);
            P::wake_all(&self.wake);
        }
        if state & TASKS != 0 {
            self.wake_tasks();
        }
    }

    /// Sleeps until the count is zero.
    #[inline]
    pub fn wait(&self) {
        if self.count() != 0 {
            let _ = self.wait_contended(None);
        }
    }

    /// Sleeps until the count is zero or `node` is interrupted. A zero count
    /// returns `Ok` without looking at `node`.
    #[inline]
    pub fn wait_interruptible(&self, node: Pin<&Waiter<P>>) -> Result<(), Interrupted> {
        if self.count() == 0 {
            return Ok(());
        }
        self.wait_interruptible_cold(&node)
    }

    #[cold]
    fn wait_interruptible_cold(&self, node: &Waiter<P>) -> Result<(), Interrupted> {
        let _scope = node.begin_on(&self.wake)?;
        self.wait_contended(Some(node))
    }

    #[cold]
    fn wait_contended(&self, node: Option<&Waiter<P>>) -> Result<(), Interrupted> {
        loop {
            let wake = self.wake.load(Ordering::Acquire);
            let state = self.state.load(Ordering::Acquire);
            if state & MAX_COUNT == 0 {
                return Ok(());
            }
            if state & SLEEPERS == 0
                && self
                    .state
                    .compare_exchange_weak(
                        state,
                        state | SLEEPERS,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_err()
            {
                continue;
            }
            if node.is_some_and(Waiter::is_interrupted) {
                return Err(Interrupted);
            }
            crate::waiter::sleep(node, &self.wake, wake, || {});
        }
    }
}

/// As for the mutex: a counter whose state says futures wait can only be
/// dropped with those futures leaked; their nodes leave the table.
impl<P: Park> Drop for WaitCounter<P> {
    fn drop(&mut self) {
        let marked = self.state.load(Ordering::Relaxed) & TASKS != 0;
        crate::table::purge_on_drop::<P>(marked, self.key());
    }
}

#[cold]
#[track_caller]
fn overflow(count: u32, n: u32) -> ! {
    panic!("concur-core: WaitCounter::add({n}) at count {count} would exceed {MAX_COUNT}")
}

#[cold]
#[track_caller]
fn underflow() -> ! {
    panic!("concur-core: WaitCounter::done() at count 0: more done() calls than added")
}
