//! The semaphore's queue: linking a waiter, completing its wait (granted,
//! closed, or leaving when interrupted or timed out), and the
//! grant routine every release and every leaver goes through, all under the
//! list lock. See the [parent module](super) for the invariants.

use crate::list::WaitList;
use crate::locked::{self, WakeBatch};
use crate::park::Park;
use crate::sync::{abort, OnUnwind, Ordering};
use crate::waiter::{Outcome, Waiter, DONE, INTERRUPTED};

use super::{AcquireError, RawSemaphore, MAX_PERMITS, SLOW};

/// The state behind the list lock.
#[derive(Debug)]
pub(super) struct Queue<P: Park> {
    /// Requests that fit the capacity, in arrival order: the FIFO queue.
    pub(super) list: WaitList<P>,
    /// Requests above the capacity, in arrival order; they hold nothing.
    pub(super) oversized: WaitList<P>,
    /// Permits granted to queued nodes that are not complete yet.
    pub(super) pending: u64,
    /// The ticket the next linked wait gets (arrival order).
    pub(super) next_ticket: u64,
}

impl<P: Park> Queue<P> {
    pub(super) const fn new() -> Self {
        Self {
            list: WaitList::new(),
            oversized: WaitList::new(),
            pending: 0,
            next_ticket: 0,
        }
    }
}

impl<P: Park> RawSemaphore<P> {
    /// Takes `n` permits if the queue is empty and they are there; otherwise
    /// links `node` (claimed by the caller) at the tail: of the queue, taking
    /// what is available, or, if `n` is above the capacity, of the oversized
    /// list, taking nothing. `Ok(true)`: linked; the owner must wait for
    /// `DONE` or `INTERRUPTED` on the node word and then call
    /// [`complete`](Self::complete). `Err`: `Closed`, or `TooLarge` above
    /// [`MAX_PERMITS`] only; nothing was taken or linked.
    ///
    /// # Safety
    /// `node` is pinned, claimed for this wait (`begin_queued`) and not
    /// linked, and it stays alive and claimed until `complete` returns.
    pub(crate) unsafe fn enqueue(&self, node: &Waiter<P>, n: u64) -> Result<bool, AcquireError> {
        if n > MAX_PERMITS {
            return Err(AcquireError::TooLarge {
                requested: n,
                capacity: self.capacity(),
            });
        }
        let node_ptr: *const Waiter<P> = node;
        // SAFETY: the caller's obligations above; we hold the lock.
        self.locked(|queue, _| unsafe {
            if self.closed.load(Ordering::Relaxed) {
                return Err(AcquireError::Closed);
            }
            let ticket = queue.next_ticket;
            queue.next_ticket += 1;
            // Above the capacity: wait aside, holding nothing and holding up
            // nobody, until `add_permits` makes the request fit. Otherwise
            // take what is available and mark the queue non-empty in one
            // step.
            let oversized = self.mark_oversized_locked(n);
            let taken = if oversized {
                0
            } else {
                match self.take_or_mark_queued_locked(n) {
                    Some(taken) => taken,
                    None => return Ok(false),
                }
            };
            node.queued_mut(|q| {
                q.requested = n;
                q.need = n - taken;
                q.outcome = Outcome::Pending;
                q.ticket = ticket;
                q.passes = 0;
            });
            queue.pending += taken;
            self.link_locked(queue, node_ptr, oversized);
            Ok(true)
        })
    }

