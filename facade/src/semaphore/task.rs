//! The semaphore's async twins: [`Semaphore::acquire_async`] and
//! [`Semaphore::acquire_owned_async`], whose futures wait in the same FIFO
//! queue as the blocking [`acquire`](Semaphore::acquire), and end with the
//! same errors when their [`Context`] ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use concur_core::{AcquireFuture, DefaultPark, Waiter};

use super::{acquire_error, OwnedPermit, Permit, Semaphore};
use crate::async_wait::{AsyncWait, Start};
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
    #[cfg_attr(concur_debug, track_caller)]
    pub fn acquire_async<'a, 'c>(&'a self, ctx: &'c Context, n: u64) -> Acquire<'a, 'c> {
        Acquire {
            sem: self,
            n,
            wait: AsyncWait::new(ctx),
            #[cfg(concur_debug)]
            debug: crate::debug::AsyncSite::here(),
        }
    }

    /// [`acquire_async`](Self::acquire_async) for an `Arc<Semaphore>`,
    /// resolving to a permit that owns a reference to the semaphore (it can
    /// move into another task or thread).
    #[cfg_attr(concur_debug, track_caller)]
    #[allow(clippy::manual_async_fn)] // an `async fn` cannot see its caller's site
    pub fn acquire_owned_async<'c>(
        self: Arc<Self>,
        ctx: &'c Context,
        n: u64,
    ) -> impl Future<Output = Result<OwnedPermit, Error>> + Send + 'c {
        // (Not an `async fn`: debug mode names the caller's site, which an
        // `async fn` body cannot see.)
        #[cfg(concur_debug)]
        let site = std::panic::Location::caller();
        async move {
            let permit = Acquire {
                sem: &self,
                n,
                wait: AsyncWait::new(ctx),
                #[cfg(concur_debug)]
                debug: crate::debug::AsyncSite::at(site),
            }
            .await?;
            // Handed to the owned permit, which releases them.
            std::mem::forget(permit);
            Ok(OwnedPermit { sem: self, n })
        }
    }
}

/// The future of [`Semaphore::acquire_async`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a, 'c> {
    sem: &'a Semaphore,
    n: u64,
    wait: AsyncWait<'c, AcquireFuture<'a, DefaultPark>>,
    #[cfg(concur_debug)]
    debug: crate::debug::AsyncSite<'a>,
}

impl<'a> Future for Acquire<'a, '_> {
    type Output = Result<Permit<'a>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned in the future.
        let this = unsafe { self.get_unchecked_mut() };
        let (sem, n) = (this.sem, this.n);
        // SAFETY: pinned with the future; the same closures every poll.
        // (The permits are made without debug mode's record: `polled`
        // below makes it, for this task.)
        let polled = unsafe {
            this.wait.poll(
                cx,
                // Free permits are taken without making or linking anything.
                || match sem.try_take(n) {
                    Ok(true) => Start::Ready(Ok(Permit { sem, n })),
                    Ok(false) => Start::Wait(AcquireFuture::new(&sem.raw, n, Waiter::new())),
                    Err(err) => Start::Ready(Err(err)),
                },
                |out, ctx| {
                    out.map(|()| Permit { sem, n })
                        .map_err(|e| acquire_error(e, ctx.interrupted()))
                },
            )
        };
        #[cfg(concur_debug)]
        this.debug.polled(
            &sem.debug,
            crate::debug::Mode::Permit,
            cx.waker(),
            &match &polled {
                Poll::Pending => Poll::Pending,
                Poll::Ready(r) => Poll::Ready(r.as_ref().map(drop).map_err(|e| *e)),
            },
        );
        polled
    }
}

impl std::fmt::Debug for Acquire<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.n)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}
