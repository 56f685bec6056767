//! How a blocked thread sleeps and how it is woken: the futex contract.
//!
//! Every slow path in the core blocks through [`Park`], which has the
//! semantics of a futex: [`Park::wait`] sleeps only while the word still
//! holds the expected value (checked atomically with going to sleep), may
//! return spuriously, and [`Park::wake_one`] / [`Park::wake_all`] wake
//! threads sleeping on a word. Every algorithm re-checks its condition after
//! `wait` returns, so spurious returns cost a loop iteration, never
//! correctness.
//!
//! Implementations:
//!
//! * [`FutexPark`] (feature `futex`, the default): the OS futex through the
//!   `atomic-wait` crate (Linux, Android, FreeBSD, macOS, iOS, Windows).
//! * [`SpinPark`]: busy-waits. For embedders without an OS; correct, not
//!   efficient.
//! * Under `--cfg loom`, `LoomPark` emulates a futex with loom's own mutex and
//!   condition variable, so loom explores real blocking instead of a spin.
//!
//! [`DefaultPark`] names the first of these that is available.

use crate::sync::AtomicU32;

/// A futex-like wait/wake mechanism.
///
/// # Contract
///
/// * `wait(word, expected)` must not return until `word` has been observed to
///   differ from `expected`, or a `wake_*` call on `word` was made after
///   `wait` observed `expected`, or it returns spuriously. It must never
///   miss a wake that follows a change of `word` (the futex guarantee).
/// * `wake_*` take raw pointers because a woken node may be freed by its owner
///   the moment it observes the change that preceded the wake: an
///   implementation must never dereference the pointer, only use its address.
pub trait Park {
    /// Blocks while `word` holds `expected`. May return spuriously.
    fn wait(word: &AtomicU32, expected: u32);
    /// Wakes at most one thread blocked in `wait` on `word`.
    fn wake_one(word: *const AtomicU32);
    /// Wakes every thread blocked in `wait` on `word`.
    fn wake_all(word: *const AtomicU32);
}

/// Parks on the OS futex (Linux `futex`, macOS `__ulock`, Windows `WaitOnAddress`).
#[cfg(all(feature = "futex", not(loom)))]
#[derive(Debug, Clone, Copy, Default)]
pub struct FutexPark;

#[cfg(all(feature = "futex", not(loom)))]
impl Park for FutexPark {
    #[inline]
    fn wait(word: &AtomicU32, expected: u32) {
        atomic_wait::wait(word, expected);
    }
    #[inline]
    fn wake_one(word: *const AtomicU32) {
        atomic_wait::wake_one(word);
    }
    #[inline]
    fn wake_all(word: *const AtomicU32) {
        atomic_wait::wake_all(word);
    }
}

/// Busy-waits instead of sleeping: for targets without an OS.
///
/// `wait` returns after one spin hint, which the futex contract allows (a
/// spurious return); callers loop, so a blocked thread spins until its
/// condition changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpinPark;

impl Park for SpinPark {
    #[inline]
    fn wait(_word: &AtomicU32, _expected: u32) {
        crate::sync::spin_hint();
    }
    #[inline]
    fn wake_one(_word: *const AtomicU32) {}
    #[inline]
    fn wake_all(_word: *const AtomicU32) {}
}

/// A futex emulated with loom's blocking primitives.
///
/// One process-wide (per loom execution) mutex and condition variable stand
/// in for the kernel's futex table: `wait` compares the word while holding
/// the mutex, and `wake_*` take the mutex before notifying, so a wake that
/// follows a change of the word cannot slip between the comparison and the
/// sleep. Every wake notifies every sleeper; they re-check their words.
#[cfg(loom)]
#[derive(Debug, Clone, Copy, Default)]
pub struct LoomPark;

#[cfg(loom)]
loom::lazy_static! {
    static ref LOOM_FUTEX: (loom::sync::Mutex<()>, loom::sync::Condvar) =
        (loom::sync::Mutex::new(()), loom::sync::Condvar::new());
}

#[cfg(loom)]
impl Park for LoomPark {
    fn wait(word: &AtomicU32, expected: u32) {
        let (lock, condvar) = &*LOOM_FUTEX;
        let guard = lock.lock().unwrap();
        if word.load(crate::sync::Ordering::SeqCst) == expected {
            drop(condvar.wait(guard).unwrap());
        }
    }
    fn wake_one(word: *const AtomicU32) {
        Self::wake_all(word);
    }
    fn wake_all(_word: *const AtomicU32) {
        let (lock, condvar) = &*LOOM_FUTEX;
        let _guard = lock.lock().unwrap();
        condvar.notify_all();
    }
}

/// The parker the primitives use unless told otherwise.
#[cfg(loom)]
pub type DefaultPark = LoomPark;
/// The parker the primitives use unless told otherwise.
#[cfg(all(feature = "futex", not(loom)))]
pub type DefaultPark = FutexPark;
/// The parker the primitives use unless told otherwise.
#[cfg(all(not(feature = "futex"), not(loom)))]
pub type DefaultPark = SpinPark;
