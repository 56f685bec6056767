//! The waiting side of the condvar: linking a waiter and releasing the
//! mutex, ending its wait (leaving, or reading what a notifier decided),
//! and the guard that ends it on every path. See the [parent module](super).

use core::ptr;

use crate::locked;
use crate::mutex::RawMutex;
use crate::park::Park;
use crate::sync::{AtomicU32, Ordering};
use crate::waiter::{Interrupted, Outcome, Waiter, DONE};

use super::RawCondvar;

impl<P: Park> RawCondvar<P> {
    /// Links `node` and unlocks `mutex`: the part of [`wait`](Self::wait)
    /// before it sleeps. The returned guard ends the wait (on drop, too).
    ///
    /// # Safety
    /// The caller holds `mutex`; `node` is pinned and claimed for this wait
    /// (`begin_queued`), and the claim and the node outlive the guard.
    ///
    /// # Panics
    /// If others wait with a different mutex (nothing changed then).
    pub(crate) unsafe fn begin_wait<'a>(
        &'a self,
        node: &'a Waiter<P>,
        mutex: &'a RawMutex<P>,
    ) -> Linked<'a, P> {
        // SAFETY: the caller's obligations; the guard made below unlinks
        // the node before the borrows end.
        unsafe { self.link(node, mutex) };
        // From here on every path out, an unwind included, goes through
        // `Linked::end`: leave the list (or read the outcome), lock the
        // mutex again, pass a `notify_all` chain on.
        let linked = Linked {
            condvar: self,
            node,
            mutex,
            outcome: None,
            relocked: false,
        };
        // SAFETY: the caller holds `mutex`.
        unsafe { mutex.unlock() };
        linked
    }

    /// Links `node` at the tail, binding the condvar to `mutex` if nobody
    /// waits.
    ///
    /// # Safety
    /// `node` is pinned, claimed for this wait and not linked, and stays
    /// alive until it is unlinked (by a notifier, or by `finish_wait`).
    ///
    /// # Panics
    /// If others wait with a different mutex (nothing changed then).
    pub(crate) unsafe fn link(&self, node: &Waiter<P>, mutex: &RawMutex<P>) {
        let node_ptr: *const Waiter<P> = node;
        let mutex_id = mutex as *const RawMutex<P> as *const ();
        // SAFETY: lock held; the caller's obligations.
        let bound = self.locked(|waiting, _| unsafe {
            if waiting.list.is_empty() {
                waiting.mutex = mutex_id;
            } else if waiting.mutex != mutex_id {
                return false;
            }
            node.queued_mut(|q| {
                q.outcome = Outcome::Pending;
                q.chain = ptr::null();
            });
            waiting.list.insert_after(waiting.list.tail(), node_ptr);
            locked::count(&self.waiters, 1);
            true
        });
        assert!(
            bound,
            "concur-core: a RawCondvar was used with two different mutexes at once"
        );
    }

    /// Ends a wait whose node word has `DONE` or `INTERRUPTED`: leaves the
    /// list if still linked (`Err`), else reads the outcome. `Ok(Some(w))`:
    /// notified by `notify_all`, and `w` is the word to wake next in its
    /// chain (the waiter two behind).
    pub(crate) fn finish_wait(
        &self,
        node: &Waiter<P>,
    ) -> Result<Option<*const AtomicU32>, Interrupted> {
        let node_ptr: *const Waiter<P> = node;
        if node.word().load(Ordering::Acquire) & DONE == 0 {
            // SAFETY: lock held; our node is linked here unless a notifier
            // unlinked it (and then set DONE).
            let left = self.locked(|waiting, _| unsafe {
                if node.word().load(Ordering::Acquire) & DONE != 0 {
                    return false;
                }
                let was_linked = waiting.list.remove(node_ptr);
                debug_assert!(was_linked, "concur-core: a condvar waiter left twice");
                locked::count(&self.waiters, -1);
                true
            });
            if left {
                return Err(Interrupted);
            }
        }
        // SAFETY: DONE: unlinked, and the Acquire load of DONE orders the
        // notifier's writes before our reads.
        let (outcome, chain) = unsafe { node.queued_mut(|q| (q.outcome, q.chain)) };
        match outcome {
            Outcome::Granted => Ok((!chain.is_null()).then_some(chain)),
            Outcome::Interrupted => Err(Interrupted),
            _ => unreachable!("concur-core: condvar waiter done without an outcome"),
        }
    }
}

/// A linked condvar wait: ends it on every path out of `wait` (see
/// [`Linked::end`]), an unwind included.
#[derive(Debug)]
pub(crate) struct Linked<'a, P: Park> {
    condvar: &'a RawCondvar<P>,
    node: &'a Waiter<P>,
    mutex: &'a RawMutex<P>,
    /// What `finish_wait` said, once it ran.
    outcome: Option<Result<Option<*const AtomicU32>, Interrupted>>,
    relocked: bool,
}

impl<P: Park> Linked<'_, P> {
    /// The node of this wait.
    #[cfg(feature = "step")]
    pub(crate) fn node(&self) -> &Waiter<P> {
        self.node
    }

    /// The mutex the wait re-takes.
    #[cfg(feature = "step")]
    pub(crate) fn mutex(&self) -> &RawMutex<P> {
        self.mutex
    }

    /// Leaves the list or reads the outcome (once), locks the mutex again
    /// (once), then wakes the next word of its chain (once). Idempotent, so the
    /// drop after a normal end does nothing, and a drop after an unwind
    /// finishes what is left. An unwind inside it during an unwind aborts.
    pub(crate) fn end(&mut self) -> Result<(), Interrupted> {
        let outcome = match self.outcome {
            Some(outcome) => outcome,
            None => *self.outcome.insert(self.condvar.finish_wait(self.node)),
        };
        if !self.relocked {
            self.mutex.lock();
            self.relocked = true;
        }
        if let Ok(Some(next)) = outcome {
            // We hold the mutex: now the next waiter of a `notify_all` may
            // come and wait for it.
            self.outcome = Some(Ok(None));
            P::wake_one(next);
        }
        outcome.map(|_| ())
    }
}

impl<P: Park> Drop for Linked<'_, P> {
    fn drop(&mut self) {
        let _ = self.end();
    }
}
