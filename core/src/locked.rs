//! A list lock, the state behind it, and the wakes deferred past it: the
//! piece the semaphore and the condvar share.
//!
//! Both keep their waiters in an intrusive list behind a small
//! [`RawMutex`]. [`with_lock`] runs a closure on that state with the lock
//! held and, once the lock is released, wakes the node words the closure
//! pushed into a [`WakeBatch`], so a woken thread does not run into a held
//! lock. [`count`] adjusts a waiter count that only lock holders write.

use core::marker::PhantomData;

use crate::mutex::RawMutex;
use crate::park::Park;
use crate::sync::{AtomicU32, AtomicUsize, Ordering, UnsafeCell};

/// Node words to wake once the list lock is released. Waking uses only
/// addresses (see [`Park`]), so a node freed by its owner before the wake
/// is harmless.
pub(crate) struct WakeBatch<P: Park> {
    words: [*const AtomicU32; 8],
    len: usize,
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> WakeBatch<P> {
    fn new() -> Self {
        Self {
            words: [core::ptr::null(); 8],
            len: 0,
            _park: PhantomData,
        }
    }

    /// Wakes `word` after the lock is released (or now, if the batch is
    /// full: the earlier words first).
    pub(crate) fn push(&mut self, word: *const AtomicU32) {
        if self.len == self.words.len() {
            self.wake();
        }
        self.words[self.len] = word;
        self.len += 1;
    }

    fn wake(&mut self) {
        for &word in &self.words[..self.len] {
            P::wake_one(word);
        }
        self.len = 0;
    }
}

/// Runs `f` on the state in `cell` with `lock` held; after unlocking, wakes
/// what `f` pushed. Unlocks and wakes even if `f` panics (a debug
/// assertion), so a panic never leaves the lock held.
///
/// # Safety
/// `cell` is only ever accessed with `lock` held (through this function).
pub(crate) unsafe fn with_lock<P: Park, T, R>(
    lock: &RawMutex<P>,
    cell: &UnsafeCell<T>,
    f: impl FnOnce(&mut T, &mut WakeBatch<P>) -> R,
) -> R {
    struct Unlock<'a, P: Park> {
        lock: &'a RawMutex<P>,
        wake: WakeBatch<P>,
    }
    impl<P: Park> Drop for Unlock<'_, P> {
        fn drop(&mut self) {
            // SAFETY: locked by `with_lock` on this thread before the guard
            // was made.
            unsafe { self.lock.unlock() };
            self.wake.wake();
        }
    }
    lock.lock();
    let mut guard = Unlock {
        lock,
        wake: WakeBatch::new(),
    };
    // SAFETY: the lock is held for the whole access, and the caller
    // promised that nothing reaches `cell` without it.
    cell.with_mut(|state| f(unsafe { &mut *state }, &mut guard.wake))
}

/// Adds `delta` to a count that only holders of its list lock write (so a
/// load and a store suffice); readers without the lock see a snapshot.
pub(crate) fn count(counter: &AtomicUsize, delta: isize) {
    let now = counter.load(Ordering::Relaxed);
    counter.store(now.wrapping_add_signed(delta), Ordering::Relaxed);
}
