//! `WaitGroup`: wait for a number of tasks to finish; guards that count a
//! task down however it ends, and `go`, which spawns one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use concur_core::{DefaultPark, WaitCounter, WaitFuture, Waiter};

use crate::async_wait::AsyncWait;
use crate::{Context, Error};

/// Counts outstanding tasks; [`wait`](WaitGroup::wait) blocks until the count
/// is zero. Reusable once a wait has returned. 8 bytes.
///
/// ```
/// use concur_sync::WaitGroup;
///
/// let wg = WaitGroup::new();
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         wg.add(1);
///         s.spawn(|| {
///             // ... work ...
///             wg.done();
///         });
///     }
///     wg.wait();
///     assert_eq!(wg.count(), 0);
/// });
/// ```
#[derive(Default)]
pub struct WaitGroup {
    counter: WaitCounter,
}

impl WaitGroup {
    /// A group with a count of zero.
    pub const fn new() -> Self {
        Self {
            counter: WaitCounter::new(),
        }
    }

    /// Adds `n` to the count.
    ///
    /// # Panics
    /// If the count would exceed 2^30 - 1; nothing changes then.
    #[inline]
    pub fn add(&self, n: u32) {
        self.counter.add(n);
    }

    /// Marks one task done, waking the waiters when the count reaches zero.
    ///
    /// # Panics
    /// If the count is already zero (more `done` than `add`); nothing changes
    /// then.
    #[inline]
    pub fn done(&self) {
        if !self.counter.try_done() {
            underflow();
        }
    }

    /// Adds one task and returns a guard that marks it done when dropped,
    /// so a task that returns early or panics still counts down (Go's
    /// `defer wg.Done()`). The guard is `Send`: take it before spawning and
    /// move it into the task, so a `wait` cannot miss the task.
    ///
    /// ```
    /// use concur_sync::WaitGroup;
    ///
    /// let wg = WaitGroup::new();
    /// std::thread::scope(|s| {
    ///     for i in 0..4 {
    ///         let task = wg.enter();
    ///         s.spawn(move || {
    ///             let _task = task;
    ///             assert!(i < 4, "a panic here would still count down");
    ///         });
    ///     }
    ///     wg.wait();
    /// });
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[inline]
    pub fn enter(&self) -> WaitGroupGuard<'_> {
        self.add(1);
        WaitGroupGuard { group: self }
    }

    /// Spawns a thread that runs `f` as one task of the group (Go 1.25's
    /// `wg.Go`): the count goes up before the thread starts and down when
    /// `f` returns or panics. The handle reports a panic as
    /// [`JoinHandle::join`](std::thread::JoinHandle::join) does.
    ///
    /// # Panics
    /// If the thread cannot be spawned (as [`std::thread::spawn`]); the
    /// count is unchanged then.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use concur_sync::WaitGroup;
    ///
    /// let wg = Arc::new(WaitGroup::new());
    /// let ok = wg.go(|| {});
    /// let failed = wg.go(|| panic!("task failed"));
    /// wg.wait(); // returns: the panicking task counted down too
    /// assert!(ok.join().is_ok() && failed.join().is_err());
    /// ```
    pub fn go<F>(self: &Arc<Self>, f: F) -> std::thread::JoinHandle<()>
    where
        F: FnOnce() + Send + 'static,
    {
        struct Task(Arc<WaitGroup>);
        impl Drop for Task {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let task = Task(self.clone());
        match std::thread::Builder::new().spawn(move || {
            let _task = task;
            f();
        }) {
            Ok(handle) => handle,
            // The closure, and the task in it, was dropped: counted down.
            Err(err) => panic!("concur-sync: WaitGroup::go could not spawn a thread: {err}"),
        }
    }

    /// Blocks until the count is zero.
    #[inline]
    pub fn wait(&self) {
        self.counter.wait();
    }

    /// Blocks until the count is zero or `ctx` ends. A cancelled context
    /// fails the call even if the count is zero; a passed deadline fails it
    /// only if it has to wait.
    #[inline]
    pub fn wait_ctx(&self, ctx: &Context) -> Result<(), Error> {
        if let Some(err) = ctx.cancelled() {
            return Err(err);
        }
        if self.counter.count() == 0 {
            return Ok(());
        }
        ctx.block(|node| self.counter.wait_interruptible(node))?
            .map_err(|_| ctx.interrupted())
    }

    /// Awaits a zero count: the async twin of [`wait_ctx`](Self::wait_ctx),
    /// beside waiting threads (the `done` that reaches zero wakes both).
    /// Ends with [`Error::Cancelled`] / [`Error::DeadlineExceeded`] when
    /// `ctx` ends first. Allocates nothing; cancel-safe on drop.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use concur_sync::{Context, WaitGroup};
    ///
    /// # futures::executor::block_on(async {
    /// let wg = Arc::new(WaitGroup::new());
    /// let worker = wg.go(|| { /* work on a thread */ });
    /// wg.wait_async(&Context::background()).await?; // a task waits for it
    /// worker.join().unwrap();
    /// # Ok::<(), concur_sync::Error>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn wait_async<'a, 'c>(&'a self, ctx: &'c Context) -> WaitGroupWait<'a, 'c> {
        WaitGroupWait {
            group: self,
            wait: AsyncWait::new(ctx),
        }
    }

    /// The current count (a snapshot).
    pub fn count(&self) -> u32 {
        self.counter.count()
    }
}

/// One task of a [`WaitGroup`], from [`WaitGroup::enter`]: marks it done
/// when dropped.
#[must_use = "the task is marked done as soon as the guard is dropped"]
pub struct WaitGroupGuard<'a> {
    group: &'a WaitGroup,
}

impl Drop for WaitGroupGuard<'_> {
    fn drop(&mut self) {
        self.group.done();
    }
}

impl fmt::Debug for WaitGroupGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroupGuard")
            .field("count", &self.group.count())
            .finish()
    }
}

#[cold]
#[track_caller]
fn underflow() -> ! {
    panic!("concur-sync: WaitGroup::done() with the count already at zero: more done() than add()")
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// The future of [`WaitGroup::wait_async`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitGroupWait<'a, 'c> {
    group: &'a WaitGroup,
    wait: AsyncWait<'c, WaitFuture<'a, DefaultPark>>,
}

impl Future for WaitGroupWait<'_, '_> {
    type Output = Result<(), Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned in the future.
        let this = unsafe { self.get_unchecked_mut() };
        let counter = &this.group.counter;
        // SAFETY: pinned with the future; the same closures every poll.
        unsafe {
            this.wait.poll_unit(
                cx,
                || counter.count() == 0,
                || WaitFuture::new(counter, Waiter::new()),
            )
        }
    }
}

impl fmt::Debug for WaitGroupWait<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroupWait")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}
