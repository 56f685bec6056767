//! The borrowed guards of a [`Mutex`]: [`MutexGuard`] and the
//! [`MappedMutexGuard`] that [`MutexGuard::map`] makes, which gives access
//! to a part of the data and still releases the whole lock.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use concur_core::RawMutex;

use super::Mutex;

/// Access to the data of a locked [`Mutex`]; unlocks on drop.
///
/// `Send` where `T: Send`, so it may be dropped on another thread than the
/// one that locked (a futex lock is not tied to a thread, unlike std's),
/// and a future holding it across `.await` can be spawned. `Sync` where
/// `T: Sync`.
///
/// ```
/// use concur_sync::{Mutex, MutexGuard};
///
/// let m = Mutex::new((1, String::from("a")));
/// let mut guard = m.lock();
/// guard.0 += 1;
/// assert!(m.try_lock().is_none());
/// let mut name = MutexGuard::map(guard, |pair| &mut pair.1); // still locked
/// name.push('b');
/// drop(name);
/// assert_eq!(*m.lock(), (2, String::from("ab")));
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(crate) mutex: &'a Mutex<T>,
}

// SAFETY: the guard hands `&mut T` to whichever thread holds it, which
// moves access to `T` between threads (`T: Send`); the lock itself may be
// released from any thread (`RawMutex::unlock`'s contract).
unsafe impl<T: ?Sized + Send> Send for MutexGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

/// A held mutex, with its data type erased: what a mapped guard needs to
/// release it.
#[derive(Clone, Copy)]
struct Held<'a> {
    raw: &'a RawMutex,
    #[cfg(concur_debug)]
    debug: &'a crate::debug::LockDebug,
}

impl<T: ?Sized> Mutex<T> {
    fn held(&self) -> Held<'_> {
        Held {
            raw: &self.raw,
            #[cfg(concur_debug)]
            debug: &self.debug,
        }
    }

    /// Releases the lock held on behalf of a guard that is going away.
    ///
    /// # Safety
    /// The lock is held for that guard, which releases it only here, once.
    #[inline]
    pub(super) unsafe fn release(&self) {
        // SAFETY: forwarded contract.
        unsafe { self.held().release() }
    }
}

impl Held<'_> {
    /// # Safety
    /// As [`Mutex::release`].
    #[inline]
    unsafe fn release(&self) {
        #[cfg(concur_debug)]
        self.debug.released(crate::debug::Mode::Mutex);
        // SAFETY: the lock is held for the guard going away, and a futex
        // lock may be released from any thread.
        unsafe { self.raw.unlock() };
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// A guard for a part of the data (`f` picks it), holding the same
    /// lock. An associated function (`MutexGuard::map(guard, f)`), so it
    /// does not hide a method of `T`. If `f` panics the lock is released.
    pub fn map<U: ?Sized>(
        guard: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> MappedMutexGuard<'a, U> {
        let mutex = guard.mutex;
        // SAFETY: the guard holds the lock and is consumed here; while `f`
        // runs it still owns the lock, so a panic releases it.
        let data = NonNull::from(f(unsafe { &mut *mutex.data.get() }));
        std::mem::forget(guard);
        MappedMutexGuard::new(mutex.held(), data)
    }

    /// Like [`map`](Self::map), but `f` may decline (returning `None`), in
    /// which case the guard comes back unchanged.
    pub fn try_map<U: ?Sized>(
        guard: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        let mutex = guard.mutex;
        // SAFETY: as in `map`.
        match f(unsafe { &mut *mutex.data.get() }) {
            Some(part) => {
                let data = NonNull::from(part);
                std::mem::forget(guard);
                Ok(MappedMutexGuard::new(mutex.held(), data))
            }
            None => Err(guard),
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held, and `&mut self` makes
        // this the only access through it.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard was created by a successful lock and releases it
        // only here (a mapped guard forgets it first).
        unsafe { self.mutex.release() };
    }
}

/// A [`MutexGuard`] narrowed to a part of the data by
/// [`MutexGuard::map`]; releases the whole lock on drop. `Send` where
/// `U: Send`, `Sync` where `U: Sync`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MappedMutexGuard<'a, U: ?Sized> {
    held: Held<'a>,
    data: NonNull<U>,
    _data: PhantomData<&'a mut U>,
}

// SAFETY: as for `MutexGuard`: the guard gives `&mut U` to its thread.
unsafe impl<U: ?Sized + Send> Send for MappedMutexGuard<'_, U> {}
// SAFETY: sharing the guard shares `&U` only.
unsafe impl<U: ?Sized + Sync> Sync for MappedMutexGuard<'_, U> {}

impl<'a, U: ?Sized> MappedMutexGuard<'a, U> {
    fn new(held: Held<'a>, data: NonNull<U>) -> Self {
        Self {
            held,
            data,
            _data: PhantomData,
        }
    }

    /// Narrows the guard further (see [`MutexGuard::map`]).
    pub fn map<V: ?Sized>(
        mut guard: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> MappedMutexGuard<'a, V> {
        let data = NonNull::from(f(&mut *guard));
        let held = guard.held;
        // The lock moves to the new guard.
        std::mem::forget(guard);
        MappedMutexGuard::new(held, data)
    }
}

impl<U: ?Sized> Deref for MappedMutexGuard<'_, U> {
    type Target = U;
    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: the pointer came from a `&mut U` into the locked data,
        // and the lock is held until this guard drops.
        unsafe { self.data.as_ref() }
    }
}

impl<U: ?Sized> DerefMut for MappedMutexGuard<'_, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`, and `&mut self` is the only access.
        unsafe { self.data.as_mut() }
    }
}

impl<U: ?Sized> Drop for MappedMutexGuard<'_, U> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the lock was handed over by the guard this one was mapped
        // from, which was forgotten; released only here.
        unsafe { self.held.release() };
    }
}

/// `Debug` and `Display` through `Deref`, for borrowed guards.
macro_rules! forward_fmt {
    ($($guard:ident),*) => {$(
        impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<T: ?Sized + std::fmt::Display> std::fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}
pub(crate) use forward_fmt;

/// `Debug` and `Display` through `Deref`, for guards without a lifetime.
macro_rules! forward_fmt_owned {
    ($($guard:ident),*) => {$(
        impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for $guard<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<T: ?Sized + std::fmt::Display> std::fmt::Display for $guard<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}
pub(crate) use forward_fmt_owned;

forward_fmt!(MutexGuard, MappedMutexGuard);
