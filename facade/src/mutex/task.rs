//! The mutex's async twin: [`Mutex::lock_async`], whose future waits in
//! the core's table of tasks while threads sleep on the mutex word (the
//! word stays one `AtomicU32`; see the crate docs on how threads and tasks
//! are ordered).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use concur_core::{DefaultPark, LockFuture, Waiter};

use super::{Mutex, MutexGuard};
use crate::async_wait::AsyncWait;
use crate::{Context, Error};

impl<T: ?Sized> Mutex<T> {
    /// Locks, awaiting the lock: the async twin of
    /// [`lock_ctx`](Self::lock_ctx). Ends with [`Error::Cancelled`] /
    /// [`Error::DeadlineExceeded`] when `ctx` ends first (a cancel wakes
    /// the task; a deadline fires from the one timer thread).
    ///
    /// A free lock is taken on the first poll, as fast as
    /// [`try_lock`](Self::try_lock). A waiting task waits in a process-wide
    /// table keyed by the mutex's address, so the mutex stays one word; an
    /// unlock wakes one waiting task and one sleeping thread, and the first
    /// to run takes the lock (tasks among themselves in arrival order).
    /// Dropping the future while it waits passes on a wake it took. The
    /// future is `Send` when the guard is, and allocates nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use concur_sync::{Context, Mutex};
    ///
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() -> Result<(), concur_sync::Error> {
    /// let hits = Arc::new(Mutex::new(0));
    /// let ctx = Context::background();
    /// let task = tokio::spawn({
    ///     let (hits, ctx) = (hits.clone(), ctx.clone());
    ///     async move {
    ///         let mut n = hits.lock_async(&ctx).await?;
    ///         tokio::task::yield_now().await; // the guard is held across an await
    ///         *n += 1;
    ///         Ok::<_, concur_sync::Error>(())
    ///     }
    /// });
    /// *hits.lock() += 1; // a thread's lock of the same mutex
    /// task.await.unwrap()?;
    /// assert_eq!(*hits.lock_async(&ctx).await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn lock_async<'a, 'c>(&'a self, ctx: &'c Context) -> Lock<'a, 'c, T> {
        Lock {
            mutex: self,
            wait: AsyncWait::new(ctx),
            #[cfg(concur_debug)]
            debug: crate::debug::AsyncSite::here(),
        }
    }
}

/// The future of [`Mutex::lock_async`].
#[must_use = "futures do nothing unless polled"]
pub struct Lock<'a, 'c, T: ?Sized> {
    mutex: &'a Mutex<T>,
    wait: AsyncWait<'c, LockFuture<'a, DefaultPark>>,
    #[cfg(concur_debug)]
    debug: crate::debug::AsyncSite<'a>,
}

impl<'a, T: ?Sized> Future for Lock<'a, '_, T> {
    type Output = Result<MutexGuard<'a, T>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned in the future.
        let this = unsafe { self.get_unchecked_mut() };
        let mutex = this.mutex;
        // SAFETY: pinned with the future; the same closures every poll.
        let polled = unsafe {
            this.wait.poll_unit(
                cx,
                || mutex.raw.try_lock(),
                || LockFuture::new(&mutex.raw, Waiter::new()),
            )
        };
        #[cfg(concur_debug)]
        this.debug
            .polled(&mutex.debug, crate::debug::Mode::Mutex, cx.waker(), &polled);
        polled.map(|result| result.map(|()| MutexGuard { mutex }))
    }
}

impl<T: ?Sized> std::fmt::Debug for Lock<'_, '_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}
