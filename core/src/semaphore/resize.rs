//! Changing what the semaphore holds: releases, `add_permits`,
//! `forget_permits`, `retire` and `close`, each granting queued waiters (or
//! refusing them) under the list lock. See the [parent module](super).

use crate::locked::WakeBatch;
use crate::park::Park;
use crate::sync::Ordering;
use crate::waiter::Outcome;

use super::queue::Queue;
use super::{RawSemaphore, MAX_PERMITS, OVERSIZED, SLOW};

impl<P: Park> RawSemaphore<P> {
    /// Returns `n` permits, granting queued waiters first.
    ///
    /// # Panics
    /// If that would leave more permits than exist: more was released than
    /// was acquired. Nothing is changed in that case.
    #[inline]
    pub fn release(&self, n: u64) {
        if n == 0 {
            return;
        }
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let new = state.wrapping_add(n);
            if state & SLOW != 0 || new < state || new > self.capacity() {
                // Queued waiters, closed, or a release that looks too large:
                // the slow path decides under the lock, with stable numbers.
                return self.release_slow(n);
            }
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    #[cold]
    fn release_slow(&self, n: u64) {
        // SAFETY: lock held by `locked`.
        let over = self.locked(|queue, wake| unsafe {
            let available = self.state.load(Ordering::Acquire) & !SLOW;
            let capacity = self.capacity();
            let after = available.saturating_add(queue.pending).saturating_add(n);
            if after > capacity {
                return Some((available, capacity));
            }
            self.offer_locked(queue, wake, n);
            None
        });
        if let Some((available, capacity)) = over {
            panic!(
                "concur-core: RawSemaphore::release({n}) with {available} available of \
                 {capacity} permits: released more permits than were acquired"
            );
        }
    }

    /// Adds `n` new permits, granting queued waiters first; requests that
    /// were above the capacity and now fit join the queue at their arrival
    /// place.
    ///
    /// # Panics
    /// If the capacity would exceed [`MAX_PERMITS`]. Nothing is changed then.
    pub fn add_permits(&self, n: u64) {
        if n == 0 {
            return;
        }
        let grown = self
            .capacity
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let permits = (word & !OVERSIZED).checked_add(n)?;
                (permits <= MAX_PERMITS).then_some(permits | (word & OVERSIZED))
            });
        match grown {
            Err(word) => panic!(
                "concur-core: RawSemaphore::add_permits({n}) on a semaphore of {} \
                 would exceed MAX_PERMITS ({MAX_PERMITS})",
                word & !OVERSIZED
            ),
            Ok(word) if word & OVERSIZED != 0 => self.grow_slow(n),
            Ok(_) => self.release(n),
        }
    }

    /// Removes up to `n` *available* permits from existence and returns how
    /// many it removed. Permits that are held or granted are not touched (and
    /// while the queue is non-empty, none are available, except in barging
    /// mode, where queued requests that stop fitting step aside as with
    /// [`retire`](Self::retire)).
    pub fn forget_permits(&self, n: u64) -> u64 {
        // Under the lock: the capacity shrinks only there, and (FIFO) while
        // anyone is queued nothing is available, so no queued request stops
        // fitting.
        // SAFETY: lock held by `locked`.
        self.locked(|queue, wake| unsafe {
            let mut state = self.state.load(Ordering::Relaxed);
            loop {
                let taken = (state & !SLOW).min(n);
                match self.state.compare_exchange_weak(
                    state,
                    state - taken,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) if self.barging && taken > 0 => {
                        self.shrink_locked(queue, wake, taken);
                        return taken;
                    }
                    Ok(_) => {
                        self.capacity.fetch_sub(taken, Ordering::AcqRel);
                        return taken;
                    }
                    Err(now) => state = now,
                }
            }
        })
    }

    /// Removes from existence `n` permits that the caller holds (instead of
    /// releasing them). Queued requests that now exceed the capacity step
    /// aside, handing on their partial grants, and wait for it to grow.
    ///
    /// # Panics
    /// If `n` is more than the permits held by callers in total.
    pub fn retire(&self, n: u64) {
        if n == 0 {
            return;
        }
        // SAFETY: lock held by `locked`; nodes reached through the list are
        // linked, so alive.
        let over = self.locked(|queue, wake| unsafe {
            let available = self.state.load(Ordering::Acquire) & !SLOW;
            let capacity = self.capacity();
            // Saturating: a caller that released permits it did not hold can
            // make the books disagree; report that rather than wrap.
            let held = capacity
                .saturating_sub(available)
                .saturating_sub(queue.pending);
            if n > held {
                return Some((held, capacity));
            }
            self.shrink_locked(queue, wake, n);
            None
        });
        if let Some((held, capacity)) = over {
            panic!(
                "concur-core: RawSemaphore::retire({n}) but callers hold only {held} of \
                 {capacity} permits"
            );
        }
    }

    /// Removes `n` permits that nobody holds any more from the capacity;
    /// queued requests that stop fitting step aside, handing on their
    /// partial grants.
    ///
    /// # Safety
    /// The list lock is held and `queue` is the queue behind it.
    unsafe fn shrink_locked(&self, queue: &mut Queue<P>, wake: &mut WakeBatch<P>, n: u64) {
        // A read-modify-write, not a store: `add_permits` grows the
        // capacity without the lock.
        let capacity = (self.capacity.fetch_sub(n, Ordering::AcqRel) & !OVERSIZED) - n;
        let mut permits = 0;
        let mut set_aside = false;
        let mut cursor = queue.list.head();
        // SAFETY: the caller's obligations; nodes reached through the list
        // are linked, so alive.
        unsafe {
            while let Some(node) = cursor {
                cursor = queue.list.next(node);
                if (*node).queued_mut(|q| q.requested) > capacity {
                    permits += self.set_aside_locked(queue, node);
                    set_aside = true;
                }
            }
            if set_aside {
                // Announce them to `add_permits`; one that grew the capacity
                // before seeing the bit did not promote, so look again.
                let capacity = self.capacity.fetch_or(OVERSIZED, Ordering::AcqRel) & !OVERSIZED;
                permits += self.promote_locked(queue, wake, capacity);
            }
            self.grant_locked(queue, wake, permits);
        }
    }

    /// Closes the semaphore: every queued waiter fails with `Closed` (its
    /// partial grant returned), and every later acquire fails. Releases still
    /// count, so [`available`](Self::available) stays exact. Idempotent.
    pub fn close(&self) {
        // SAFETY: lock held by `locked`.
        self.locked(|queue, wake| unsafe {
            if self.closed.load(Ordering::Relaxed) {
                return;
            }
            self.closed.store(true, Ordering::Release);
            let mut permits = 0;
            while let Some(node) = queue.list.head() {
                let granted = (*node).queued_mut(|q| q.requested - q.need);
                permits += granted;
                self.finish(queue, node, Outcome::Closed, wake);
            }
            while let Some(node) = queue.oversized.head() {
                self.finish(queue, node, Outcome::Closed, wake);
            }
            queue.pending = 0;
            self.settle_locked(queue, permits);
        });
    }
}
