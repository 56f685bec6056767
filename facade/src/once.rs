//! `Once<T>`: a value initialized at most once, by whichever caller gets
//! there first; a failed or panicking initializer leaves it empty.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use concur_core::{Begin, BeginFuture, DefaultPark, OnceState, Waiter};

use crate::async_wait::{AsyncWait, Start};
use crate::{Context, Error};

/// A cell written once, then read freely (like `std::sync::OnceLock`, plus
/// fallible and context-aware initialization).
///
/// Concurrent callers wait for the one running the initializer. If it
/// returns an error or panics, the cell stays empty and the next caller
/// runs its own initializer.
///
/// ```
/// use concur_sync::{Context, Once};
///
/// static CONFIG: Once<String> = Once::new();
/// assert_eq!(CONFIG.get(), None);
/// let failed: Result<&String, &str> = CONFIG.get_or_try_init(|| Err("not yet"));
/// assert!(failed.is_err());
/// assert_eq!(CONFIG.get_or_init(|| "loaded".to_string()), "loaded");
/// let again = CONFIG.get_or_init_ctx(&Context::background(), || unreachable!())?;
/// assert_eq!(again, "loaded");
/// # Ok::<(), concur_sync::Error>(())
/// ```
pub struct Once<T> {
    state: OnceState,
    #[cfg(concur_debug)]
    debug: crate::debug::LockDebug,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: as `OnceLock`: the value is written once (by one thread, under the
// RUNNING state) and then only shared, so sharing needs `T: Sync` and
// moving the value in from another thread needs `T: Send`.
unsafe impl<T: Send + Sync> Sync for Once<T> {}
// SAFETY: owning a Once is owning a T.
unsafe impl<T: Send> Send for Once<T> {}

/// An initialized cell (as `OnceLock::from`).
///
/// ```
/// let once = concur_sync::Once::from(7);
/// assert_eq!(once.get(), Some(&7));
/// ```
impl<T> From<T> for Once<T> {
    fn from(value: T) -> Self {
        let once = Self::new();
        // A fresh cell: the initializer runs, on this thread, at once.
        let _ = once.get_or_init(|| value);
        once
    }
}

impl<T> Once<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        Self {
            state: OnceState::new(),
            #[cfg(concur_debug)]
            debug: crate::debug::LockDebug::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if initialized.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if self.state.is_complete() {
            // SAFETY: COMPLETE is published (Release) after the write and read
            // with Acquire; the value is never written again.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, initializing it with `init` if nobody has.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init(|| Ok::<T, std::convert::Infallible>(init())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The value, initializing it with `init` if nobody has. If `init` fails
    /// (or panics) the cell stays empty for the next caller.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn get_or_try_init<E>(&self, init: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        self.initialize(init)
    }

    /// The slow path of [`get_or_try_init`](Self::get_or_try_init), out of
    /// line: inlined, it shaped the caller's loop around a path that runs
    /// once per cell (a loop over 1,024 cells ran 2x slower).
    #[cold]
    #[inline(never)]
    #[cfg_attr(concur_debug, track_caller)]
    fn initialize<E>(&self, init: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        #[cfg(concur_debug)]
        self.before_wait();
        self.run(self.state.begin(), init)
    }

    /// Debug mode: a wait for another caller's initializer orders this
    /// cell after the locks the thread holds.
    #[cfg(concur_debug)]
    #[track_caller]
    fn before_wait(&self) {
        self.debug.before_wait(
            crate::debug::Mode::Once,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
    }

    /// [`get_or_init`](Self::get_or_init) that stops waiting for another
    /// caller's initializer when `ctx` ends. A cancelled context fails the
    /// call unless the value is already there; a passed deadline fails it
    /// only if it has to wait for another caller's initializer (with nobody
    /// running one, this caller runs `init`).
    #[cfg_attr(concur_debug, track_caller)]
    pub fn get_or_init_ctx(&self, ctx: &Context, init: impl FnOnce() -> T) -> Result<&T, Error> {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        if let Some(err) = ctx.cancelled() {
            return Err(err);
        }
        #[cfg(concur_debug)]
        self.before_wait();
        let begin = ctx
            .block(|node| self.state.begin_interruptible(node))?
            .map_err(|_| ctx.interrupted())?;
        match self.run(begin, || Ok::<T, std::convert::Infallible>(init())) {
            Ok(value) => Ok(value),
            Err(never) => match never {},
        }
    }

    /// The async twin of [`get_or_init_ctx`](Self::get_or_init_ctx), with
    /// an async initializer: the first caller runs `init().await`; others,
    /// threads and tasks, wait for it (a task in the task table, not on a
    /// thread) until it finishes or their `ctx` ends. `ctx` bounds the wait
    /// for another caller's initializer, not this caller's own.
    ///
    /// Cancel-safe: dropping the future while its initializer runs (a
    /// timeout around it, a `select!`) leaves the cell empty, and the next
    /// waiter runs its own initializer, as after a panic.
    ///
    /// ```
    /// use concur_sync::{Context, Once};
    ///
    /// # futures::executor::block_on(async {
    /// static CONFIG: Once<String> = Once::new();
    /// let ctx = Context::background();
    /// let config = CONFIG
    ///     .get_or_init_async(&ctx, || async { String::from("loaded") })
    ///     .await?;
    /// assert_eq!(config, "loaded");
    /// // Already there: the second initializer never runs.
    /// let again = CONFIG.get_or_init_async(&ctx, || async { unreachable!() }).await?;
    /// assert_eq!(again, "loaded");
    /// # Ok::<(), concur_sync::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_or_init_async<F, Fut>(&self, ctx: &Context, init: F) -> Result<&T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        let begin = Begun {
            state: &self.state,
            wait: AsyncWait::new(ctx),
        }
        .await?;
        if let Begin::Run(guard) = begin {
            // Dropped (this future dropped, or `init` panicking) before it
            // completes: the cell stays empty for the next caller.
            let value = init().await;
            // SAFETY: we are the only runner (RUNNING) and nobody reads
            // the value before COMPLETE.
            unsafe { (*self.value.get()).write(value) };
            guard.complete();
        }
        // SAFETY: complete: written and published.
        Ok(unsafe { (*self.value.get()).assume_init_ref() })
    }

    #[cfg_attr(concur_debug, track_caller)]
    fn run<E>(&self, begin: Begin<'_>, init: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        match begin {
            Begin::Complete => {}
            Begin::Run(guard) => {
                // Debug mode: the locks `init` takes are ordered after the
                // cell, until it returns or unwinds.
                #[cfg(concur_debug)]
                let _running = self
                    .debug
                    .running(crate::debug::Mode::Once, std::panic::Location::caller());
                // If `init` panics, `guard` drops and the cell stays empty.
                let value = init()?;
                // SAFETY: we are the only runner (RUNNING) and nobody reads
                // the value before COMPLETE.
                unsafe { (*self.value.get()).write(value) };
                guard.complete();
            }
        }
        // SAFETY: complete: written and published.
        Ok(unsafe { (*self.value.get()).assume_init_ref() })
    }

