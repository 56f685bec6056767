//! The condvar's wait for futures: [`CondvarFuture`], whose node waits in
//! the same FIFO list as the threads' and is notified by the same
//! `notify_one` and `notify_all` (a future's node stays out of a
//! `notify_all` chain: its waker is woken after the list lock instead).
//! Once notified (or interrupted) it takes the mutex again as a future
//! ([`LockFuture`]), without blocking its executor.

use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};

use super::RawCondvar;
use crate::mutex::{LockFuture, RawMutex};
use crate::park::Park;
use crate::sync::OnUnwind;
use crate::waiter::{Interrupted, Waiter};

/// Where a [`CondvarFuture`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not polled: the caller still holds the mutex.
    Start,
    /// Linked in the condvar's list, the mutex released.
    Linked,
    /// Out of the list with this outcome, taking the mutex again.
    Relocking(Result<(), Interrupted>),
    /// Returned `Ready`, the mutex held again.
    Finished,
}

/// The future of [`RawCondvar::wait_async`]: releases the mutex, waits to
/// be notified (or for its [`node`](Self::node) to be interrupted), takes
/// the mutex again, and resolves to what [`RawCondvar::wait`] returns.
///
/// Dropped while it waits, it leaves the list, and a notification it had
/// already taken goes on to the next waiter (`notify_one`), so none is
/// lost; the mutex is then not held.
///
/// ```
/// use core::future::Future;
/// use core::pin::pin;
/// use core::task::{Context, Poll, Waker};
/// use concur_core::{RawCondvar, RawMutex};
///
/// let (mutex, ready): (RawMutex, RawCondvar) = (RawMutex::new(), RawCondvar::new());
/// let mut cx = Context::from_waker(Waker::noop());
/// mutex.lock();
/// // SAFETY: held, and handed to the future, which releases it while it
/// // waits and holds it again when it resolves.
/// let mut wait = pin!(unsafe { ready.wait_async(&mutex) });
/// assert!(wait.as_mut().poll(&mut cx).is_pending());
/// assert!(!mutex.is_locked(), "released while it waits");
/// assert_eq!(ready.notify_one(), true);
/// assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
/// // SAFETY: the future took it again for us.
/// unsafe { mutex.unlock() };
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct CondvarFuture<'a, P: Park> {
    condvar: &'a RawCondvar<P>,
    mutex: &'a RawMutex<P>,
    phase: Phase,
    node: Waiter<P>,
    relock: LockFuture<'a, P>,
}

impl<P: Park> RawCondvar<P> {
    /// [`wait`](Self::wait) as a future: see [`CondvarFuture`].
    ///
    /// # Safety
    /// The caller holds `mutex` when it first polls the future, and hands
    /// it over with that poll: the future releases it while it waits, and
    /// holds it again for the caller when it resolves. A future dropped
    /// after its first poll and before it resolves leaves the mutex
    /// unlocked; one dropped before its first poll leaves it as it was.
    ///
    /// # Panics
    /// On its first poll, if others wait on this condvar with a different
    /// mutex (the mutex is still held then).
    pub unsafe fn wait_async<'a>(&'a self, mutex: &'a RawMutex<P>) -> CondvarFuture<'a, P> {
        // SAFETY: the caller's obligations, passed on.
        unsafe { CondvarFuture::new(self, mutex, Waiter::new()) }
    }
}

impl<'a, P: Park> CondvarFuture<'a, P> {
    /// A future that waits on `condvar` with `node`, releasing and taking
    /// again `mutex`.
    ///
    /// # Safety
    /// As for [`RawCondvar::wait_async`].
    pub unsafe fn new(condvar: &'a RawCondvar<P>, mutex: &'a RawMutex<P>, node: Waiter<P>) -> Self {
        Self {
            condvar,
            mutex,
            phase: Phase::Start,
            node,
            relock: mutex.lock_async(),
        }
    }

