//! The borrowed guards of an [`RwLock`]: read and write, the mapped forms
//! that [`RwLockReadGuard::map`] and [`RwLockWriteGuard::map`] make, and
//! [`RwLockWriteGuard::downgrade`].

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use concur_core::RawRwLock;

use super::RwLock;
use crate::mutex::forward_fmt;

/// Shared access to the data of a read-locked [`RwLock`]; unlocks on drop.
/// `Send` and `Sync` where `T: Sync` (a futex lock is not tied to a thread).
///
/// ```
/// use concur_sync::{RwLock, RwLockReadGuard};
///
/// let l = RwLock::new((5, "five"));
/// let (a, b) = (l.read(), l.read());
/// assert_eq!(a.0 + b.0, 10);
/// let name = RwLockReadGuard::map(a, |pair| &pair.1);
/// assert_eq!(*name, "five");
/// ```
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    pub(super) lock: &'a RwLock<T>,
}

/// Exclusive access to the data of a write-locked [`RwLock`]; unlocks on
/// drop. `Send` where `T: Send + Sync` (it can become a read guard, which
/// shares `&T` with other readers), `Sync` where `T: Sync`.
///
/// ```
/// use concur_sync::{RwLock, RwLockWriteGuard};
///
/// let l = RwLock::new(vec![1]);
/// let mut w = l.write();
/// w.push(2);
/// let r = RwLockWriteGuard::downgrade(w); // a reader now, with no writer between
/// assert_eq!(*r, [1, 2]);
/// assert!(l.try_read().is_some());
/// ```
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    pub(super) lock: &'a RwLock<T>,
}

// SAFETY: a read guard gives `&T` to its thread while other readers may
// hold `&T` elsewhere (`T: Sync`); a read lock may be released from any
// thread.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: sharing a guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: the write guard gives `&mut T` to its thread (`T: Send`), and a
// downgrade there makes it a reader beside others (`T: Sync`).
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockWriteGuard<'_, T> {}
// SAFETY: sharing a guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

/// A held lock with its data type erased: what a mapped guard releases.
#[derive(Clone, Copy)]
pub(super) struct Held<'a> {
    raw: &'a RawRwLock,
    #[cfg(concur_debug)]
    debug: &'a crate::debug::LockDebug,
}

impl<T: ?Sized> RwLock<T> {
    pub(super) fn held(&self) -> Held<'_> {
        Held {
            raw: &self.raw,
            #[cfg(concur_debug)]
            debug: &self.debug,
        }
    }
}