    /// The value, if initialized, through a unique borrow.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.state.is_complete() {
            // SAFETY: initialized, and `&mut self` is exclusive.
            Some(unsafe { self.value.get_mut().assume_init_mut() })
        } else {
            None
        }
    }

    /// Consumes the cell, returning the value if initialized.
    pub fn into_inner(self) -> Option<T> {
        let this = std::mem::ManuallyDrop::new(self);
        if this.state.is_complete() {
            // SAFETY: initialized; `this` is never dropped, so the value is
            // moved out exactly once.
            Some(unsafe { (*this.value.get()).assume_init_read() })
        } else {
            None
        }
    }
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for Once<T> {
    fn drop(&mut self) {
        if self.state.is_complete() {
            // SAFETY: initialized and dropped exactly once, here.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Once<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Once").field(&self.get()).finish()
    }
}

/// The wait of [`Once::get_or_init_async`] for its turn: complete, or
/// this caller runs the initializer.
struct Begun<'a, 'c> {
    state: &'a OnceState,
    wait: AsyncWait<'c, BeginFuture<'a, DefaultPark>>,
}

impl<'a> Future for Begun<'a, '_> {
    type Output = Result<Begin<'a>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned in the future.
        let this = unsafe { self.get_unchecked_mut() };
        let state = this.state;
        // SAFETY: pinned with the future; the same closures every poll.
        unsafe {
            this.wait.poll(
                cx,
                || match state.try_begin() {
                    Some(begin) => Start::Ready(Ok(begin)),
                    None => Start::Wait(BeginFuture::new(state, Waiter::new())),
                },
                |out, ctx| out.map_err(|_| ctx.interrupted()),
            )
        }
    }
}