    /// The node the future waits with, to interrupt it.
    pub fn node(self: Pin<&Self>) -> Pin<&Waiter<P>> {
        // SAFETY: a field of a pinned struct, never moved out.
        unsafe { self.map_unchecked(|this| &this.node) }
    }

    /// Makes a resolved future wait again, with the same node (so an
    /// interrupter holding the node reaches every round of a loop of
    /// waits, as a barrier's).
    ///
    /// # Safety
    /// The future has resolved, and the caller holds the mutex, which it
    /// hands over again with the next poll (as for [`new`](Self::new)).
    ///
    /// # Panics
    /// If the future has not resolved.
    pub unsafe fn rearm(self: Pin<&mut Self>) {
        // SAFETY: nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        assert_eq!(
            this.phase,
            Phase::Finished,
            "concur-core: CondvarFuture rearmed while it waits"
        );
        this.phase = Phase::Start;
        this.relock.rearm();
    }

    /// The first poll: links the node and releases the mutex, or (an
    /// interrupted node) ends at once with the mutex still held.
    fn start(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Interrupted>> {
        if self.node.begin_task().is_err() {
            self.phase = Phase::Finished;
            return Poll::Ready(Err(Interrupted));
        }
        // A waker's clone, or the two-mutex check, that unwinds must not
        // leave the node claimed (its drop would abort).
        let claimed = OnUnwind::new(|| self.node.end_task());
        // Registered before the node is linked: a notification that comes
        // at once finds the waker. (`false`: interrupted since `begin_task`.)
        if !self.node.register(cx.waker()) {
            claimed.disarm();
            self.node.end_task();
            self.phase = Phase::Finished;
            return Poll::Ready(Err(Interrupted));
        }
        // SAFETY: the node is pinned in this future, claimed above, and
        // left (`finish_wait`) before the future goes.
        unsafe { self.condvar.link(&self.node, self.mutex) };
        claimed.disarm();
        self.phase = Phase::Linked;
        // SAFETY: the caller held the mutex until this first poll (see
        // `wait_async`); it is ours to release now.
        unsafe { self.mutex.unlock() };
        Poll::Pending
    }
}

impl<P: Park> Future for CondvarFuture<'_, P> {
    type Output = Result<(), Interrupted>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the node and the relock future stay
        // pinned in this one.
        let this = unsafe { self.get_unchecked_mut() };
        loop {
            match this.phase {
                Phase::Start => return this.start(cx),
                Phase::Linked => {
                    if this.node.register(cx.waker()) {
                        return Poll::Pending;
                    }
                    // Notified or interrupted: a notifier may still be
                    // taking the waker out; then leave or read the outcome.
                    this.node.settle_visit();
                    let outcome = this.condvar.finish_wait(&this.node).map(|_| ());
                    this.node.end_task();
                    this.phase = Phase::Relocking(outcome);
                }
                Phase::Relocking(outcome) => {
                    // SAFETY: pinned in this pinned future.
                    let relock = unsafe { Pin::new_unchecked(&mut this.relock) };
                    // Its node is never interrupted: it ends with the lock.
                    let _ = ready!(relock.poll(cx));
                    this.phase = Phase::Finished;
                    return Poll::Ready(outcome);
                }
                Phase::Finished => panic!("concur-core: CondvarFuture polled after it completed"),
            }
        }
    }
}

impl<P: Park> Drop for CondvarFuture<'_, P> {
    fn drop(&mut self) {
        let notified = match self.phase {
            Phase::Start | Phase::Finished | Phase::Relocking(Err(_)) => return,
            Phase::Relocking(Ok(())) => true,
            Phase::Linked => {
                // Leave as an interrupted waiter leaves.
                self.node.interrupt_own();
                self.node.settle_visit();
                let outcome = self.condvar.finish_wait(&self.node);
                self.node.end_task();
                outcome.is_ok()
            }
        };
        self.phase = Phase::Finished;
        // A notification this wait took goes to the next waiter.
        if notified {
            self.condvar.notify_one();
        }
    }
}
