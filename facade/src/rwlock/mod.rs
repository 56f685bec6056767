//! `RwLock<T>`: a writer-preferring reader-writer lock whose waits can end
//! with the caller's context.
//!
//! The code: this file has [`RwLock`] and its locking calls; `guard` the
//! borrowed guards (read, write, their mapped forms, the downgrade); `arc`
//! the guards that own an `Arc` of their lock.

mod arc;
mod guard;
mod task;

pub use arc::{ArcRwLockReadGuard, ArcRwLockWriteGuard};
pub use guard::{MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLockReadGuard, RwLockWriteGuard};
pub use task::{Read, Write};

use std::cell::UnsafeCell;
use std::fmt;
use std::time::{Duration, Instant};

use concur_core::RawRwLock;

use crate::wait::{self, Until};
use crate::{Context, Error};

/// A reader-writer lock protecting a `T`, with context-aware locking.
///
/// Writer-preferring: once a writer waits, new readers wait behind it, so
/// readers cannot starve writers. 16 bytes plus the data. No poisoning.
///
/// ```
/// use concur_sync::{Context, RwLock};
///
/// let config = RwLock::new(String::from("v1"));
/// {
///     let a = config.read();
///     let b = config.read_ctx(&Context::background())?;
///     assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
///     assert!(config.try_write().is_none());
/// }
/// *config.write() = "v2".into();
/// assert_eq!(*config.read(), "v2");
/// # Ok::<(), concur_sync::Error>(())
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    #[cfg(concur_debug)]
    debug: crate::debug::LockDebug,
    data: UnsafeCell<T>,
}

