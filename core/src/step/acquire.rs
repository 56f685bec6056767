//! The semaphore's queued acquire, one step at a time.

use core::pin::Pin;

use super::Progress;
use crate::park::Park;
use crate::semaphore::{AcquireError, RawSemaphore};
use crate::sync::{AtomicU32, Ordering};
use crate::waiter::{Interrupted, WaitScope, Waiter, DONE, INTERRUPTED};

/// A queued [`RawSemaphore::acquire`], from [`RawSemaphore::start_acquire`].
#[derive(Debug)]
pub struct AcquireStep<'a, P: Park> {
    sem: &'a RawSemaphore<P>,
    node: &'a Waiter<P>,
    n: u64,
    /// `Some` while the node is claimed and queued.
    scope: Option<WaitScope<'a, P>>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "step")))]
impl<P: Park> RawSemaphore<P> {
    /// Starts [`acquire`](Self::acquire) of `n` permits: the same code, but
    /// where `acquire` would sleep, this returns the queued wait.
    ///
    /// # Safety
    /// The returned step, and every step a `poll` hands back, is dropped or
    /// polled to [`Progress::Done`]; it is never leaked (see the
    /// [step module docs](crate::step)).
    pub unsafe fn start_acquire<'a>(
        &'a self,
        node: Pin<&'a Waiter<P>>,
        n: u64,
    ) -> Progress<Result<(), AcquireError>, AcquireStep<'a, P>> {
        let node = node.get_ref();
        if self.try_acquire(n).is_ok() {
            return Progress::Done(Ok(()));
        }
        let scope = match node.begin_queued() {
            Ok(scope) => scope,
            Err(Interrupted) => return Progress::Done(Err(AcquireError::Interrupted)),
        };
        // SAFETY: `node` is pinned (it came from a `Pin`) and claimed by
        // `scope`; the step keeps both borrowed until `complete` has run
        // (in `poll`, or in `drop`, which forces completion), and our caller
        // promised that the step is not leaked.
        match unsafe { self.enqueue(node, n) } {
            Ok(true) => Progress::Waiting(AcquireStep {
                sem: self,
                node,
                n,
                scope: Some(scope),
            }),
            Ok(false) => Progress::Done(Ok(())),
            Err(err) => Progress::Done(Err(err)),
        }
    }
}

impl<'a, P: Park> AcquireStep<'a, P> {
    /// The word the waiting thread sleeps on (its node's word).
    pub fn sleep_word(&self) -> &'a AtomicU32 {
        self.node.word()
    }

    /// Whether a thread in this wait would stop sleeping now: the node has
    /// its outcome or was interrupted.
    pub fn is_ready(&self) -> bool {
        self.node.word().load(Ordering::Acquire) & (DONE | INTERRUPTED) != 0
    }

    /// Finishes the wait if it [`is_ready`](Self::is_ready); otherwise
    /// hands it back.
    pub fn poll(mut self) -> Progress<Result<(), AcquireError>, Self> {
        if !self.is_ready() {
            return Progress::Waiting(self);
        }
        match self.finish() {
            Some(result) => Progress::Done(result),
            // A barging offer taken by others first: queued again.
            None => Progress::Waiting(self),
        }
    }

    /// Completes the wait; `None` if it was queued again instead.
    fn finish(&mut self) -> Option<Result<(), AcquireError>> {
        // SAFETY: queued by `enqueue` in `start_acquire` (or again by the
        // last `complete`), and `scope` is taken below once it ends, so
        // it is not completed twice.
        let result = unsafe { self.sem.complete(self.node, self.n) };
        if result.is_some() {
            self.scope = None;
        }
        result
    }
}

impl<P: Park> Drop for AcquireStep<'_, P> {
    fn drop(&mut self) {
        if self.scope.is_some() {
            // Interrupting makes the wait ready; completing it then takes
            // only the list lock, which a single driver never holds here.
            self.node.interrupt();
            let _ = self.finish();
        }
    }
}
