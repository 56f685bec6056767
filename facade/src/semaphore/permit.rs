//! The RAII permits of a [`Semaphore`]: borrowed ([`Permit`]) and owned
//! ([`OwnedPermit`]), with forget, leak, merge and split.

use std::fmt;
use std::sync::Arc;

use super::Semaphore;

/// Whether the call that made a permit could have blocked (which orders
/// it after the locks its thread holds, in debug mode).
#[derive(Clone, Copy)]
pub(super) enum Blocking {
    Yes,
    No,
}

impl Semaphore {
    /// The guard of `n` permits just taken, at the caller's site.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub(super) fn permit(&self, n: u64, blocking: Blocking) -> Permit<'_> {
        self.permit_begun(blocking);
        Permit { sem: self, n }
    }

    /// [`permit`](Self::permit) for an `Arc<Semaphore>`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub(super) fn owned_permit(self: Arc<Self>, n: u64, blocking: Blocking) -> OwnedPermit {
        self.permit_begun(blocking);
        OwnedPermit { sem: self, n }
    }

    /// Debug mode's record of a permit guard made at the caller's site.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    fn permit_begun(&self, blocking: Blocking) {
        let _ = blocking;
        #[cfg(concur_debug)]
        self.debug.acquired(
            crate::debug::Mode::Permit,
            std::panic::Location::caller(),
            match blocking {
                Blocking::Yes => crate::debug::How::Thread,
                Blocking::No => crate::debug::How::Try,
            },
        );
    }

    /// Debug mode's record of a permit guard gone (released, leaked,
    /// forgotten or merged).
    #[inline]
    pub(super) fn permit_ended(&self) {
        #[cfg(concur_debug)]
        self.debug.released(crate::debug::Mode::Permit);
    }
}

/// Permits held from a [`Semaphore`]; released when dropped.
///
/// ```
/// use concur_sync::{Context, Semaphore};
///
/// let sem = Semaphore::new(3);
/// let permit = sem.acquire(&Context::background(), 2)?;
/// assert_eq!((permit.num_permits(), sem.available()), (2, 1));
/// permit.forget(); // gone for good: the semaphore now has 1 permit
/// assert_eq!(sem.capacity(), 1);
/// # Ok::<(), concur_sync::Error>(())
/// ```
#[must_use = "the permits are released as soon as the Permit is dropped"]
pub struct Permit<'a> {
    pub(super) sem: &'a Semaphore,
    pub(super) n: u64,
}

/// Permits held from an `Arc<Semaphore>`; `'static` and `Send`, so it can
/// move into another thread. Released when dropped.
///
/// ```
/// use std::sync::Arc;
/// use concur_sync::Semaphore;
///
/// let sem = Arc::new(Semaphore::new(1));
/// let permit = sem.clone().try_acquire_owned(1).unwrap();
/// std::thread::spawn(move || {
///     // ... bounded work ...
///     drop(permit);
/// })
/// .join()
/// .unwrap();
/// assert_eq!(sem.available(), 1);
/// ```
#[must_use = "the permits are released as soon as the permit is dropped"]
pub struct OwnedPermit {
    pub(super) sem: Arc<Semaphore>,
    pub(super) n: u64,
}

impl<'a> Permit<'a> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> u64 {
        self.n
    }

    /// Removes the held permits from existence instead of releasing them:
    /// the semaphore's capacity shrinks by that many. Queued requests that
    /// no longer fit wait (holding nothing) until it grows again.
    pub fn forget(self) {
        self.sem.raw.retire(self.n);
        self.sem.permit_ended();
        std::mem::forget(self);
    }

    /// Keeps the permits acquired without a guard; give them back later with
    /// [`Semaphore::release`].
    pub fn leak(self) -> u64 {
        let n = self.n;
        self.sem.permit_ended();
        std::mem::forget(self);
        n
    }

    /// Takes over the permits of `other`, from the same semaphore: one
    /// guard then releases both.
    ///
    /// # Panics
    /// If `other` comes from a different semaphore (nothing is released or
    /// lost then: both permits drop normally).
    ///
    /// ```
    /// use concur_sync::Semaphore;
    ///
    /// let sem = Semaphore::new(4);
    /// let mut permit = sem.try_acquire(1)?;
    /// permit.merge(sem.try_acquire(2)?);
    /// assert_eq!(permit.num_permits(), 3);
    /// let part = permit.split(2).expect("holds 3");
    /// assert_eq!((permit.num_permits(), part.num_permits()), (1, 2));
    /// assert!(permit.split(5).is_none());
    /// drop((permit, part));
    /// assert_eq!(sem.available(), 4);
    /// # Ok::<(), concur_sync::TryAcquireError>(())
    /// ```
    pub fn merge(&mut self, other: Permit<'a>) {
        assert!(
            std::ptr::eq(self.sem, other.sem),
            "concur-sync: Permit::merge with a permit of a different semaphore"
        );
        self.n += other.leak();
    }

    /// Splits `n` of the held permits off into a permit of their own;
    /// `None` (and no change) if this holds fewer than `n`.
    #[cfg_attr(concur_debug, track_caller)]
    pub fn split(&mut self, n: u64) -> Option<Permit<'a>> {
        self.n = self.n.checked_sub(n)?;
        Some(self.sem.permit(n, Blocking::No))
    }
}

impl OwnedPermit {
    /// How many permits this holds.
    pub fn num_permits(&self) -> u64 {
        self.n
    }

    /// The semaphore the permits come from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// As [`Permit::forget`].
    pub fn forget(self) {
        self.sem.raw.retire(self.n);
        drop(self.into_parts());
    }

    /// As [`Permit::leak`]: returns the count and the semaphore.
    pub fn leak(self) -> (u64, Arc<Semaphore>) {
        self.into_parts()
    }

    /// As [`Permit::merge`].
    ///
    /// # Panics
    /// If `other` comes from a different semaphore.
    pub fn merge(&mut self, other: OwnedPermit) {
        assert!(
            Arc::ptr_eq(&self.sem, &other.sem),
            "concur-sync: OwnedPermit::merge with a permit of a different semaphore"
        );
        self.n += other.leak().0;
    }

    /// As [`Permit::split`].
    #[cfg_attr(concur_debug, track_caller)]
    pub fn split(&mut self, n: u64) -> Option<OwnedPermit> {
        self.n = self.n.checked_sub(n)?;
        Some(self.sem.clone().owned_permit(n, Blocking::No))
    }

    fn into_parts(self) -> (u64, Arc<Semaphore>) {
        self.sem.permit_ended();
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the Arc is moved
        // out exactly once.
        (this.n, unsafe { std::ptr::read(&this.sem) })
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.sem.permit_ended();
        self.sem.raw.release(self.n);
    }
}

impl Drop for OwnedPermit {
    #[inline]
    fn drop(&mut self) {
        self.sem.permit_ended();
        self.sem.raw.release(self.n);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("n", &self.n).finish()
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").field("n", &self.n).finish()
    }
}
