//! `lock_api` interop (feature `lock_api`): [`RawMutex`] and [`RawRwLock`]
//! implement `lock_api`'s raw-lock traits, so `lock_api::Mutex<RawMutex, T>`
//! and crates generic over `lock_api` use concur's locks.
//!
//! ```
//! type Mutex<T> = lock_api::Mutex<concur_core::RawMutex, T>;
//! type RwLock<T> = lock_api::RwLock<concur_core::RawRwLock, T>;
//!
//! let m = Mutex::new(1);
//! *m.lock() += 1;
//! let l = RwLock::new(vec![1]);
//! let w = l.write();
//! let r = lock_api::RwLockWriteGuard::downgrade(w);
//! assert_eq!((*m.lock(), r.len()), (2, 1));
//! ```
//!
//! Implemented for every parker: `RawMutex`, `RawRwLock` (with
//! `RawRwLockDowngrade` and `RawRwLockRecursive`). The timed traits
//! (`RawMutexTimed`, `RawRwLockTimed`, with `Instant` =
//! [`MonotonicDeadline`](crate::MonotonicDeadline)) need a parker with a
//! clock: the futex parker on Linux, Android and Windows. The guards are
//! `GuardSend`: a futex lock may be released from any thread.

use crate::mutex::RawMutex;
use crate::park::Park;
use crate::rwlock::RawRwLock;

// SAFETY: `lock`/`try_lock` give mutual exclusion with acquire ordering and
// `unlock` releases with release ordering (the core's own contract); the
// lock is not tied to a thread, so guards may be sent.
unsafe impl<P: Park> lock_api::RawMutex for RawMutex<P> {
    const INIT: Self = Self::new();
    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        RawMutex::lock(self);
    }

    #[inline]
    fn try_lock(&self) -> bool {
        RawMutex::try_lock(self)
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: lock_api's contract: the lock is held in this context.
        unsafe { RawMutex::unlock(self) }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        RawMutex::is_locked(self)
    }
}

// SAFETY: shared and exclusive locks exclude as the core documents, with
// acquire/release ordering; guards may be sent (see above).
unsafe impl<P: Park> lock_api::RawRwLock for RawRwLock<P> {
    const INIT: Self = Self::new();
    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock_shared(&self) {
        self.read();
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.try_read()
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        // SAFETY: lock_api's contract: a shared lock is held.
        unsafe { self.read_unlock() }
    }

    #[inline]
    fn lock_exclusive(&self) {
        self.write();
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.try_write()
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        // SAFETY: lock_api's contract: the exclusive lock is held.
        unsafe { self.write_unlock() }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        RawRwLock::is_locked(self)
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.is_write_locked()
    }
}

// SAFETY: `downgrade` turns the exclusive lock into a shared one atomically.
unsafe impl<P: Park> lock_api::RawRwLockDowngrade for RawRwLock<P> {
    #[inline]
    unsafe fn downgrade(&self) {
        // SAFETY: lock_api's contract: the exclusive lock is held.
        unsafe { RawRwLock::downgrade(self) }
    }
}

// SAFETY: a recursive shared lock is a shared lock that does not wait for
// waiting writers.
unsafe impl<P: Park> lock_api::RawRwLockRecursive for RawRwLock<P> {
    #[inline]
    fn lock_shared_recursive(&self) {
        self.read_recursive();
    }

    #[inline]
    fn try_lock_shared_recursive(&self) -> bool {
        self.try_read_recursive()
    }
}

#[cfg(all(
    feature = "futex",
    any(target_os = "linux", target_os = "android", windows)
))]
mod timed {
    use core::pin::pin;
    use core::time::Duration;

    use crate::park::{FutexPark, MonotonicDeadline};
    use crate::{RawMutex, RawRwLock, Waiter};

    /// Runs `wait` with a node whose deadline is `deadline`.
    fn until(
        deadline: MonotonicDeadline,
        wait: impl FnOnce(core::pin::Pin<&Waiter<FutexPark>>) -> Result<(), crate::Interrupted>,
    ) -> bool {
        let node = pin!(Waiter::with_deadline(deadline));
        wait(node.as_ref()).is_ok()
    }

    fn after(timeout: Duration) -> MonotonicDeadline {
        MonotonicDeadline::now().saturating_add(timeout)
    }

    // SAFETY: a timed lock is a lock that may give up at its deadline,
    // taking nothing (the core's deadline contract).
    unsafe impl lock_api::RawMutexTimed for RawMutex<FutexPark> {
        type Duration = Duration;
        type Instant = MonotonicDeadline;

        fn try_lock_for(&self, timeout: Duration) -> bool {
            self.try_lock() || until(after(timeout), |n| self.lock_interruptible(n))
        }

        fn try_lock_until(&self, deadline: MonotonicDeadline) -> bool {
            self.try_lock() || until(deadline, |n| self.lock_interruptible(n))
        }
    }

    // SAFETY: as for the mutex.
    unsafe impl lock_api::RawRwLockTimed for RawRwLock<FutexPark> {
        type Duration = Duration;
        type Instant = MonotonicDeadline;

        fn try_lock_shared_for(&self, timeout: Duration) -> bool {
            self.try_read() || until(after(timeout), |n| self.read_interruptible(n))
        }

        fn try_lock_shared_until(&self, deadline: MonotonicDeadline) -> bool {
            self.try_read() || until(deadline, |n| self.read_interruptible(n))
        }

        fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
            self.try_write() || until(after(timeout), |n| self.write_interruptible(n))
        }

        fn try_lock_exclusive_until(&self, deadline: MonotonicDeadline) -> bool {
            self.try_write() || until(deadline, |n| self.write_interruptible(n))
        }
    }
}