impl Held<'_> {
    /// # Safety
    /// A read lock is held for the guard going away, released only here.
    #[inline]
    pub(super) unsafe fn release_read(&self) {
        #[cfg(concur_debug)]
        self.debug.released(crate::debug::Mode::Read);
        // SAFETY: per the contract; any thread may release.
        unsafe { self.raw.read_unlock() };
    }

    /// # Safety
    /// The write lock is held for the guard going away, released only here.
    #[inline]
    pub(super) unsafe fn release_write(&self) {
        #[cfg(concur_debug)]
        self.debug.released(crate::debug::Mode::Write);
        // SAFETY: per the contract; any thread may release.
        unsafe { self.raw.write_unlock() };
    }

    /// # Safety
    /// The write lock is held for a guard that becomes a read guard.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub(super) unsafe fn downgrade(&self) {
        #[cfg(concur_debug)]
        {
            self.debug.released(crate::debug::Mode::Write);
            self.debug.acquired(
                crate::debug::Mode::Read,
                std::panic::Location::caller(),
                crate::debug::How::Try,
            );
        }
        // SAFETY: per the contract.
        unsafe { self.raw.downgrade() };
    }
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// A read guard for a part of the data, holding the same read lock.
    /// If `f` panics the lock is released.
    pub fn map<U: ?Sized>(guard: Self, f: impl FnOnce(&T) -> &U) -> MappedRwLockReadGuard<'a, U> {
        let lock = guard.lock;
        // SAFETY: the read lock is held by `guard`, consumed here.
        let data = NonNull::from(f(unsafe { &*lock.data.get() }));
        std::mem::forget(guard);
        MappedRwLockReadGuard {
            held: lock.held(),
            data,
            _data: PhantomData,
        }
    }

    /// Like [`map`](Self::map), but `f` may decline; the guard comes back.
    pub fn try_map<U: ?Sized>(
        guard: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U>, Self> {
        let lock = guard.lock;
        // SAFETY: as in `map`.
        let Some(part) = f(unsafe { &*lock.data.get() }) else {
            return Err(guard);
        };
        let data = NonNull::from(part);
        std::mem::forget(guard);
        Ok(MappedRwLockReadGuard {
            held: lock.held(),
            data,
            _data: PhantomData,
        })
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns the write lock into a read lock atomically: no writer can get
    /// in between, and waiting readers are let in (unless a writer waits).
    #[cfg_attr(concur_debug, track_caller)]
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        let lock = guard.lock;
        std::mem::forget(guard);
        // SAFETY: `guard` held the write lock and is gone; the read lock the
        // downgrade leaves belongs to the guard returned.
        unsafe { lock.held().downgrade() };
        RwLockReadGuard { lock }
    }

    /// A write guard for a part of the data, holding the same write lock.
    /// If `f` panics the lock is released.
    pub fn map<U: ?Sized>(
        guard: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> MappedRwLockWriteGuard<'a, U> {
        let lock = guard.lock;
        // SAFETY: the write lock is held by `guard`, consumed here.
        let data = NonNull::from(f(unsafe { &mut *lock.data.get() }));
        std::mem::forget(guard);
        MappedRwLockWriteGuard {
            held: lock.held(),
            data,
            _data: PhantomData,
        }
    }

    /// Like [`map`](Self::map), but `f` may decline; the guard comes back.
    pub fn try_map<U: ?Sized>(
        guard: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedRwLockWriteGuard<'a, U>, Self> {
        let lock = guard.lock;
        // SAFETY: as in `map`.
        let Some(part) = f(unsafe { &mut *lock.data.get() }) else {
            return Err(guard);
        };
        let data = NonNull::from(part);
        std::mem::forget(guard);
        Ok(MappedRwLockWriteGuard {
            held: lock.held(),
            data,
            _data: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held: no writer can exist.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held and `&mut self` is the only access.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: created by a successful read lock (or a downgrade),
        // released only here.
        unsafe { self.lock.held().release_read() };
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: created by a successful write lock, released only here.
        unsafe { self.lock.held().release_write() };
    }
}

/// A read guard narrowed to a part of the data by [`RwLockReadGuard::map`];
/// releases the read lock on drop. `Send` and `Sync` where `U: Sync`.
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct MappedRwLockReadGuard<'a, U: ?Sized> {
    held: Held<'a>,
    data: NonNull<U>,
    _data: PhantomData<&'a U>,
}

/// A write guard narrowed to a part of the data by
/// [`RwLockWriteGuard::map`]; releases the write lock on drop. `Send` where
/// `U: Send`, `Sync` where `U: Sync` (it cannot be downgraded).
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct MappedRwLockWriteGuard<'a, U: ?Sized> {
    held: Held<'a>,
    data: NonNull<U>,
    _data: PhantomData<&'a mut U>,
}

// SAFETY: as for `RwLockReadGuard`.
unsafe impl<U: ?Sized + Sync> Send for MappedRwLockReadGuard<'_, U> {}
// SAFETY: sharing shares `&U` only.
unsafe impl<U: ?Sized + Sync> Sync for MappedRwLockReadGuard<'_, U> {}
// SAFETY: exclusive `&mut U` moves with the guard; no downgrade exists.
unsafe impl<U: ?Sized + Send> Send for MappedRwLockWriteGuard<'_, U> {}
// SAFETY: sharing shares `&U` only.
unsafe impl<U: ?Sized + Sync> Sync for MappedRwLockWriteGuard<'_, U> {}

impl<U: ?Sized> Deref for MappedRwLockReadGuard<'_, U> {
    type Target = U;
    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: points into the read-locked data; the lock is held until
        // this guard drops.
        unsafe { self.data.as_ref() }
    }
}

impl<U: ?Sized> Deref for MappedRwLockWriteGuard<'_, U> {
    type Target = U;
    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: points into the write-locked data, held until drop.
        unsafe { self.data.as_ref() }
    }
}

impl<U: ?Sized> DerefMut for MappedRwLockWriteGuard<'_, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`, and `&mut self` is the only access.
        unsafe { self.data.as_mut() }
    }
}

impl<U: ?Sized> Drop for MappedRwLockReadGuard<'_, U> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the read lock was handed over by the forgotten guard this
        // one was mapped from; released only here.
        unsafe { self.held.release_read() };
    }
}

impl<U: ?Sized> Drop for MappedRwLockWriteGuard<'_, U> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the write lock was handed over likewise.
        unsafe { self.held.release_write() };
    }
}

forward_fmt!(
    RwLockReadGuard,
    RwLockWriteGuard,
    MappedRwLockReadGuard,
    MappedRwLockWriteGuard
);