    /// Takes `n` permits if the queue is empty and they are available
    /// (`None`); otherwise takes what is available and sets `SLOW` in the
    /// same step, returning what it took. In barging mode: takes `n` if
    /// available, queue or not; otherwise sets `SLOW` and takes nothing
    /// (queued waits hold partial grants only from hand-offs).
    ///
    /// Called under the list lock (`SLOW` is set only under it).
    fn take_or_mark_queued_locked(&self, n: u64) -> Option<u64> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if self.barging {
                let covered = state & !SLOW >= n;
                let new = if covered { state - n } else { state | SLOW };
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return (!covered).then_some(0),
                    Err(now) => state = now,
                }
                continue;
            }
            if state & SLOW == 0 && state >= n {
                match self.state.compare_exchange_weak(
                    state,
                    state - n,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return None,
                    Err(now) => state = now,
                }
                continue;
            }
            match self
                .state
                .compare_exchange_weak(state, SLOW, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(state & !SLOW),
                Err(now) => state = now,
            }
        }
    }

    /// Ends a queued wait whose node word has `DONE` or `INTERRUPTED` set:
    /// reads the outcome, or leaves the queue if interrupted first. `None`:
    /// a barging offer that others took first; the node is queued again
    /// (its word's `DONE` cleared) and the owner waits as before. Never
    /// `None` for an interrupted node.
    ///
    /// # Safety
    /// `node` was queued on this semaphore by [`enqueue`](Self::enqueue) (or
    /// queued again by this function) and has not been completed since.
    pub(crate) unsafe fn complete(
        &self,
        node: &Waiter<P>,
        n: u64,
    ) -> Option<Result<(), AcquireError>> {
        let node_ptr: *const Waiter<P> = node;
        if node.word().load(Ordering::Acquire) & DONE == 0 {
            // Interrupted while queued: leave, handing on what we were given.
            // Our node is still linked while we wait for the list lock; if
            // the parker unwound in that wait, no clean-up could take the
            // lock to unlink it, and the frame would end with the queue
            // pointing into it. Abort instead.
            let linked = OnUnwind::new(|| {
                abort("concur-core: a parker unwound while a queued waiter took the list lock to leave")
            });
            // SAFETY: lock held; our node is linked here or already unlinked
            // by a granter (which then also set DONE).
            let left = self.locked(|queue, wake| unsafe {
                // Only the wait for the lock can strand the node; the wakes
                // after it may unwind (a waker's panic) and the node is
                // out of the queue by then.
                linked.disarm();
                if node.word().load(Ordering::Acquire) & DONE != 0 {
                    return false;
                }
                let granted = node.queued_mut(|q| {
                    // Left for good: a second `complete` (after a waker's
                    // panic unwound through this one) reads this outcome
                    // and gives nothing back twice.
                    q.outcome = Outcome::Interrupted;
                    q.requested - q.need
                });
                self.unlink_locked(queue, node_ptr);
                node.word().fetch_or(DONE, Ordering::Relaxed);
                queue.pending -= granted;
                self.grant_locked(queue, wake, granted);
                true
            });
            if left {
                return Some(Err(AcquireError::Interrupted));
            }
        }

        // DONE: the outcome is final and no lock holder touches the node now.
        // SAFETY: unlinked, and the Acquire load of DONE orders the granter's
        // writes before our read.
        let outcome = unsafe { node.queued_mut(|q| q.outcome) };
        Some(match outcome {
            Outcome::Granted if node.is_interrupted() => {
                // Consumed before the release, whose wakes may unwind: a
                // second `complete` then releases nothing.
                // SAFETY: as above.
                unsafe { node.queued_mut(|q| q.outcome = Outcome::Interrupted) };
                self.release(n);
                Err(AcquireError::Interrupted)
            }
            Outcome::Granted => Ok(()),
            Outcome::Closed => Err(AcquireError::Closed),
            Outcome::Interrupted => Err(AcquireError::Interrupted),
            // SAFETY: unlinked with `Retry`; we are its owner.
            Outcome::Retry => return unsafe { self.retry(node, n) },
            Outcome::Pending => unreachable!("concur-core: woken waiter without an outcome"),
        })
    }

    /// Runs `f` on the queue with the list lock held, then, after unlocking,
    /// wakes the nodes `f` finished.
    pub(super) fn locked<R>(&self, f: impl FnOnce(&mut Queue<P>, &mut WakeBatch<P>) -> R) -> R {
        // SAFETY: the queue is only reached through this function.
        unsafe { locked::with_lock(&self.lock, &self.queue, f) }
    }

    /// Gives `permits` to the queue, head first, then puts what is left into
    /// `state`. Also unlinks interrupted nodes found at the head, taking back
    /// their partial grants.
    ///
    /// # Safety
    /// The list lock is held and `queue` is the queue behind it.
    pub(super) unsafe fn grant_locked(
        &self,
        queue: &mut Queue<P>,
        wake: &mut WakeBatch<P>,
        mut permits: u64,
    ) {
        if self.barging && !queue.list.is_empty() {
            // A hand-off in barging mode: the permits left available by
            // barging releases go to the queue too (FIFO).
            permits += self.state.fetch_and(SLOW, Ordering::AcqRel) & !SLOW;
        }
        while let Some(head) = queue.list.head() {
            // SAFETY: linked nodes are alive and their fields are ours under the lock.
            let node = unsafe { &*head };
            if node.word().load(Ordering::Acquire) & INTERRUPTED != 0 {
                // SAFETY: as above.
                let granted = unsafe { node.queued_mut(|q| q.requested - q.need) };
                permits += granted;
                queue.pending -= granted;
                // SAFETY: `head` is linked into this list.
                unsafe { self.finish(queue, head, Outcome::Interrupted, wake) };
                continue;
            }
            // With no permits left this still completes a head that needs
            // none (a zero-permit request whose turn has come).
            // SAFETY: as above.
            let done = unsafe {
                node.queued_mut(|q| {
                    let take = permits.min(q.need);
                    q.need -= take;
                    permits -= take;
                    queue.pending += take;
                    if q.need == 0 {
                        queue.pending -= q.requested;
                        true
                    } else {
                        false
                    }
                })
            };
            if !done {
                break;
            }
            // SAFETY: `head` is linked into this list.
            unsafe { self.finish(queue, head, Outcome::Granted, wake) };
        }
        // SAFETY: lock held.
        unsafe { self.settle_locked(queue, permits) };
    }

    /// Unlinks `node` (from either list), records its outcome and marks it
    /// done.
    ///
    /// # Safety
    /// The list lock is held and `node` is linked into `queue`.
    pub(super) unsafe fn finish(
        &self,
        queue: &mut Queue<P>,
        node: *const Waiter<P>,
        outcome: Outcome,
        wake: &mut WakeBatch<P>,
    ) {
        // SAFETY: the caller's obligations; once `done` marks it, the
        // owner may return and free the node, so nothing touches it after.
        unsafe {
            self.unlink_locked(queue, node);
            (*node).queued_mut(|q| q.outcome = outcome);
            wake.done(node);
        }
    }

    /// Puts leftover permits into `state`, clearing `SLOW` if the queue is
    /// empty and the semaphore open.
    ///
    /// # Safety
    /// The list lock is held.
    pub(super) unsafe fn settle_locked(&self, queue: &Queue<P>, permits: u64) {
        let slow = !queue.list.is_empty() || self.closed.load(Ordering::Relaxed);
        // Only barging mode leaves permits available beside a queue.
        debug_assert!(queue.list.is_empty() || permits == 0 || self.barging);
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let available = (state & !SLOW) + permits;
            let new = if slow { available | SLOW } else { available };
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }
}
