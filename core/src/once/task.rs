//! The once state's wait for futures: [`BeginFuture`], which waits in the
//! [`TaskTable`](crate::table::TaskTable) under the address of the once
//! word while another caller runs the initializer.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::{Begin, OnceGuard, OnceState, COMPLETE, INCOMPLETE, RUNNING, SLEEPERS, STATE};
use crate::park::Park;
use crate::sync::Ordering;
use crate::table::{TableSide, TableWait};
use crate::waiter::{Interrupted, Waiter};

impl<P: Park> OnceState<P> {
    /// [`begin`](Self::begin) as a future: see [`BeginFuture`].
    pub fn begin_async(&self) -> BeginFuture<'_, P> {
        BeginFuture::new(self, Waiter::new())
    }

    /// Wakes every future waiting for the runner (its finish).
    #[cold]
    pub(super) fn wake_tasks(&self) {
        // `SLEEPERS` is cleared by the finish itself, before this.
        crate::table::wake::<P>(self.key(), true, || {});
    }

    pub(super) fn key(&self) -> usize {
        &self.word as *const _ as usize
    }
}

impl<P: Park> TableSide<P> for OnceState<P> {
    fn key(&self) -> usize {
        OnceState::key(self)
    }
    fn try_take(&self) -> bool {
        self.take_now()
    }
    fn take_or_mark(&self) -> bool {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            // Become the runner, or mark the running word for the table.
            let (new, took) = match word & STATE {
                COMPLETE => return true,
                INCOMPLETE => ((word & !STATE) | RUNNING, true),
                _ if word & SLEEPERS != 0 => return false,
                _ => (word | SLEEPERS, false),
            };
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return took,
                Err(now) => word = now,
            }
        }
    }
    fn unmark(&self) {
        // The finish clears `SLEEPERS`; a wake of the table has nothing
        // of its own to clear.
    }
    fn give_up(&self, _woken: bool) {
        // A finish wakes every waiter: a wake this one took was nobody
        // else's (one of the others becomes the next runner).
    }
}

impl<P: Park> OnceState<P> {
    /// [`begin`](Self::begin) without waiting: `None` while another caller
    /// runs the initializer.
    #[inline]
    pub fn try_begin(&self) -> Option<Begin<'_, P>> {
        self.take_now().then(|| self.begun())
    }

    /// What a successful take means (see [`take_now`](Self::take_now)).
    fn begun(&self) -> Begin<'_, P> {
        match self.is_complete() {
            true => Begin::Complete,
            // Taken, and not complete: we moved it to `RUNNING`, and
            // nobody but the runner leaves that.
            false => Begin::Run(OnceGuard { state: self }),
        }
    }

    /// Complete, or becomes the runner: `true` if either (the state word
    /// then says which: only the runner leaves `RUNNING`).
    fn take_now(&self) -> bool {
        let word = self.word.load(Ordering::Acquire);
        match word & STATE {
            COMPLETE => true,
            INCOMPLETE => self
                .word
                .compare_exchange(word, word | RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok(),
            _ => false,
        }
    }
}

/// The future of [`OnceState::begin_async`]: resolves to
/// [`Begin::Complete`], or to [`Begin::Run`] when the caller is to run the
/// initializer (it may await inside it while holding the guard), waiting
/// while another caller runs it; or to `Err(Interrupted)` once its
/// [`node`](Self::node) is interrupted while it waits. Cancel-safe on drop.
///
/// ```
/// use core::future::Future;
/// use core::pin::pin;
/// use core::task::{Context, Poll, Waker};
/// use concur_core::{Begin, OnceState};
///
/// let once: OnceState = OnceState::new();
/// let mut cx = Context::from_waker(Waker::noop());
/// let Begin::Run(guard) = once.begin() else { unreachable!() };
/// let mut other = pin!(once.begin_async());
/// assert!(other.as_mut().poll(&mut cx).is_pending()); // the runner runs
/// guard.complete(); // wakes the task
/// assert!(matches!(other.as_mut().poll(&mut cx), Poll::Ready(Ok(Begin::Complete))));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct BeginFuture<'a, P: Park> {
    state: &'a OnceState<P>,
    wait: TableWait<P>,
}

impl<'a, P: Park> BeginFuture<'a, P> {
    /// A future that begins `state`, waiting with `node`.
    pub fn new(state: &'a OnceState<P>, node: Waiter<P>) -> Self {
        Self {
            state,
            wait: TableWait::new(node),
        }
    }

    /// The node the future waits with, to interrupt it.
    pub fn node(self: Pin<&Self>) -> Pin<&Waiter<P>> {
        // SAFETY: a field of a pinned struct, never moved out.
        unsafe { self.map_unchecked(|this| this.wait.node()) }
    }
}

impl<'a, P: Park> Future for BeginFuture<'a, P> {
    type Output = Result<Begin<'a, P>, Interrupted>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let state = this.state;
        // SAFETY: pinned, and polled and dropped with this state.
        let polled = unsafe { this.wait.poll(state, cx) };
        polled.map(|result| result.map(|()| state.begun()))
    }
}

impl<P: Park> Drop for BeginFuture<'_, P> {
    fn drop(&mut self) {
        self.wait.drop_with(self.state);
    }
}
