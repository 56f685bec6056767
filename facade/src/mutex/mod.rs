//! `Mutex<T>`: mutual exclusion whose waits can end with the caller's context.
//!
//! The code: this file has [`Mutex`] and its locking calls; `guard` the
//! borrowed guards ([`MutexGuard`], [`MappedMutexGuard`]); `arc` the
//! guard that owns an `Arc` of its mutex ([`ArcMutexGuard`]).

mod arc;
mod guard;
mod task;

pub use arc::ArcMutexGuard;
pub(crate) use guard::{forward_fmt, forward_fmt_owned};
pub use guard::{MappedMutexGuard, MutexGuard};
pub use task::Lock;

use std::cell::UnsafeCell;
use std::fmt;
use std::time::{Duration, Instant};

use concur_core::RawMutex;

use crate::wait::{self, Until};
use crate::{Context, Error};

/// A mutual-exclusion lock protecting a `T`, with context-aware locking.
///
/// One `AtomicU32` plus the data: `size_of::<Mutex<()>>() == 4`. No
/// poisoning: a panic while the lock is held unlocks it, and the data is as
/// the panicking code left it.
///
/// ```
/// use std::time::Duration;
/// use concur_sync::{Context, Error, Mutex};
///
/// let store = Mutex::new(vec![1, 2]);
/// store.lock().push(3);
///
/// let (ctx, cancel) = Context::background().with_cancel();
/// let ctx = ctx.with_timeout(Duration::from_secs(5));
/// store.lock_ctx(&ctx)?.push(4);
/// assert_eq!(*store.lock(), [1, 2, 3, 4]);
///
/// cancel.cancel();
/// assert_eq!(store.lock_ctx(&ctx).err(), Some(Error::Cancelled));
/// # Ok::<(), Error>(())
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    #[cfg(concur_debug)]
    debug: crate::debug::LockDebug,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one thread at a time, which moves
// `T` between threads (so `T: Send`), and never shares `&T` across threads
// without exclusion (so `T: Sync` is not needed); as std's Mutex.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Self {
        Self {
            raw: RawMutex::new(),
            #[cfg(concur_debug)]
            debug: crate::debug::LockDebug::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, sleeping until the lock is free.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(concur_debug)]
        if !self.raw.try_lock() {
            let _waiting = self.debug.waiting(
                crate::debug::Mode::Mutex,
                std::panic::Location::caller(),
                crate::debug::How::Thread,
            );
            self.raw.lock();
        }
        #[cfg(not(concur_debug))]
        self.raw.lock();
        self.guard()
    }

    /// Locks, sleeping until the lock is free or `ctx` ends.
    ///
    /// A cancelled context fails the call even if the lock is free; a
    /// passed deadline fails it only if it has to wait (a free lock is
    /// taken, and no clock is read). With [`Context::background`] this costs
    /// what [`lock`](Self::lock) costs.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn lock_ctx(&self, ctx: &Context) -> Result<MutexGuard<'_, T>, Error> {
        if let Some(err) = ctx.cancelled() {
            return Err(err);
        }
        if self.raw.try_lock() {
            return Ok(self.guard());
        }
        self.lock_ctx_slow(ctx)
    }

    #[cold]
    #[cfg_attr(concur_debug, track_caller)]
    fn lock_ctx_slow(&self, ctx: &Context) -> Result<MutexGuard<'_, T>, Error> {
        #[cfg(concur_debug)]
        let _waiting = self.debug.waiting(
            crate::debug::Mode::Mutex,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        match ctx.block(|node| self.raw.lock_interruptible(node))? {
            Ok(()) => Ok(self.guard()),
            Err(_) => Err(ctx.interrupted()),
        }
    }

    /// Locks if the lock is free, without waiting.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().then(|| self.try_guard())
    }

    /// Locks, sleeping at most `timeout`; `None` if the lock did not come
    /// free in time. Reads the clock only if the lock is held (parking_lot's
    /// `try_lock_for`); for a deadline shared by several calls, give them a
    /// [`Context::with_timeout`] instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur_sync::Mutex;
    ///
    /// let m = Mutex::new(0);
    /// let held = m.lock();
    /// assert!(m.try_lock_for(Duration::from_millis(5)).is_none());
    /// drop(held);
    /// assert!(m.try_lock_for(Duration::ZERO).is_some()); // free: taken at once
    /// ```
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.lock_until(Until::After(timeout))
    }

    /// Locks, sleeping until `deadline` at the latest; `None` if the lock did
    /// not come free by then. A free lock is taken even after the deadline.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        self.lock_until(Until::At(deadline))
    }

    /// The per-call timeout forms: a free lock at once, else a wait until
    /// `until` (the clock is read only then).
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    fn lock_until(&self, until: Until) -> Option<MutexGuard<'_, T>> {
        if self.raw.try_lock() {
            return Some(self.guard());
        }
        self.lock_until_cold(until)
    }

    #[cold]
    #[cfg_attr(concur_debug, track_caller)]
    fn lock_until_cold(&self, until: Until) -> Option<MutexGuard<'_, T>> {
        #[cfg(concur_debug)]
        let _waiting = self.debug.waiting(
            crate::debug::Mode::Mutex,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        wait::with_waiter(Some(until), |node| self.raw.lock_interruptible(node))
            .ok()
            .map(|()| self.guard())
    }

    /// The data, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether the lock is held right now: a snapshot that may be stale by
    /// the time it is read, for diagnostics and assertions.
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// The raw lock, for a [`Condvar`](crate::Condvar) wait that releases
    /// and re-takes it on behalf of a guard.
    #[inline]
    pub(crate) fn raw(&self) -> &RawMutex {
        &self.raw
    }

    /// The debug record, which a condvar wait keeps true while the lock is
    /// released.
    #[cfg(concur_debug)]
    pub(crate) fn debug(&self) -> &crate::debug::LockDebug {
        &self.debug
    }

    /// The guard of a lock taken by a call that may block.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    fn guard(&self) -> MutexGuard<'_, T> {
        #[cfg(concur_debug)]
        self.debug.acquired(
            crate::debug::Mode::Mutex,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        MutexGuard { mutex: self }
    }

    /// The guard of a lock taken by `try_lock`, which cannot deadlock.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    fn try_guard(&self) -> MutexGuard<'_, T> {
        #[cfg(concur_debug)]
        self.debug.acquired(
            crate::debug::Mode::Mutex,
            std::panic::Location::caller(),
            crate::debug::How::Try,
        );
        MutexGuard { mutex: self }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}
