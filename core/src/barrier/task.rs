//! The barrier's wait for futures: [`BarrierFuture`], which arrives as a
//! thread does and waits on the barrier's condvar as a task.

use core::future::Future;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::{RawBarrier, Round};
use crate::condvar::CondvarFuture;
use crate::park::Park;
use crate::waiter::{Interrupted, Waiter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not arrived yet.
    Start,
    /// Arrived in the round of this generation, waiting on the condvar.
    Waiting(u64),
    /// Resolved.
    Finished,
}

/// The future of [`RawBarrier::wait_async`]: resolves to `Ok(true)` for
/// the round's leader, `Ok(false)` for the others, or `Err(Interrupted)`
/// once its [`node`](Self::node) is interrupted before the round
/// completed (the future then no longer counts as arrived). Dropped while
/// it waits, it takes its arrival back, as an interrupted thread does.
///
/// The barrier's internal mutex is held for a few instructions at a time
/// (never across a wait); a future takes it at arrival, and when dropped
/// while it waits, without awaiting it.
///
/// ```
/// use core::future::Future;
/// use core::pin::pin;
/// use core::task::{Context, Poll, Waker};
/// use concur_core::RawBarrier;
///
/// let barrier: RawBarrier = RawBarrier::new(2);
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut first = pin!(barrier.wait_async());
/// assert!(first.as_mut().poll(&mut cx).is_pending()); // one of two
/// let mut second = pin!(barrier.wait_async());
/// assert_eq!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(true))); // the leader
/// assert_eq!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(false)));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct BarrierFuture<'a, P: Park> {
    barrier: &'a RawBarrier<P>,
    phase: Phase,
    /// This future holds the barrier's mutex now (between its arrival and
    /// the condvar wait's release of it, and after the wait took it back).
    locked: bool,
    /// Dropped by hand, before the arrival is taken back (see `drop`).
    wait: ManuallyDrop<CondvarFuture<'a, P>>,
}

impl<P: Park> RawBarrier<P> {
    /// [`wait`](Self::wait) as a future: see [`BarrierFuture`].
    pub fn wait_async(&self) -> BarrierFuture<'_, P> {
        BarrierFuture::new(self, Waiter::new())
    }

    /// Runs `f` on the round; the barrier's mutex is held by the caller.
    fn with_round<R>(&self, f: impl FnOnce(&mut Round) -> R) -> R {
        // SAFETY: the caller holds the mutex, which guards the round.
        self.round.with_mut(|round| f(unsafe { &mut *round }))
    }

    fn unlock(&self) {
        // SAFETY: every caller holds the mutex (`BarrierFuture`).
        unsafe { self.mutex.unlock() };
    }
}

impl<'a, P: Park> BarrierFuture<'a, P> {
    /// A future that waits at `barrier` with `node`.
    pub fn new(barrier: &'a RawBarrier<P>, node: Waiter<P>) -> Self {
        Self {
            barrier,
            phase: Phase::Start,
            locked: false,
            // SAFETY: polled (from its start) only with the mutex held and
            // handed over: see `poll`.
            wait: ManuallyDrop::new(unsafe {
                CondvarFuture::new(&barrier.all_here, &barrier.mutex, node)
            }),
        }
    }

    /// The node the future waits with, to interrupt it.
    pub fn node(self: Pin<&Self>) -> Pin<&Waiter<P>> {
        // SAFETY: a field of a pinned struct, never moved out.
        unsafe { self.map_unchecked(|this| &*this.wait) }.node()
    }
}

impl<P: Park> Future for BarrierFuture<'_, P> {
    type Output = Result<bool, Interrupted>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the condvar wait stays pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let barrier = this.barrier;
        loop {
            match this.phase {
                Phase::Start => {
                    barrier.mutex.lock();
                    this.locked = true;
                    let (generation, leader) = barrier.with_round(|r| {
                        r.arrived += 1;
                        let generation = r.generation;
                        let leader = r.arrived >= barrier.n;
                        if leader {
                            r.arrived = 0;
                            r.generation = r.generation.wrapping_add(1);
                        }
                        (generation, leader)
                    });
                    if leader {
                        // Finished first: a waker that panics in the
                        // notification leaves the unlock to `drop`.
                        this.phase = Phase::Finished;
                        barrier.all_here.notify_all();
                        barrier.unlock();
                        this.locked = false;
                        return Poll::Ready(Ok(true));
                    }
                    // The mutex is held: the condvar wait's first poll
                    // (below) takes it over.
                    this.phase = Phase::Waiting(generation);
                }
                Phase::Waiting(generation) => {
                    // SAFETY: pinned inside this pinned future.
                    let wait = unsafe { Pin::new_unchecked(&mut *this.wait) };
                    let Poll::Ready(outcome) = wait.poll(cx) else {
                        // Linked: the wait released the mutex.
                        this.locked = false;
                        return Poll::Pending;
                    };
                    // The mutex is held again (or was never released).
                    this.locked = true;
                    let done = barrier.with_round(|r| {
                        let done = r.generation != generation;
                        if !done && outcome.is_err() {
                            r.arrived -= 1;
                        }
                        done
                    });
                    if done || outcome.is_err() {
                        barrier.unlock();
                        this.locked = false;
                        this.phase = Phase::Finished;
                        // A completed round counts this future even if it
                        // was interrupted meanwhile.
                        return Poll::Ready(if done { Ok(false) } else { Err(Interrupted) });
                    }
                    // Woken, but the round goes on: wait again, handing
                    // the mutex over again.
                    // SAFETY: resolved, and the mutex is held.
                    unsafe { Pin::new_unchecked(&mut *this.wait).rearm() };
                }
                Phase::Finished => panic!("concur-core: BarrierFuture polled after it completed"),
            }
        }
    }
}

impl<P: Park> Drop for BarrierFuture<'_, P> {
    fn drop(&mut self) {
        // The condvar wait first: it leaves the list (the mutex is not held
        // while it waits, and not taken by its drop).
        // SAFETY: dropped once, here, in place; never used after.
        unsafe { ManuallyDrop::drop(&mut self.wait) };
        if let Phase::Waiting(generation) = self.phase {
            // Dropped while it waited: take the arrival back, unless the
            // round completed (then it counted this future as arrived).
            // (Still holding the mutex only if a poll unwound before the
            // wait released it.)
            if !self.locked {
                self.barrier.mutex.lock();
                self.locked = true;
            }
            self.barrier.with_round(|r| {
                if r.generation == generation {
                    r.arrived -= 1;
                }
            });
        }
        // Held after a poll that unwound, or just above.
        if self.locked {
            self.barrier.unlock();
        }
    }
}
