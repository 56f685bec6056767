//! The semaphore's wait for threads: [`RawSemaphore::acquire`], which
//! spins briefly, then queues its node and sleeps on the node's word until
//! a granter, a `close` or an interrupt ends the wait. The future's twin,
//! in the same queue, is in `task`.

use core::pin::Pin;

use crate::park::Park;
use crate::sync::{spin_hint, Ordering, SPIN_LIMIT};
use crate::waiter::{Waiter, DONE, INTERRUPTED};

use super::{AcquireError, RawSemaphore, SLOW};

impl<P: Park> RawSemaphore<P> {
    /// Takes `n` permits, queueing (FIFO) until they are granted, the
    /// semaphore is closed, or `node` is interrupted.
    ///
    /// A request above the current capacity waits for
    /// [`add_permits`](Self::add_permits) without holding up the requests
    /// behind it, and then takes its place in the queue by arrival. Only a
    /// request above [`MAX_PERMITS`](super::MAX_PERMITS) fails with `TooLarge`.
    ///
    /// Permits that are available are taken without looking at `node`. When
    /// the call fails, it holds nothing: partial grants have been passed on.
    #[inline]
    pub fn acquire(&self, node: Pin<&Waiter<P>>, n: u64) -> Result<(), AcquireError> {
        if self.try_take(n) {
            return Ok(());
        }
        self.acquire_slow(&node, n)
    }

    #[cold]
    fn acquire_slow(&self, node: &Waiter<P>, n: u64) -> Result<(), AcquireError> {
        // Spin briefly while nobody is queued: a holder about to release saves
        // us a sleep and itself a wake. `try_take` fails once anyone queues,
        // so spinning never overtakes a queued waiter. A request above the
        // capacity cannot be helped by a release: no spin.
        // In barging mode, spinning takes past the queue as well.
        if self.barging && self.try_barge(n) {
            return Ok(());
        }
        let mut spins = if n <= self.capacity() { SPIN_LIMIT } else { 0 };
        while spins > 0 {
            spins -= 1;
            spin_hint();
            let state = self.state.load(Ordering::Relaxed);
            if (state & SLOW != 0 && !self.barging) || node.is_interrupted() {
                break;
            }
            if self.take_now(n) {
                return Ok(());
            }
        }
        let _scope = node.begin_queued().map_err(|_| AcquireError::Interrupted)?;
        // SAFETY: `node` is pinned by our caller and claimed above, and we do
        // not return until `complete` has unlinked it.
        if !unsafe { self.enqueue(node, n)? } {
            return Ok(());
        }
        loop {
            let mut word = node.word().load(Ordering::Acquire);
            while word & (DONE | INTERRUPTED) == 0 {
                node.sleep(node.word(), word, || {
                    // The parker unwound with our node linked. Leave as an
                    // interrupted wait leaves, handing on a partial grant (or
                    // giving back a full one), before the node's frame is gone.
                    node.interrupt();
                    // SAFETY: queued by `enqueue` (or queued again by
                    // `complete`); the unwind skips the completion below, so
                    // this is the only one. Interrupted, it ends the wait.
                    let _ = unsafe { self.complete(node, n) };
                });
                word = node.word().load(Ordering::Acquire);
            }
            // SAFETY: queued by `enqueue` above (or again by the last
            // `complete`), and not completed since.
            if let Some(result) = unsafe { self.complete(node, n) } {
                return result;
            }
            // A barging offer that others took first: queued again.
        }
    }
}
