//! The facade's half of every async twin: [`AsyncWait`] polls a core
//! future (the semaphore's, the mutex's, the rwlock's) and ties its wait
//! to the caller's [`Context`], so a cancel or the deadline interrupts its
//! node and wakes its task.
//!
//! The wait (the core future and its [`Watch`]) is made in place only on
//! the first poll that has to wait: an awaited free lock or permit costs
//! the fast path and no node, no registration and no timer entry.

use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use concur_core::{
    AcquireFuture, BarrierFuture, BeginFuture, CondvarFuture, DefaultPark, Interrupted, LockFuture,
    ReadFuture, WaitFuture, Waiter, WriteFuture,
};

use crate::context::Watch;
use crate::{Context, Error};

/// A core future that waits with a node a context can interrupt.
pub(crate) trait NodeFuture: Future {
    /// The node the future waits with.
    fn waiter(self: Pin<&Self>) -> Pin<&Waiter>;
}

macro_rules! node_future {
    ($($ty:ident),*) => {$(
        impl NodeFuture for $ty<'_, DefaultPark> {
            fn waiter(self: Pin<&Self>) -> Pin<&Waiter> {
                self.node()
            }
        }
    )*};
}

node_future!(
    AcquireFuture,
    BarrierFuture,
    CondvarFuture,
    BeginFuture,
    LockFuture,
    ReadFuture,
    WriteFuture,
    WaitFuture
);

/// What the first poll found.
pub(crate) enum Start<T, F> {
    /// The call is over without waiting.
    Ready(Result<T, Error>),
    /// The call waits with this core future.
    Wait(F),
}

/// A core future's wait tied to a context; see the module docs.
pub(crate) struct AsyncWait<'a, F> {
    ctx: &'a Context,
    /// Polled at least once.
    started: bool,
    /// `waiting` is initialised (from the first poll that had to wait
    /// until the future is dropped).
    has_waiting: bool,
    waiting: MaybeUninit<Waiting<F>>,
}

/// A wait in progress: the core future and its links to the context.
struct Waiting<F> {
    /// Declared before `inner`: unlinked before the node goes.
    watch: Watch,
    inner: F,
}

impl<'a, F: NodeFuture> AsyncWait<'a, F> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        Self {
            ctx,
            started: false,
            has_waiting: false,
            waiting: MaybeUninit::uninit(),
        }
    }

    /// Polls the wait. On the first poll a cancelled context ends it, then
    /// `start` takes what is free or says what to wait with; `finish` turns
    /// the core future's output into the call's result.
    ///
    /// # Safety
    /// `self` is pinned (it is a field of a pinned future that never moves
    /// it), and the same `start` and `finish` are given on every poll.
    #[inline]
    pub(crate) unsafe fn poll<T>(
        &mut self,
        cx: &mut TaskContext<'_>,
        start: impl FnOnce() -> Start<T, F>,
        finish: impl FnOnce(F::Output, &Context) -> Result<T, Error>,
    ) -> Poll<Result<T, Error>> {
        if !self.started {
            self.started = true;
            if let Some(err) = self.ctx.cancelled() {
                return Poll::Ready(Err(err));
            }
            match start() {
                Start::Ready(result) => return Poll::Ready(result),
                Start::Wait(inner) => {
                    if let Err(err) = self.make(inner) {
                        return Poll::Ready(Err(err));
                    }
                }
            }
        }
        assert!(
            self.has_waiting,
            "concur: a future polled after it completed"
        );
        // SAFETY: initialised (`has_waiting`), and pinned with the future.
        let inner = unsafe { Pin::new_unchecked(&mut self.waiting.assume_init_mut().inner) };
        let out = ready!(inner.poll(cx));
        Poll::Ready(finish(out, self.ctx))
    }

    /// [`poll`](Self::poll) for a wait that ends with nothing to hand
    /// over (a lock taken, a count at zero): `free` is the fast path, and
    /// `make` the core future to wait with when it fails.
    ///
    /// # Safety
    /// As for [`poll`](Self::poll).
    #[inline]
    pub(crate) unsafe fn poll_unit(
        &mut self,
        cx: &mut TaskContext<'_>,
        free: impl FnOnce() -> bool,
        make: impl FnOnce() -> F,
    ) -> Poll<Result<(), Error>>
    where
        F: Future<Output = Result<(), Interrupted>>,
    {
        // SAFETY: the caller's obligations.
        unsafe {
            self.poll(
                cx,
                || match free() {
                    true => Start::Ready(Ok(())),
                    false => Start::Wait(make()),
                },
                |out, ctx| out.map_err(|_| ctx.interrupted()),
            )
        }
    }

    /// Makes the wait in place and links it to the context; `Err` if the
    /// context ended first (then the wait is unmade, so a poll after this
    /// `Ready` is caught as one).
    #[cold]
    fn make(&mut self, inner: F) -> Result<(), Error> {
        let waiting = self.waiting.write(Waiting {
            watch: Watch::default(),
            inner,
        });
        self.has_waiting = true;
        // SAFETY: both live in this pinned future from now until its drop
        // (which drops the watch first), or are leaked together with it.
        let armed = unsafe {
            let node = Pin::new_unchecked(&waiting.inner).waiter();
            Pin::new_unchecked(&mut waiting.watch).arm(self.ctx, node)
        };
        if armed.is_err() {
            // SAFETY: initialised just above, and dropped once, here.
            unsafe { self.waiting.assume_init_drop() };
            self.has_waiting = false;
        }
        armed
    }
}

impl<F> Drop for AsyncWait<'_, F> {
    fn drop(&mut self) {
        if self.has_waiting {
            // SAFETY: initialised, and dropped once, here, in place.
            unsafe { self.waiting.assume_init_drop() };
        }
    }
}

impl<F> std::fmt::Debug for AsyncWait<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncWait")
            .field("started", &self.started)
            .field("waiting", &self.has_waiting)
            .finish_non_exhaustive()
    }
}
