//! The counter's wait for futures: [`WaitFuture`], which waits for zero in
//! the [`TaskTable`](crate::table::TaskTable) under the address of the
//! counter's state word while threads sleep on its wake word.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::{WaitCounter, MAX_COUNT, TASKS};
use crate::park::Park;
use crate::sync::Ordering;
use crate::table::{TableSide, TableWait};
use crate::waiter::{Interrupted, Waiter};

impl<P: Park> WaitCounter<P> {
    /// Waits for zero as a future: see [`WaitFuture`].
    pub fn wait_async(&self) -> WaitFuture<'_, P> {
        WaitFuture::new(self, Waiter::new())
    }

    /// Wakes every future waiting for zero (the `done` that reached it).
    #[cold]
    pub(super) fn wake_tasks(&self) {
        crate::table::wake::<P>(self.key(), true, || self.unmark());
    }

    pub(super) fn key(&self) -> usize {
        &self.state as *const _ as usize
    }

    fn unmark(&self) {
        self.state.fetch_and(!TASKS, Ordering::Relaxed);
    }
}

impl<P: Park> TableSide<P> for WaitCounter<P> {
    fn key(&self) -> usize {
        WaitCounter::key(self)
    }
    fn try_take(&self) -> bool {
        self.count() == 0
    }
    fn take_or_mark(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & MAX_COUNT == 0 {
                return true;
            }
            if state & TASKS != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state | TASKS,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return false,
                Err(now) => state = now,
            }
        }
    }
    fn unmark(&self) {
        WaitCounter::unmark(self);
    }
    fn give_up(&self, _woken: bool) {
        // Zero wakes every waiter: a wake this one took was nobody else's.
    }
}

/// The future of [`WaitCounter::wait_async`]: resolves to `Ok(())` once
/// the count is zero (at once if it is), or to `Err(Interrupted)` once its
/// [`node`](Self::node) is interrupted while it waits. Cancel-safe on drop.
///
/// ```
/// use core::future::Future;
/// use core::pin::pin;
/// use core::task::{Context, Poll, Waker};
/// use concur_core::WaitCounter;
///
/// let c: WaitCounter = WaitCounter::new();
/// let mut cx = Context::from_waker(Waker::noop());
/// c.add(1);
/// let mut zero = pin!(c.wait_async());
/// assert!(zero.as_mut().poll(&mut cx).is_pending());
/// c.done(); // wakes the task
/// assert_eq!(zero.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct WaitFuture<'a, P: Park> {
    counter: &'a WaitCounter<P>,
    wait: TableWait<P>,
}

impl<'a, P: Park> WaitFuture<'a, P> {
    /// A future that waits for `counter` to reach zero, with `node`.
    pub fn new(counter: &'a WaitCounter<P>, node: Waiter<P>) -> Self {
        Self {
            counter,
            wait: TableWait::new(node),
        }
    }

    /// The node the future waits with, to interrupt it.
    pub fn node(self: Pin<&Self>) -> Pin<&Waiter<P>> {
        // SAFETY: a field of a pinned struct, never moved out.
        unsafe { self.map_unchecked(|this| this.wait.node()) }
    }
}

impl<P: Park> Future for WaitFuture<'_, P> {
    type Output = Result<(), Interrupted>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: pinned, and polled and dropped with this counter.
        unsafe { this.wait.poll(this.counter, cx) }
    }
}

impl<P: Park> Drop for WaitFuture<'_, P> {
    fn drop(&mut self) {
        self.wait.drop_with(self.counter);
    }
}
