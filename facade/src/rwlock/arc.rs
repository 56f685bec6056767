//! [`ArcRwLockReadGuard`] and [`ArcRwLockWriteGuard`]: guards that own an
//! `Arc` of their lock, so they have no lifetime and can be stored,
//! returned, or moved into another thread.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::RwLock;
use crate::mutex::forward_fmt_owned;
use crate::{Context, Error};

/// A read guard that keeps its lock alive through an `Arc`; made by
/// [`RwLock::read_arc`] and its siblings. `Send` and `Sync` where
/// `T: Sync`.
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct ArcRwLockReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

/// A write guard that keeps its lock alive through an `Arc`; made by
/// [`RwLock::write_arc`] and its siblings. `Send` where `T: Send + Sync`,
/// `Sync` where `T: Sync`.
///
/// ```
/// use std::sync::Arc;
/// use concur_sync::{ArcRwLockWriteGuard, RwLock};
///
/// let l = Arc::new(RwLock::new(1));
/// let mut w = l.write_arc();
/// *w += 1;
/// let r = std::thread::spawn(move || ArcRwLockWriteGuard::downgrade(w))
///     .join()
///     .unwrap();
/// assert_eq!(*r, 2);
/// ```
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct ArcRwLockWriteGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

// SAFETY: as for the borrowed guards (see `guard.rs`).
unsafe impl<T: ?Sized + Sync> Send for ArcRwLockReadGuard<T> {}
// SAFETY: sharing shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for ArcRwLockReadGuard<T> {}
// SAFETY: as for `RwLockWriteGuard`.
unsafe impl<T: ?Sized + Send + Sync> Send for ArcRwLockWriteGuard<T> {}
// SAFETY: sharing shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for ArcRwLockWriteGuard<T> {}

impl<T: ?Sized> RwLock<T> {
    /// [`read`](Self::read), with a guard that owns a clone of the `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn read_arc(self: &Arc<Self>) -> ArcRwLockReadGuard<T> {
        std::mem::forget(self.read());
        ArcRwLockReadGuard {
            lock: Arc::clone(self),
        }
    }

    /// [`read_ctx`](Self::read_ctx), with a guard that owns a clone of the `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn read_arc_ctx(self: &Arc<Self>, ctx: &Context) -> Result<ArcRwLockReadGuard<T>, Error> {
        std::mem::forget(self.read_ctx(ctx)?);
        Ok(ArcRwLockReadGuard {
            lock: Arc::clone(self),
        })
    }

    /// [`try_read`](Self::try_read), with a guard that owns a clone of the `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_read_arc(self: &Arc<Self>) -> Option<ArcRwLockReadGuard<T>> {
        std::mem::forget(self.try_read()?);
        Some(ArcRwLockReadGuard {
            lock: Arc::clone(self),
        })
    }

    /// [`write`](Self::write), with a guard that owns a clone of the `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn write_arc(self: &Arc<Self>) -> ArcRwLockWriteGuard<T> {
        std::mem::forget(self.write());
        ArcRwLockWriteGuard {
            lock: Arc::clone(self),
        }
    }

    /// [`write_ctx`](Self::write_ctx), with a guard that owns a clone of the `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn write_arc_ctx(self: &Arc<Self>, ctx: &Context) -> Result<ArcRwLockWriteGuard<T>, Error> {
        std::mem::forget(self.write_ctx(ctx)?);
        Ok(ArcRwLockWriteGuard {
            lock: Arc::clone(self),
        })
    }

    /// [`try_write`](Self::try_write), with a guard that owns a clone of the `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_write_arc(self: &Arc<Self>) -> Option<ArcRwLockWriteGuard<T>> {
        std::mem::forget(self.try_write()?);
        Some(ArcRwLockWriteGuard {
            lock: Arc::clone(self),
        })
    }
}

impl<T: ?Sized> ArcRwLockWriteGuard<T> {
    /// As [`RwLockWriteGuard::downgrade`](super::RwLockWriteGuard::downgrade).
    #[cfg_attr(concur_debug, track_caller)]
    pub fn downgrade(guard: Self) -> ArcRwLockReadGuard<T> {
        let guard = std::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never dropped, so its Arc moves out exactly once.
        let lock = unsafe { std::ptr::read(&guard.lock) };
        // SAFETY: the write lock was held for `guard`, which is gone; the
        // read lock left belongs to the guard returned.
        unsafe { lock.held().downgrade() };
        ArcRwLockReadGuard { lock }
    }
}

impl<T: ?Sized> Deref for ArcRwLockReadGuard<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for ArcRwLockWriteGuard<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for ArcRwLockWriteGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held and `&mut self` is the only access.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for ArcRwLockReadGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the read lock was taken (or downgraded to) for this guard,
        // the borrowed guard that took it forgotten; released only here.
        unsafe { self.lock.held().release_read() };
    }
}

impl<T: ?Sized> Drop for ArcRwLockWriteGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the write lock was taken for this guard likewise.
        unsafe { self.lock.held().release_write() };
    }
}

forward_fmt_owned!(ArcRwLockReadGuard, ArcRwLockWriteGuard);
