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
#[cfg_attr(docsrs, doc(cfg(feature = "futex")))]
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
/// One table per loom execution stands in for the kernel's: a loom mutex
/// guards the list of sleepers (each with the address it sleeps on and a
/// woken flag) and a condition variable carries the wake-ups. `wait` compares
/// the word while holding the mutex and enqueues itself, so a wake that
/// follows a change of the word cannot slip between the comparison and the
/// sleep. `wake_one` marks exactly one sleeper on that address (the oldest),
/// so loom explores the schedules where a single wake goes to a thread that
/// then does not use it; `wake_all` marks every sleeper on the address.
#[cfg(loom)]
#[derive(Debug, Clone, Copy, Default)]
pub struct LoomPark;

#[cfg(loom)]
#[derive(Default)]
struct LoomFutex {
    /// (address, ticket, woken), oldest first.
    sleepers: std::vec::Vec<(usize, usize, bool)>,
    next_ticket: usize,
}

#[cfg(loom)]
loom::lazy_static! {
    static ref LOOM_FUTEX: (loom::sync::Mutex<LoomFutex>, loom::sync::Condvar) =
        (loom::sync::Mutex::new(LoomFutex::default()), loom::sync::Condvar::new());
}

#[cfg(loom)]
impl LoomPark {
    fn wake(word: *const AtomicU32, count: usize) {
        let (lock, condvar) = &*LOOM_FUTEX;
        let mut futex = lock.lock().unwrap();
        let address = word as usize;
        let mut left = count;
        for sleeper in futex.sleepers.iter_mut() {
            if left == 0 {
                break;
            }
            if sleeper.0 == address && !sleeper.2 {
                sleeper.2 = true;
                left -= 1;
            }
        }
        if left != count {
            condvar.notify_all();
        }
    }
}

#[cfg(loom)]
impl Park for LoomPark {
    fn wait(word: &AtomicU32, expected: u32) {
        let (lock, condvar) = &*LOOM_FUTEX;
        let mut futex = lock.lock().unwrap();
        if word.load(crate::sync::Ordering::SeqCst) != expected {
            return;
        }
        let ticket = futex.next_ticket;
        futex.next_ticket += 1;
        futex
            .sleepers
            .push((word as *const AtomicU32 as usize, ticket, false));
        loop {
            futex = condvar.wait(futex).unwrap();
            let me = futex.sleepers.iter().position(|s| s.1 == ticket);
            if let Some(i) = me.filter(|&i| futex.sleepers[i].2) {
                futex.sleepers.remove(i);
                return;
            }
        }
    }
    fn wake_one(word: *const AtomicU32) {
        Self::wake(word, 1);
    }
    fn wake_all(word: *const AtomicU32) {
        Self::wake(word, usize::MAX);
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
