//! The condvar's async twins: [`Condvar::wait_async`] and
//! [`Condvar::wait_while_async`]. The future's node waits in the same
//! FIFO list as the threads' and is notified by the same calls; once
//! notified it takes the mutex again without blocking its executor.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use concur_core::{CondvarFuture, DefaultPark, Waiter};

use super::Condvar;
use crate::async_wait::{AsyncWait, Start};
use crate::mutex::{Mutex, MutexGuard};
use crate::{Context, Error};

impl Condvar {
    /// Releases the guard's mutex, awaits a notification, and takes the
    /// mutex again: the async twin of [`wait_ctx`](Self::wait_ctx), in the
    /// same FIFO list as waiting threads (`notify_one` wakes whichever came
    /// first, thread or task). Returns the guard with `Ok(())` when
    /// notified (or woken for no reason the caller can see: re-check the
    /// condition), or with [`Error::Cancelled`] /
    /// [`Error::DeadlineExceeded`] when `ctx` ended first.
    ///
    /// Dropped while it waits, the future holds no lock, and a
    /// notification it had taken goes on to the next waiter.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use concur_sync::{Condvar, Context, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let state = Arc::new((Mutex::new(false), Condvar::new()));
    /// let setter = {
    ///     let state = state.clone();
    ///     std::thread::spawn(move || {
    ///         *state.0.lock() = true;
    ///         state.1.notify_all();
    ///     })
    /// };
    /// let ctx = Context::background();
    /// let (ready, outcome) = state
    ///     .1
    ///     .wait_while_async(&ctx, state.0.lock_async(&ctx).await?, |ready| !*ready)
    ///     .await;
    /// assert!(outcome.is_ok() && *ready);
    /// # drop(ready);
    /// setter.join().unwrap();
    /// # Ok::<(), concur_sync::Error>(())
    /// # }).unwrap();
    /// ```
    #[cfg_attr(concur_debug, track_caller)]
    pub fn wait_async<'a, 'c, T: ?Sized>(
        &'c self,
        ctx: &'c Context,
        guard: MutexGuard<'a, T>,
    ) -> CondvarWait<'a, 'c, T>
    where
        'a: 'c,
    {
        CondvarWait {
            condvar: self,
            mutex: guard.mutex,
            guard: Some(guard),
            wait: AsyncWait::new(ctx),
            #[cfg(concur_debug)]
            site: std::panic::Location::caller(),
        }
    }

    /// Awaits while `condition` holds: the async twin of
    /// [`wait_while_ctx`](Self::wait_while_ctx). Checks `condition` first
    /// (with the lock held); returns the guard with `Ok(())` once it is
    /// false, or with the context's error.
    pub async fn wait_while_async<'a, T: ?Sized>(
        &self,
        ctx: &Context,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, Result<(), Error>) {
        while condition(&mut *guard) {
            let outcome;
            (guard, outcome) = self.wait_async(ctx, guard).await;
            if let Err(err) = outcome {
                return (guard, Err(err));
            }
        }
        (guard, Ok(()))
    }
}

/// The future of [`Condvar::wait_async`].
#[must_use = "futures do nothing unless polled"]
pub struct CondvarWait<'a, 'c, T: ?Sized> {
    condvar: &'c Condvar,
    mutex: &'a Mutex<T>,
    /// The caller's guard, until the first poll hands its lock to the wait
    /// (dropped with the future before that, it unlocks as a guard does).
    guard: Option<MutexGuard<'a, T>>,
    wait: AsyncWait<'c, CondvarFuture<'c, DefaultPark>>,
    #[cfg(concur_debug)]
    site: &'static std::panic::Location<'static>,
}

impl<'a: 'c, 'c, T: ?Sized> Future for CondvarWait<'a, 'c, T> {
    type Output = (MutexGuard<'a, T>, Result<(), Error>);

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned in the future.
        let this = unsafe { self.get_unchecked_mut() };
        let (condvar, mutex, guard) = (this.condvar, this.mutex, &mut this.guard);
        #[cfg(concur_debug)]
        let (site, waker) = (this.site, cx.waker().clone());
        // SAFETY: pinned with the future; the same closures every poll; and
        // `CondvarFuture::new` below gets a lock held for it (see there).
        let polled = unsafe {
            this.wait.poll(
                cx,
                || {
                    let held = guard.take().expect("concur: a condvar wait started twice");
                    #[cfg(concur_debug)]
                    {
                        mutex.debug().released(crate::debug::Mode::Mutex);
                        mutex.debug().before_wait(
                            crate::debug::Mode::Mutex,
                            site,
                            crate::debug::How::Task(&waker),
                        );
                    }
                    // The lock is the wait's now: released while it
                    // waits, held again when it resolves (or never
                    // released, if it ends before its first poll).
                    std::mem::forget(held);
                    // (Inside the `unsafe` above) held, by the guard just
                    // forgotten, and handed to the wait, which is polled
                    // at once: `CondvarFuture::new`'s contract.
                    Start::Wait(CondvarFuture::new(&condvar.raw, mutex.raw(), Waiter::new()))
                },
                |out, ctx| out.map_err(|_| ctx.interrupted()),
            )
        };
        polled.map(|outcome| {
            // Ended before the wait began (a cancelled context): the
            // caller's guard is still here. Otherwise the lock is held
            // again for a guard made anew.
            let guard = this.guard.take().unwrap_or_else(|| {
                #[cfg(concur_debug)]
                mutex.debug().acquired(
                    crate::debug::Mode::Mutex,
                    this.site,
                    crate::debug::How::Task(cx.waker()),
                );
                MutexGuard { mutex }
            });
            (guard, outcome)
        })
    }
}

impl<T: ?Sized> fmt::Debug for CondvarWait<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondvarWait")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}
