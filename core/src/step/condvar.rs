//! The condvar's wait, one step at a time.

use core::pin::Pin;

use super::Progress;
use crate::condvar::{Linked, RawCondvar};
use crate::mutex::RawMutex;
use crate::park::Park;
use crate::sync::{AtomicU32, Ordering};
use crate::waiter::{Interrupted, WaitScope, Waiter, DONE, INTERRUPTED};

/// A [`RawCondvar::wait`] in progress, from [`RawCondvar::start_wait`].
#[derive(Debug)]
pub struct CondvarStep<'a, P: Park> {
    // Dropped first: ends the wait while the node is still claimed.
    linked: Linked<'a, P>,
    _scope: WaitScope<'a, P>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "step")))]
impl<P: Park> RawCondvar<P> {
    /// Starts [`wait`](Self::wait): the same code (the node is linked and
    /// `mutex` unlocked), but where `wait` would sleep this returns the
    /// wait. Finishing it takes `mutex` again, so a single driving thread
    /// must leave `mutex` free when it polls a ready step or drops one.
    ///
    /// # Safety
    /// As for [`wait`](Self::wait) (the caller holds `mutex`), and the
    /// returned step is dropped or polled to [`Progress::Done`], never
    /// leaked (see the [step module docs](crate::step)).
    pub unsafe fn start_wait<'a>(
        &'a self,
        node: Pin<&'a Waiter<P>>,
        mutex: &'a RawMutex<P>,
    ) -> Progress<Result<(), Interrupted>, CondvarStep<'a, P>> {
        let node = node.get_ref();
        let scope = match node.begin_queued() {
            Ok(scope) => scope,
            Err(Interrupted) => return Progress::Done(Err(Interrupted)),
        };
        // SAFETY: the caller holds `mutex`; `node` is pinned and claimed by
        // `scope`, which the step keeps (and drops after `linked`); our
        // caller promised the step is not leaked.
        let linked = unsafe { self.begin_wait(node, mutex) };
        Progress::Waiting(CondvarStep {
            linked,
            _scope: scope,
        })
    }
}

impl<'a, P: Park> CondvarStep<'a, P> {
    /// The word the waiting thread sleeps on (its node's word).
    pub fn sleep_word(&self) -> &AtomicU32 {
        self.linked.node().word()
    }

    /// Whether a thread in this wait would stop sleeping now: notified, or
    /// interrupted.
    pub fn is_ready(&self) -> bool {
        self.sleep_word().load(Ordering::Acquire) & (DONE | INTERRUPTED) != 0
    }

    /// Finishes the wait if it [`is_ready`](Self::is_ready) and the mutex
    /// is free (it is taken again: the caller then holds it); otherwise
    /// hands the wait back.
    pub fn poll(mut self) -> Progress<Result<(), Interrupted>, Self> {
        if !self.is_ready() || self.linked.mutex().is_locked() {
            return Progress::Waiting(self);
        }
        Progress::Done(self.linked.end())
    }
}

impl<P: Park> Drop for CondvarStep<'_, P> {
    fn drop(&mut self) {
        // An unfinished wait is interrupted first, so ending it takes only
        // the list lock and the (free) mutex; the caller then holds it.
        if !self.is_ready() {
            self.linked.node().interrupt();
        }
        let _ = self.linked.end();
    }
}