// SAFETY: as std's RwLock: writers move `T` between threads (`T: Send`) and
// readers on several threads share `&T` (`T: Sync`).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    pub const fn new(value: T) -> Self {
        Self {
            raw: RawRwLock::new(),
            #[cfg(concur_debug)]
            debug: crate::debug::LockDebug::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Read-locks, sleeping while a writer holds or waits for the lock.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        #[cfg(concur_debug)]
        if !self.raw.try_read() {
            let _waiting = self.debug.waiting(
                crate::debug::Mode::Read,
                std::panic::Location::caller(),
                crate::debug::How::Thread,
            );
            self.raw.read();
        }
        #[cfg(not(concur_debug))]
        self.raw.read();
        self.read_guard()
    }

    /// Read-locks, sleeping until possible or until `ctx` ends. A cancelled
    /// context fails the call even if the lock is free; a passed deadline
    /// fails it only if it has to wait.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn read_ctx(&self, ctx: &Context) -> Result<RwLockReadGuard<'_, T>, Error> {
        if let Some(err) = ctx.cancelled() {
            return Err(err);
        }
        if self.raw.try_read() {
            return Ok(self.read_guard());
        }
        #[cfg(concur_debug)]
        let _waiting = self.debug.waiting(
            crate::debug::Mode::Read,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        match ctx.block(|node| self.raw.read_interruptible(node))? {
            Ok(()) => Ok(self.read_guard()),
            Err(_) => Err(ctx.interrupted()),
        }
    }

    /// Read-locks if no writer holds or waits for the lock.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw.try_read().then(|| self.try_read_guard())
    }

    /// Read-locks without queueing behind waiting writers: at once unless a
    /// writer *holds* the lock (then it waits as [`read`](Self::read)
    /// does). For a thread that may read-lock again while it holds a read
    /// lock: with plain `read` that deadlocks as soon as a writer waits
    /// between the two (the writer waits for the first read, the second
    /// read waits for the writer). Readers that use it can starve writers.
    ///
    /// ```
    /// use concur_sync::RwLock;
    ///
    /// let l = RwLock::new(1);
    /// let outer = l.read();
    /// let inner = l.read_recursive(); // never waits while `outer` is held
    /// assert_eq!(*outer + *inner, 2);
    /// ```
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn read_recursive(&self) -> RwLockReadGuard<'_, T> {
        #[cfg(concur_debug)]
        if !self.raw.try_read_recursive() {
            let _waiting = self.debug.waiting(
                crate::debug::Mode::Read,
                std::panic::Location::caller(),
                crate::debug::How::ThreadRecursive,
            );
            self.raw.read_recursive();
        }
        #[cfg(not(concur_debug))]
        self.raw.read_recursive();
        self.recursive_read_guard()
    }

    /// Read-locks, sleeping at most `timeout`; `None` if that was not
    /// enough. Reads the clock only if it has to wait (see
    /// [`Mutex::try_lock_for`](crate::Mutex::try_lock_for)).
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        self.read_until(Until::After(timeout))
    }

    /// Read-locks, sleeping until `deadline` at the latest; `None` if that
    /// was not enough. A lock free for readers is taken even after it.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.read_until(Until::At(deadline))
    }

    /// The per-call timeout forms: a free lock at once, else a wait until
    /// `until` (the clock is read only then).
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    fn read_until(&self, until: Until) -> Option<RwLockReadGuard<'_, T>> {
        if self.raw.try_read() {
            return Some(self.read_guard());
        }
        self.read_until_cold(until)
    }

    #[cold]
    #[cfg_attr(concur_debug, track_caller)]
    fn read_until_cold(&self, until: Until) -> Option<RwLockReadGuard<'_, T>> {
        #[cfg(concur_debug)]
        let _waiting = self.debug.waiting(
            crate::debug::Mode::Read,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        wait::with_waiter(Some(until), |node| self.raw.read_interruptible(node))
            .ok()
            .map(|()| self.read_guard())
    }

    /// Write-locks, sleeping until the lock is free.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        #[cfg(concur_debug)]
        if !self.raw.try_write() {
            let _waiting = self.debug.waiting(
                crate::debug::Mode::Write,
                std::panic::Location::caller(),
                crate::debug::How::Thread,
            );
            self.raw.write();
        }
        #[cfg(not(concur_debug))]
        self.raw.write();
        self.write_guard()
    }

    /// Write-locks, sleeping until the lock is free or `ctx` ends. A
    /// cancelled context fails the call even if the lock is free; a passed
    /// deadline fails it only if it has to wait.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn write_ctx(&self, ctx: &Context) -> Result<RwLockWriteGuard<'_, T>, Error> {
        if let Some(err) = ctx.cancelled() {
            return Err(err);
        }
        if self.raw.try_write() {
            return Ok(self.write_guard());
        }
        #[cfg(concur_debug)]
        let _waiting = self.debug.waiting(
            crate::debug::Mode::Write,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        match ctx.block(|node| self.raw.write_interruptible(node))? {
            Ok(()) => Ok(self.write_guard()),
            Err(_) => Err(ctx.interrupted()),
        }
    }

    /// Write-locks if the lock is free.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw.try_write().then(|| self.try_write_guard())
    }

    /// Write-locks, sleeping at most `timeout`; `None` if that was not
    /// enough. Reads the clock only if it has to wait.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        self.write_until(Until::After(timeout))
    }

    /// Write-locks, sleeping until `deadline` at the latest; `None` if that
    /// was not enough. A free lock is taken even after it.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        self.write_until(Until::At(deadline))
    }

    /// The per-call timeout forms: a free lock at once, else a wait until
    /// `until` (the clock is read only then).
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    fn write_until(&self, until: Until) -> Option<RwLockWriteGuard<'_, T>> {
        if self.raw.try_write() {
            return Some(self.write_guard());
        }
        self.write_until_cold(until)
    }

    #[cold]
    #[cfg_attr(concur_debug, track_caller)]
    fn write_until_cold(&self, until: Until) -> Option<RwLockWriteGuard<'_, T>> {
        #[cfg(concur_debug)]
        let _waiting = self.debug.waiting(
            crate::debug::Mode::Write,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        wait::with_waiter(Some(until), |node| self.raw.write_interruptible(node))
            .ok()
            .map(|()| self.write_guard())
    }

    /// The data, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether any lock (read or write) is held right now: a snapshot, for
    /// diagnostics and assertions.
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the write lock is held right now (a snapshot).
    #[inline]
    pub fn is_locked_exclusive(&self) -> bool {
        self.raw.is_write_locked()
    }

    /// The guard of a read lock taken by a call that may block.
    #[cfg_attr(concur_debug, track_caller)]
    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        #[cfg(concur_debug)]
        self.debug_hold(crate::debug::Mode::Read, crate::debug::How::Thread);
        RwLockReadGuard { lock: self }
    }

    /// The guard of `try_read`, which cannot deadlock.
    #[cfg_attr(concur_debug, track_caller)]
    fn try_read_guard(&self) -> RwLockReadGuard<'_, T> {
        #[cfg(concur_debug)]
        self.debug_hold(crate::debug::Mode::Read, crate::debug::How::Try);
        RwLockReadGuard { lock: self }
    }

    /// The guard of `read_recursive`, which may read again while reading.
    #[cfg_attr(concur_debug, track_caller)]
    fn recursive_read_guard(&self) -> RwLockReadGuard<'_, T> {
        #[cfg(concur_debug)]
        self.debug_hold(crate::debug::Mode::Read, crate::debug::How::ThreadRecursive);
        RwLockReadGuard { lock: self }
    }

    /// The guard of a write lock taken by a call that may block.
    #[cfg_attr(concur_debug, track_caller)]
    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        #[cfg(concur_debug)]
        self.debug_hold(crate::debug::Mode::Write, crate::debug::How::Thread);
        RwLockWriteGuard { lock: self }
    }

    /// The guard of `try_write`, which cannot deadlock.
    #[cfg_attr(concur_debug, track_caller)]
    fn try_write_guard(&self) -> RwLockWriteGuard<'_, T> {
        #[cfg(concur_debug)]
        self.debug_hold(crate::debug::Mode::Write, crate::debug::How::Try);
        RwLockWriteGuard { lock: self }
    }

    #[cfg(concur_debug)]
    #[track_caller]
    fn debug_hold(&self, mode: crate::debug::Mode, how: crate::debug::How<'_>) {
        self.debug
            .acquired(mode, std::panic::Location::caller(), how);
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}
