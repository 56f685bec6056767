//! How a wait ends early: an interrupt from any thread ([`Waiter::interrupt`],
//! which may touch the primitive's word the owner sleeps on, within the
//! window the [parent module](super) describes) or the node's own deadline,
//! which its owner's sleep reports and which touches nothing but the node.

use core::marker::PhantomData;
use core::task::Waker;

use crate::park::{wait_or_clean_up, Park};
use crate::sync::{AtomicU32, OnUnwind, Ordering};

use super::{
    Waiter, DONE, EPOCH_UNIT, INTERRUPTED, REGISTERING, TARGETED, TASK, TIMED_OUT, WAKING,
};

impl<P: Park> Waiter<P> {
    /// Interrupts the wait this node is in, or the next one it is used for.
    ///
    /// Idempotent and callable from any thread. A thread blocked with this
    /// node wakes and its call returns an interrupted error, having given back
    /// anything it was partly granted; an interrupt that arrives after the
    /// wait completed makes the next wait with this node fail at once.
    pub fn interrupt(&self) {
        if let Some(waker) = self.interrupt_returning_waker() {
            waker.wake();
        }
    }

    /// [`interrupt`](Self::interrupt), except that the waker of a future
    /// waiting with this node is returned instead of woken: a caller that
    /// holds locks of its own (a registry of nodes, a timer) wakes it once
    /// they are released, since a waker may run executor code that comes
    /// back to them (or drop the future, which unregisters its node).
    /// A thread waiting with the node is woken here, as by `interrupt`.
    #[must_use = "the waker must be woken, or the task may never run again"]
    pub fn interrupt_returning_waker(&self) -> Option<Waker> {
        // Taken first: once the last atomic below is done the owner may
        // return, and the wake must then use only the address.
        let word_ptr: *const AtomicU32 = &self.word;
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if word & INTERRUPTED != 0 {
                return None;
            }
            // A future's wait: we visit it (take its waker) if we are the
            // one to end it and its owner is not storing a waker.
            let takes = word & TASK != 0 && word & (DONE | REGISTERING) == 0;
            let waking = if word & TARGETED != 0 || takes {
                WAKING
            } else {
                0
            };
            match self.word.compare_exchange_weak(
                word,
                word | INTERRUPTED | waking,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        if word & TASK != 0 {
            if word & (DONE | REGISTERING) != 0 {
                return None;
            }
            // We ended the wait and set `WAKING`, which keeps the node
            // alive while we take its waker.
            // SAFETY: we are this ending's one visitor (above).
            let waker = unsafe { self.take_waker() };
            self.let_go(WAKING);
            // The node may be gone from here on; the waker is ours.
            return waker;
        }
        // Clears `WAKING` (if we set it) and wakes the owner when dropped,
        // so both happen even if a wake below unwinds (a parker must not):
        // an owner in `end` waits for `WAKING` to clear, and a sleeper that
        // missed the wake would sleep on.
        let _done = EndVisit::<P> {
            word: word_ptr,
            waking: word & TARGETED != 0,
            _park: PhantomData,
        };
        if word & TARGETED != 0 {
            let target = self.target.load(Ordering::Relaxed);
            // SAFETY: `TARGETED` was set (with Release, after `target` was
            // stored) when our AcqRel CAS read it, and the owner cannot end its
            // word wait, and so cannot give up its borrow of the primitive that
            // owns `target`, until it has seen `WAKING` clear (`end`, also
            // when its parker unwinds). So the target word is alive until
            // `_done` clears `WAKING`.
            let target_ref = unsafe { &*target };
            target_ref.fetch_add(EPOCH_UNIT, Ordering::Release);
            P::wake_all(target);
        }
        None
    }

    /// Sleeps on `word` while it holds `expected`, no later than the node's
    /// deadline, like [`Park::wait`] (spurious returns included). A passed
    /// deadline interrupts the node (`TIMED_OUT`), unless it is already
    /// interrupted or (a queued wait) `DONE`; the caller re-checks its
    /// condition as after any return. If the parker unwinds (it must not),
    /// `clean_up` runs before the unwind goes on.
    #[inline]
    pub(crate) fn sleep(&self, word: &AtomicU32, expected: u32, clean_up: impl FnOnce()) {
        let Some(deadline) = self.deadline else {
            wait_or_clean_up::<P>(word, expected, clean_up);
            return;
        };
        let guard = OnUnwind::new(clean_up);
        let timed_out = P::wait_until(word, expected, deadline).is_err();
        guard.disarm();
        if timed_out {
            self.expire();
        }
    }

    /// The node's deadline has passed: interrupt it from its own thread.
    #[cold]
    fn expire(&self) {
        let mut word = self.word.load(Ordering::Relaxed);
        // An outcome (DONE) or an interrupt that came first stands.
        while word & (DONE | INTERRUPTED) == 0 {
            match self.word.compare_exchange_weak(
                word,
                word | INTERRUPTED | TIMED_OUT,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => word = now,
            }
        }
    }
}

/// Sleeps on `word` like [`Park::wait`]; with a node, no later than its
/// deadline (see [`Waiter::sleep`]); `clean_up` runs if the parker unwinds.
/// For the word waits, whose plain form has no node.
#[inline]
pub(crate) fn sleep<P: Park>(
    node: Option<&Waiter<P>>,
    word: &AtomicU32,
    expected: u32,
    clean_up: impl FnOnce(),
) {
    match node {
        Some(node) => node.sleep(word, expected, clean_up),
        None => wait_or_clean_up::<P>(word, expected, clean_up),
    }
}

/// The end of an interrupt, on every path out of it: clears `WAKING` (if
/// the interrupter set it) and wakes the node's owner.
struct EndVisit<P: Park> {
    word: *const AtomicU32,
    waking: bool,
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> Drop for EndVisit<P> {
    fn drop(&mut self) {
        if self.waking {
            // SAFETY: the owner cannot end its wait, so the node is alive,
            // until it sees `WAKING` clear, which is this very access.
            unsafe { (*self.word).fetch_and(!WAKING, Ordering::Release) };
        }
        // Only the address from here on: the owner may be gone.
        P::wake_all(self.word);
    }
}
