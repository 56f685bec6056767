//! The mutex's wait for futures: [`LockFuture`], which waits in the
//! process-wide [`TaskTable`](crate::table::TaskTable) under the mutex's
//! address while threads sleep on the word (see the table's module for the
//! `TASKS` bit and why no wake-up is lost).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::{RawMutex, LOCKED, TASKS};
use crate::park::Park;
use crate::sync::Ordering;
use crate::table::{TableSide, TableWait};
use crate::waiter::{Interrupted, Waiter};

/// The future of [`RawMutex::lock_async`]: resolves to `Ok(())` once the
/// lock is the caller's (release it with [`RawMutex::unlock`]), or to
/// `Err(Interrupted)` once its [`node`](Self::node) is interrupted while
/// it waits. A free lock is taken on the first poll, with the fast path's
/// one read-modify-write and no node.
///
/// The mutex barges for tasks as for threads: an unlock wakes one waiting
/// task (and one sleeping thread), and the first to run takes the lock.
/// Tasks are woken in the order they came. Dropping the future while it
/// waits is cancel-safe: a wake it took is passed on.
///
/// Leaking it while it waits (`mem::forget` of a `Box::pin`) is memory
/// safe but, like leaking a guard, can cost other waiters a wake; see the
/// [`TaskTable`](crate::table::TaskTable) docs.
///
/// ```
/// use core::future::Future;
/// use core::pin::pin;
/// use core::task::{Context, Poll, Waker};
/// use concur_core::RawMutex;
///
/// let m: RawMutex = RawMutex::new();
/// let mut cx = Context::from_waker(Waker::noop());
/// m.lock();
/// let mut wait = pin!(m.lock_async());
/// assert!(wait.as_mut().poll(&mut cx).is_pending()); // held: waits in the table
/// // SAFETY: locked above by this thread.
/// unsafe { m.unlock() }; // wakes the future's task
/// assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
/// // SAFETY: the future took the lock for us.
/// unsafe { m.unlock() };
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct LockFuture<'a, P: Park> {
    mutex: &'a RawMutex<P>,
    wait: TableWait<P>,
}

impl<P: Park> RawMutex<P> {
    /// Takes the lock as a future: see [`LockFuture`].
    pub fn lock_async(&self) -> LockFuture<'_, P> {
        LockFuture::new(self, Waiter::new())
    }

    /// Wakes the oldest future waiting for the lock, if any (an unlock
    /// that saw `TASKS`, or a woken future that gives up).
    #[cold]
    pub(super) fn wake_task(&self) {
        crate::table::wake::<P>(self.key(), false, || self.unmark());
    }

    pub(super) fn key(&self) -> usize {
        &self.word as *const _ as usize
    }

    fn unmark(&self) {
        self.word.fetch_and(!TASKS, Ordering::Relaxed);
    }
}

impl<P: Park> TableSide<P> for RawMutex<P> {
    fn key(&self) -> usize {
        RawMutex::key(self)
    }
    fn try_take(&self) -> bool {
        self.lock_fast()
    }
    fn take_or_mark(&self) -> bool {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let (new, took) = match word & (LOCKED | TASKS) {
                0 | TASKS => (word | LOCKED, true),
                LOCKED => (word | TASKS, false),
                _ => return false, // held, and marked already
            };
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return took,
                Err(now) => word = now,
            }
        }
    }
    fn unmark(&self) {
        RawMutex::unmark(self);
    }
    fn give_up(&self, woken: bool) {
        // The unlock that woke us woke no other task: wake the next one
        // (if any: `TASKS` is set while a node is linked, and one linked
        // after this look saw the lock held, or took it).
        if woken && self.word.load(Ordering::Relaxed) & TASKS != 0 {
            self.wake_task();
        }
    }
}

impl<'a, P: Park> LockFuture<'a, P> {
    /// A future that takes `mutex`, waiting with `node` (made with
    /// [`Waiter::new`]; a deadline in it is not seen by a future's wait:
    /// whoever owns the deadline interrupts the node).
    pub fn new(mutex: &'a RawMutex<P>, node: Waiter<P>) -> Self {
        Self {
            mutex,
            wait: TableWait::new(node),
        }
    }

    /// The node the future waits with, to interrupt it.
    pub fn node(self: Pin<&Self>) -> Pin<&Waiter<P>> {
        // SAFETY: a field of a pinned struct that is never moved out.
        unsafe { self.map_unchecked(|this| this.wait.node()) }
    }

    /// A resolved future takes the lock again on its next poll.
    pub(crate) fn rearm(&mut self) {
        self.wait.rearm();
    }
}

impl<P: Park> Future for LockFuture<'_, P> {
    type Output = Result<(), Interrupted>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned in the future.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: pinned, and always polled and dropped with this mutex.
        unsafe { this.wait.poll(this.mutex, cx) }
    }
}

impl<P: Park> Drop for LockFuture<'_, P> {
    fn drop(&mut self) {
        self.wait.drop_with(self.mutex);
    }
}
