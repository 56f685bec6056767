//! The rwlock's async twins: [`RwLock::read_async`] and
//! [`RwLock::write_async`], whose futures wait in the core's table of
//! tasks while threads sleep on the lock's wake words, under one
//! writer-preferring policy.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use concur_core::{DefaultPark, ReadFuture, Waiter, WriteFuture};

use super::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use crate::async_wait::AsyncWait;
use crate::{Context, Error};

impl<T: ?Sized> RwLock<T> {
    /// Read-locks, awaiting the lock: the async twin of
    /// [`read_ctx`](Self::read_ctx), under the same writer preference (a
    /// writer that waits, thread or task, keeps new readers out). Ends
    /// with [`Error::Cancelled`] / [`Error::DeadlineExceeded`] when `ctx`
    /// ends first. A release that lets readers in wakes every waiting
    /// reader task at once. Allocates nothing; cancel-safe on drop.
    ///
    /// ```
    /// use concur_sync::{Context, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let config = RwLock::new("v1");
    /// let ctx = Context::background();
    /// let a = config.read_async(&ctx).await?;
    /// let b = config.read().clone(); // a thread's read beside the task's
    /// assert_eq!((*a, b), ("v1", "v1"));
    /// # Ok::<(), concur_sync::Error>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn read_async<'a, 'c>(&'a self, ctx: &'c Context) -> Read<'a, 'c, T> {
        Read {
            lock: self,
            wait: AsyncWait::new(ctx),
            #[cfg(concur_debug)]
            debug: crate::debug::AsyncSite::here(),
        }
    }

    /// Write-locks, awaiting the lock: the async twin of
    /// [`write_ctx`](Self::write_ctx). While it waits the task counts as a
    /// waiting writer, so new readers (threads and tasks) wait behind it;
    /// an unlock that lets a writer in wakes one sleeping thread and one
    /// writer task, and the first to run takes the lock. Dropping the
    /// future while it waits withdraws it and passes on a wake it took.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur_sync::{Context, Error, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let config = RwLock::new(1);
    /// let reading = config.read();
    /// let ctx = Context::background().with_timeout(Duration::from_millis(10));
    /// // A reader holds it past the deadline.
    /// assert_eq!(config.write_async(&ctx).await.err(), Some(Error::DeadlineExceeded));
    /// drop(reading);
    /// *config.write_async(&Context::background()).await? += 1;
    /// assert_eq!(*config.read(), 2);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn write_async<'a, 'c>(&'a self, ctx: &'c Context) -> Write<'a, 'c, T> {
        Write {
            lock: self,
            wait: AsyncWait::new(ctx),
            #[cfg(concur_debug)]
            debug: crate::debug::AsyncSite::here(),
        }
    }
}

/// The two lock futures: a fast path, the core future it waits with, the
/// guard it resolves to, and the debug record of the hold.
macro_rules! lock_future {
    ($(#[$doc:meta])* $name:ident, $guard:ident, $try:ident, $core:ident, $mode:ident) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name<'a, 'c, T: ?Sized> {
            lock: &'a RwLock<T>,
            wait: AsyncWait<'c, $core<'a, DefaultPark>>,
            #[cfg(concur_debug)]
            debug: crate::debug::AsyncSite<'a>,
        }

        impl<'a, T: ?Sized> Future for $name<'a, '_, T> {
            type Output = Result<$guard<'a, T>, Error>;

            #[inline]
            fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
                // SAFETY: nothing is moved out; the wait stays pinned.
                let this = unsafe { self.get_unchecked_mut() };
                let lock = this.lock;
                // SAFETY: pinned with the future; the same closures every poll.
                let polled = unsafe {
                    this.wait.poll_unit(
                        cx,
                        || lock.raw.$try(),
                        || $core::new(&lock.raw, Waiter::new()),
                    )
                };
                #[cfg(concur_debug)]
                this.debug
                    .polled(&lock.debug, crate::debug::Mode::$mode, cx.waker(), &polled);
                polled.map(|result| result.map(|()| $guard { lock }))
            }
        }

        impl<T: ?Sized> std::fmt::Debug for $name<'_, '_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("wait", &self.wait)
                    .finish_non_exhaustive()
            }
        }
    };
}

lock_future! {
    /// The future of [`RwLock::read_async`].
    Read, RwLockReadGuard, try_read, ReadFuture, Read
}

lock_future! {
    /// The future of [`RwLock::write_async`].
    Write, RwLockWriteGuard, try_write, WriteFuture, Write
}
