//! The semaphore's async twins: [`Semaphore::acquire_async`] and
//! [`Semaphore::acquire_owned_async`], whose futures wait in the same FIFO
//! queue as the blocking [`acquire`](Semaphore::acquire), and end with the
//! same errors when their [`Context`] ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use concur_core::{AcquireFuture, DefaultPark, Waiter};

use super::{acquire_error, OwnedPermit, Permit, Semaphore};
use crate::context::Watch;
use crate::{Context, Error};

impl Semaphore {
    /// Acquires `n` permits, awaiting them in FIFO order: the async twin of
    /// [`acquire`](Self::acquire), in the same queue, so threads and tasks
    /// are served in one arrival order with the same partial-grant rule.
    /// Ends with [`Error::Cancelled`] / [`Error::DeadlineExceeded`] when
    /// `ctx` ends first (a task needs no thread of its own for that: a
    /// cancel wakes it, and a deadline fires from the one timer thread).
    ///
    /// Dropping the future before it resolves gives back anything it was
    /// granted, to the waiters behind it. The future is `Send`; it
    /// allocates nothing (the waiter node lives inside it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur_sync::{Context, Error, Semaphore};
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(1);
    /// let ctx = Context::background().with_timeout(Duration::from_millis(20));
    /// let held = sem.acquire_async(&ctx, 1).await?;
    /// // The only permit is held: this one waits until the deadline ends it.
    /// assert_eq!(sem.acquire_async(&ctx, 1).await.err(), Some(Error::DeadlineExceeded));
    /// drop(held);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire_async<'a>(&'a self, ctx: &'a Context, n: u64) -> Acquire<'a> {
        Acquire {
            watch: Watch::default(),
            inner: AcquireFuture::new(&self.raw, n, Waiter::new()),
            sem: self,
            ctx,
            started: false,
        }
    }

    /// [`acquire_async`](Self::acquire_async) for an `Arc<Semaphore>`,
    /// resolving to a permit that owns a reference to the semaphore (it can
    /// move into another task or thread).
    pub async fn acquire_owned_async(
        self: Arc<Self>,
        ctx: &Context,
        n: u64,
    ) -> Result<OwnedPermit, Error> {
        let permit = self.acquire_async(ctx, n).await?;
        // Handed to the owned permit, which releases them.
        std::mem::forget(permit);
        Ok(OwnedPermit { sem: self, n })
    }
}

/// The future of [`Semaphore::acquire_async`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    /// Links the node to `ctx`; declared before `inner`, so it is dropped
    /// (and unlinked) before the node is.
    watch: Watch,
    inner: AcquireFuture<'a, DefaultPark>,
    sem: &'a Semaphore,
    ctx: &'a Context,
    started: bool,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Permit<'a>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; `watch` and `inner` stay where they
        // are (pinned with the future) until they are dropped.
        let this = unsafe { self.get_unchecked_mut() };
        let (sem, n) = (this.sem, this.inner.permits());
        if !this.started {
            this.started = true;
            if let Some(err) = this.ctx.cancelled() {
                return Poll::Ready(Err(err));
            }
            // Free permits are taken without linking anything.
            match sem.try_take(n) {
                Ok(true) => return Poll::Ready(Ok(Permit { sem, n })),
                Ok(false) => {}
                Err(err) => return Poll::Ready(Err(err)),
            }
            // SAFETY: both are fields of this pinned future; the watch is
            // dropped first (field order), or both are leaked together.
            let armed = unsafe {
                let node = Pin::new_unchecked(&this.inner).node();
                Pin::new_unchecked(&mut this.watch).arm(this.ctx, node)
            };
            if let Err(err) = armed {
                return Poll::Ready(Err(err));
            }
        }
        // SAFETY: `inner` is pinned with the future.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let result = ready!(inner.poll(cx));
        Poll::Ready(
            result
                .map(|()| Permit { sem, n })
                .map_err(|e| acquire_error(e, this.ctx.interrupted())),
        )
    }
}

impl std::fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.inner.permits())
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}
