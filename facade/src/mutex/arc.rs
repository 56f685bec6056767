//! [`ArcMutexGuard`]: a guard that owns an `Arc` of its mutex, so it has no
//! lifetime and can be stored, returned, or moved into another thread.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::guard::forward_fmt_owned;
use super::Mutex;
use crate::{Context, Error};

/// A [`MutexGuard`](super::MutexGuard) that keeps its mutex alive through an
/// `Arc`: `'static` when `T` is, `Send` where `T: Send`, `Sync` where
/// `T: Sync`. Made by [`Mutex::lock_arc`] and its siblings.
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use concur_sync::Mutex;
///
/// let m = Arc::new(Mutex::new(0));
/// let mut guard = m.lock_arc();
/// *guard += 1;
/// // Locked here, unlocked there.
/// thread::spawn(move || *guard += 1).join().unwrap();
/// assert_eq!(*m.lock(), 2);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArcMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
}

// SAFETY: as for `MutexGuard`: the guard gives `&mut T` to its thread, and
// the lock may be released from any thread.
unsafe impl<T: ?Sized + Send> Send for ArcMutexGuard<T> {}
// SAFETY: sharing the guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for ArcMutexGuard<T> {}

impl<T: ?Sized> Mutex<T> {
    /// [`lock`](Self::lock), with a guard that owns a clone of the `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn lock_arc(self: &Arc<Self>) -> ArcMutexGuard<T> {
        std::mem::forget(self.lock());
        ArcMutexGuard {
            mutex: Arc::clone(self),
        }
    }

    /// [`lock_ctx`](Self::lock_ctx), with a guard that owns a clone of the
    /// `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn lock_arc_ctx(self: &Arc<Self>, ctx: &Context) -> Result<ArcMutexGuard<T>, Error> {
        std::mem::forget(self.lock_ctx(ctx)?);
        Ok(ArcMutexGuard {
            mutex: Arc::clone(self),
        })
    }

    /// [`try_lock`](Self::try_lock), with a guard that owns a clone of the
    /// `Arc`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_lock_arc(self: &Arc<Self>) -> Option<ArcMutexGuard<T>> {
        std::mem::forget(self.try_lock()?);
        Some(ArcMutexGuard {
            mutex: Arc::clone(self),
        })
    }
}

impl<T: ?Sized> ArcMutexGuard<T> {
    /// The mutex this guard holds.
    pub fn mutex(guard: &Self) -> &Arc<Mutex<T>> {
        &guard.mutex
    }
}

impl<T: ?Sized> Deref for ArcMutexGuard<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for ArcMutexGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held and `&mut self` is the only access.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for ArcMutexGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the lock was taken for this guard (the borrowed guard that
        // took it was forgotten) and is released only here.
        unsafe { self.mutex.release() };
    }
}

forward_fmt_owned!(ArcMutexGuard);
