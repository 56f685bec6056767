//! Requests above the capacity, and the bookkeeping of both lists.
//!
//! A request for more permits than exist waits on the `oversized` list,
//! holding nothing, so it does not hold up the queue behind it (Go's rule:
//! a request that cannot be satisfied does not block others). When
//! `add_permits` makes it fit, it moves into the queue at the place its
//! arrival gives it (every linked wait has a ticket), and when `retire`
//! shrinks the capacity below a queued request, that request moves the other
//! way, handing on its partial grant. See the [parent module](super) for the
//! `OVERSIZED` bit of the capacity word that tells `add_permits` to look.

use crate::park::Park;
use crate::sync::Ordering;
use crate::waiter::{Outcome, Waiter, INTERRUPTED};

use super::queue::Queue;
use super::{RawSemaphore, OVERSIZED, SLOW};
use crate::locked::{self, WakeBatch};

impl<P: Park> RawSemaphore<P> {
    /// Whether `n` is above the capacity; if so, sets `OVERSIZED` in the
    /// same read-modify-write, so an `add_permits` that grows the capacity
    /// later is sure to see the bit and come to promote.
    ///
    /// Called under the list lock (the bit is cleared only under it).
    pub(super) fn mark_oversized_locked(&self, n: u64) -> bool {
        let mut word = self.capacity.load(Ordering::Acquire);
        loop {
            if n <= word & !OVERSIZED {
                return false;
            }
            if word & OVERSIZED != 0 {
                return true;
            }
            match self.capacity.compare_exchange_weak(
                word,
                word | OVERSIZED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => word = now,
            }
        }
    }

    /// Links `node`, whose ticket is set, into the queue or the oversized
    /// list, at its arrival place, and counts it.
    ///
    /// # Safety
    /// The list lock is held; `node` is pinned, claimed, not linked, and
    /// stays alive until it is unlinked.
    pub(super) unsafe fn link_locked(
        &self,
        queue: &mut Queue<P>,
        node: *const Waiter<P>,
        oversized: bool,
    ) {
        // SAFETY: the caller's obligations.
        unsafe {
            (*node).queued_mut(|q| q.oversized = oversized);
            let list = if oversized {
                &mut queue.oversized
            } else {
                &mut queue.list
            };
            let ticket = (*node).queued_mut(|q| q.ticket);
            // Walk back from the tail past later arrivals: a fresh wait stops
            // at once, a moved one finds its place.
            let mut anchor = list.tail();
            while !anchor.is_null() && (*anchor).queued_mut(|q| q.ticket) > ticket {
                anchor = list.prev(anchor);
            }
            list.insert_after(anchor, node);
        }
        locked::count(&self.waiters, 1);
    }

    /// Unlinks `node` from whichever list holds it and uncounts it; clears
    /// `OVERSIZED` when the oversized list empties.
    ///
    /// # Safety
    /// The list lock is held and `node` is linked into `queue`.
    pub(super) unsafe fn unlink_locked(&self, queue: &mut Queue<P>, node: *const Waiter<P>) {
        // SAFETY: the caller's obligations.
        let oversized = unsafe { (*node).queued_mut(|q| q.oversized) };
        if oversized {
            // SAFETY: linked into this list.
            unsafe { queue.oversized.remove(node) };
            if queue.oversized.is_empty() {
                self.capacity.fetch_and(!OVERSIZED, Ordering::AcqRel);
            }
        } else {
            // SAFETY: linked into this list.
            unsafe { queue.list.remove(node) };
        }
        locked::count(&self.waiters, -1);
    }

    /// Takes back the partial grant of a queued `node` (it needs its whole
    /// request again) and returns it, for the caller to pass on.
    ///
    /// # Safety
    /// The list lock is held and `node` is linked into the queue.
    pub(super) unsafe fn take_back_locked(queue: &mut Queue<P>, node: *const Waiter<P>) -> u64 {
        // SAFETY: the caller's obligations.
        let granted = unsafe {
            (*node).queued_mut(|q| {
                let granted = q.requested - q.need;
                q.need = q.requested;
                granted
            })
        };
        queue.pending -= granted;
        granted
    }

    /// Moves a queued request that no longer fits `capacity` to the
    /// oversized list; returns its partial grant, which the caller passes on.
    ///
    /// # Safety
    /// The list lock is held and `node` is linked into the queue.
    pub(super) unsafe fn set_aside_locked(
        &self,
        queue: &mut Queue<P>,
        node: *const Waiter<P>,
    ) -> u64 {
        // SAFETY: the caller's obligations; the node stays alive while we
        // relink it, since its owner waits for DONE or the lock.
        unsafe {
            let granted = Self::take_back_locked(queue, node);
            self.unlink_locked(queue, node);
            self.link_locked(queue, node, true);
            granted
        }
    }

    /// Moves every oversized request that fits `capacity` into the queue at
    /// its arrival place. Returns the permits the caller must hand to
    /// [`grant_locked`](Self::grant_locked): what was available (the queue
    /// is now non-empty, so permits may no longer sit in `state`) and the
    /// partial grant of a head that a promoted, earlier request displaced
    /// (only the head may hold a partial grant, or two partial holders could
    /// deadlock each other). Interrupted requests leave instead.
    ///
    /// # Safety
    /// The list lock is held and `queue` is the queue behind it.
    pub(super) unsafe fn promote_locked(
        &self,
        queue: &mut Queue<P>,
        wake: &mut WakeBatch<P>,
        capacity: u64,
    ) -> u64 {
        let mut permits = 0;
        let mut promoted = false;
        let mut cursor = queue.oversized.head();
        // SAFETY: linked nodes are alive and their fields are ours under the
        // lock; `cursor` is read before its node is moved.
        unsafe {
            while let Some(node) = cursor {
                cursor = queue.oversized.next(node);
                if (*node).queued_mut(|q| q.requested) > capacity {
                    continue;
                }
                if (*node).word().load(Ordering::Acquire) & INTERRUPTED != 0 {
                    self.finish(queue, node, Outcome::Interrupted, wake);
                    continue;
                }
                let head = queue.list.head();
                self.unlink_locked(queue, node);
                self.link_locked(queue, node, false);
                promoted = true;
                if let Some(old) = head.filter(|_| queue.list.head() == Some(node)) {
                    permits += Self::take_back_locked(queue, old);
                }
            }
        }
        if promoted {
            // The queue is non-empty now: nothing may stay available.
            permits += self.state.swap(SLOW, Ordering::AcqRel) & !SLOW;
        }
        permits
    }

    /// `add_permits` when `OVERSIZED` was set: under the lock, promote what
    /// fits the grown capacity and grant the `n` new permits.
    #[cold]
    pub(super) fn grow_slow(&self, n: u64) {
        // SAFETY: lock held by `locked`.
        self.locked(|queue, wake| unsafe {
            let capacity = self.capacity();
            let permits = self.promote_locked(queue, wake, capacity);
            self.grant_locked(queue, wake, n + permits);
        });
    }
}
