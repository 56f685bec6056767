//! Barging mode's offers: a release that adds its permits to `state` and
//! offers them to the head instead of granting them, and the owner's side
//! of an offer (take the permits if still there, else queue again at its
//! arrival place). See the [parent module](super#barging-mode-opt-in-rawsemaphorenew_barging).

use crate::locked::WakeBatch;
use crate::park::Park;
use crate::sync::Ordering;
use crate::waiter::{Outcome, Waiter, DONE, INTERRUPTED};

use super::queue::Queue;
use super::{AcquireError, RawSemaphore, FAIR_AFTER, SLOW};

impl<P: Park> RawSemaphore<P> {
    /// Gives `permits` back: in FIFO mode a grant; in barging mode a grant
    /// only if the head is owed one (see [`owed_hand_off`](Self::owed_hand_off)),
    /// otherwise the permits become available and the head gets an offer.
    ///
    /// # Safety
    /// The list lock is held and `queue` is the queue behind it.
    pub(super) unsafe fn offer_locked(
        &self,
        queue: &mut Queue<P>,
        wake: &mut WakeBatch<P>,
        permits: u64,
    ) {
        // SAFETY: the caller's obligations, passed on.
        unsafe {
            if !self.barging || self.owed_hand_off(queue) {
                return self.grant_locked(queue, wake, permits);
            }
            self.settle_locked(queue, permits);
            self.nudge_locked(queue, wake);
        }
    }

    /// Whether the head (if any) must be handed its permits rather than
    /// offered them: it was interrupted (the grant routine unlinks it), lost
    /// [`FAIR_AFTER`] offers, or already holds a partial grant.
    ///
    /// # Safety
    /// The list lock is held.
    unsafe fn owed_hand_off(&self, queue: &Queue<P>) -> bool {
        let Some(head) = queue.list.head() else {
            return false;
        };
        // SAFETY: linked nodes are alive and their fields are ours under
        // the lock.
        unsafe {
            (*head).word().load(Ordering::Acquire) & INTERRUPTED != 0
                || (*head).queued_mut(|q| q.passes >= FAIR_AFTER || q.need < q.requested)
        }
    }

    /// Barging mode, after anything that adds permits or changes the head:
    /// if the available permits cover the head and no offer is out, offers
    /// them (unlinks it with `Retry`, counts a pass, wakes it); if the head
    /// is owed a hand-off, hands them to it. Afterwards, while the queue is
    /// non-empty and the available permits cover the head, an offer is out.
    ///
    /// # Safety
    /// The list lock is held and `queue` is the queue behind it.
    pub(super) unsafe fn nudge_locked(&self, queue: &mut Queue<P>, wake: &mut WakeBatch<P>) {
        if !self.barging || self.offer_out.load(Ordering::Relaxed) {
            return;
        }
        let Some(head) = queue.list.head() else {
            return;
        };
        // SAFETY: the caller's obligations; linked nodes are alive.
        unsafe {
            if self.owed_hand_off(queue) {
                // Takes every available permit into the grant.
                return self.grant_locked(queue, wake, 0);
            }
            let available = self.state.load(Ordering::Acquire) & !SLOW;
            if (*head).queued_mut(|q| q.need) > available {
                return;
            }
            (*head).queued_mut(|q| q.passes += 1);
            self.offer_out.store(true, Ordering::Relaxed);
            self.finish(queue, head, Outcome::Retry, wake);
            // The queue may be empty now: then `SLOW` goes, and the offered
            // permits are anyone's, the offered owner's included.
            self.settle_locked(queue, 0);
        }
    }

    /// The owner's side of an offer (outcome `Retry`): under the lock, takes
    /// `n` permits if available, or queues again at its arrival place
    /// (`None`: wait again). Passes the offer on either way.
    ///
    /// # Safety
    /// The caller owns `node`, which was unlinked with `Retry` and has not
    /// been completed since.
    pub(super) unsafe fn retry(
        &self,
        node: &Waiter<P>,
        n: u64,
    ) -> Option<Result<(), AcquireError>> {
        let node_ptr: *const Waiter<P> = node;
        // SAFETY: lock held; `node` is ours and unlinked, so its fields are
        // ours until we link it again.
        self.locked(|queue, wake| unsafe {
            self.offer_out.store(false, Ordering::Relaxed);
            let outcome = if self.closed.load(Ordering::Relaxed) {
                Some(Err(AcquireError::Closed))
            } else if node.is_interrupted() {
                Some(Err(AcquireError::Interrupted))
            } else if self.try_barge(n) {
                Some(Ok(()))
            } else {
                self.requeue_locked(queue, wake, node_ptr, n);
                None
            };
            self.nudge_locked(queue, wake);
            outcome
        })
    }

    /// Links an offered node again, at its arrival place, holding nothing.
    ///
    /// # Safety
    /// The list lock is held; `node` is alive, claimed by its owner for this
    /// wait, and unlinked.
    unsafe fn requeue_locked(
        &self,
        queue: &mut Queue<P>,
        wake: &mut WakeBatch<P>,
        node: *const Waiter<P>,
        n: u64,
    ) {
        // SAFETY: the caller's obligations.
        unsafe {
            // A request the capacity shrank below while it was out waits
            // aside, as at its arrival.
            let oversized = self.mark_oversized_locked(n);
            (*node).queued_mut(|q| {
                q.need = n;
                q.outcome = Outcome::Pending;
            });
            (*node).word().fetch_and(!DONE, Ordering::AcqRel);
            let head = queue.list.head();
            self.link_locked(queue, node, oversized);
            if oversized {
                return;
            }
            self.state.fetch_or(SLOW, Ordering::AcqRel);
            // Back in front of a head that holds a partial grant: only the
            // head may hold one, so that grant goes round again.
            if let Some(old) = head.filter(|_| queue.list.head() == Some(node)) {
                let permits = Self::take_back_locked(queue, old);
                self.grant_locked(queue, wake, permits);
            }
        }
    }
}
