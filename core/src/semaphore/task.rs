//! The semaphore's wait for futures: [`AcquireFuture`], whose node lives
//! inside the future and waits in the same FIFO queue as the threads'
//! nodes, with the same grants, partial grants and head-of-line rule.
//!
//! A pending future is a queued node whose owner is a task: it registers
//! the task's waker in the node on every poll (the `waiter` module's "Waits
//! made by futures"), and a granter, a `close` or an interrupter takes that
//! waker out and wakes it. Dropping the future while it waits is an
//! interrupt that its own drop handles at once: it leaves the queue through
//! [`complete`](RawSemaphore::complete), as an interrupted thread leaves, so
//! a partial grant goes on to the waiters behind and a full grant that came
//! too late is released. Nothing in the node points at the semaphore, so a
//! future that is leaked (`mem::forget` of a `Box::pin`) while queued keeps
//! its node linked in leaked memory: the semaphore may still grant to it
//! (those permits are lost, as with a forgotten permit), and nothing
//! follows a dangling pointer.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::park::Park;
use crate::sync::OnUnwind;
use crate::waiter::Waiter;

use super::{AcquireError, RawSemaphore};

/// Where an [`AcquireFuture`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not polled yet.
    Start,
    /// Its node is queued.
    Queued,
    /// It returned `Ready`.
    Finished,
}

/// What the first poll of an [`AcquireFuture`] did.
enum Started {
    /// The call is over (free permits, or an error) without waiting.
    Ended(Result<(), AcquireError>),
    /// Queued with the task's waker registered.
    Waiting,
    /// Queued, but interrupted before the waker was registered: the
    /// outcome must be read now.
    Look,
}

/// The future of [`RawSemaphore::acquire_async`]: resolves to `Ok(())` once
/// `n` permits are the caller's, like [`RawSemaphore::acquire`] with a
/// thread.
///
/// It holds its waiter node; [`node`](Self::node) gives it out so that a
/// context or a timer can [`interrupt`](Waiter::interrupt) the wait (the
/// future then resolves to [`AcquireError::Interrupted`], having given back
/// anything it was granted). Dropping it while it waits is cancel-safe:
/// nothing it was granted is lost.
///
/// ```
/// use core::future::Future;
/// use core::pin::pin;
/// use core::task::{Context, Poll, Waker};
/// use concur_core::RawSemaphore;
///
/// let sem: RawSemaphore = RawSemaphore::new(2);
/// sem.try_acquire(2).unwrap();
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut wait = pin!(sem.acquire_async(2));
/// assert!(wait.as_mut().poll(&mut cx).is_pending()); // queued
/// sem.release(2); // granted to the queued future, which is woken
/// assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
/// sem.release(2);
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct AcquireFuture<'a, P: Park> {
    sem: &'a RawSemaphore<P>,
    n: u64,
    stage: Stage,
    node: Waiter<P>,
}

impl<P: Park> RawSemaphore<P> {
    /// Acquires `n` permits as a future: see [`AcquireFuture`]. Newcomers
    /// queue behind the waiting threads and futures alike.
    pub fn acquire_async(&self, n: u64) -> AcquireFuture<'_, P> {
        AcquireFuture::new(self, n, Waiter::new())
    }
}

impl<'a, P: Park> AcquireFuture<'a, P> {
    /// A future that acquires `n` permits of `sem`, waiting with `node`
    /// (made with [`Waiter::new`], or with a deadline, which a future's
    /// wait does not see: whoever owns the deadline interrupts the node).
    pub fn new(sem: &'a RawSemaphore<P>, n: u64, node: Waiter<P>) -> Self {
        Self {
            sem,
            n,
            stage: Stage::Start,
            node,
        }
    }

    /// The node the future waits with, to interrupt it.
    pub fn node(self: Pin<&Self>) -> Pin<&Waiter<P>> {
        // SAFETY: a field of a pinned struct that we never move out of.
        unsafe { self.map_unchecked(|this| &this.node) }
    }

    /// The permits asked for.
    pub fn permits(&self) -> u64 {
        self.n
    }

    /// The first poll: takes free permits, or links the node.
    fn start(&mut self, cx: &mut Context<'_>) -> Started {
        if self.sem.take_now(self.n) {
            return Started::Ended(Ok(()));
        }
        if self.node.begin_task().is_err() {
            return Started::Ended(Err(AcquireError::Interrupted));
        }
        // Registered before the node is linked: a grant that comes at
        // once finds the waker. (`false`: interrupted since `begin_task`,
        // by an interrupter that found no waker to wake.)
        let registered = {
            // A waker's clone that unwinds must not leave the node claimed
            // (its drop would abort).
            let claimed = OnUnwind::new(|| self.node.end_task());
            let registered = self.node.register(cx.waker());
            claimed.disarm();
            registered
        };
        // SAFETY: the node is pinned (inside this pinned future), claimed
        // above, and stays alive and claimed until `complete` ran (in
        // `poll` or in `drop`).
        match unsafe { self.sem.enqueue(&self.node, self.n) } {
            Ok(true) => {
                self.stage = Stage::Queued;
                // Registered: whoever ends the wait wakes this task. If
                // not, look at the outcome now.
                if registered {
                    Started::Waiting
                } else {
                    Started::Look
                }
            }
            Ok(false) => {
                self.node.end_task();
                Started::Ended(Ok(()))
            }
            Err(err) => {
                self.node.end_task();
                Started::Ended(Err(err))
            }
        }
    }

    /// Polls a queued node: registers the waker, or ends the wait.
    fn poll_queued(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), AcquireError>> {
        while !self.node.register(cx.waker()) {
            // Done or interrupted: a granter may still be taking the waker
            // out of the node; it must be done before the node is queued
            // again (a barging offer that others took) or let go.
            self.node.settle_visit();
            // SAFETY: queued by `start` (or again by the last `complete`)
            // and not completed since.
            if let Some(result) = unsafe { self.sem.complete(&self.node, self.n) } {
                self.node.end_task();
                self.stage = Stage::Finished;
                return Poll::Ready(result);
            }
        }
        Poll::Pending
    }
}

impl<P: Park> Future for AcquireFuture<'_, P> {
    type Output = Result<(), AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out of the future; the node stays where
        // it is for as long as it is linked.
        let this = unsafe { self.get_unchecked_mut() };
        match this.stage {
            Stage::Start => match this.start(cx) {
                Started::Ended(result) => {
                    this.stage = Stage::Finished;
                    Poll::Ready(result)
                }
                Started::Waiting => Poll::Pending,
                Started::Look => this.poll_queued(cx),
            },
            Stage::Queued => this.poll_queued(cx),
            Stage::Finished => panic!("concur-core: AcquireFuture polled after it completed"),
        }
    }
}

impl<P: Park> Drop for AcquireFuture<'_, P> {
    fn drop(&mut self) {
        if self.stage != Stage::Queued {
            return;
        }
        // Dropped while queued: leave as an interrupted waiter leaves.
        self.node.interrupt_own();
        self.node.settle_visit();
        // SAFETY: queued and not completed since; interrupted, so
        // `complete` does not queue it again, and gives back a grant.
        let left = unsafe { self.sem.complete(&self.node, self.n) };
        debug_assert!(
            matches!(left, Some(Err(_))),
            "an interrupted acquire kept permits"
        );
        self.node.end_task();
    }
}
