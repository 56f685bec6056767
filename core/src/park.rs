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
//!
//! # The trait's shape
//!
//! [`Park`] is an `unsafe trait` because the core's soundness rests on it:
//! waits and wakes must not unwind (a waiter node is linked into a queue
//! while its thread sleeps) and wakes must not dereference the pointer they
//! are given (the word may belong to a node that was freed the moment its
//! change became visible). The core still cleans up if a parker unwinds
//! anyway (every such wait parks through one guarded helper), but only the
//! contract makes that a bug of the parker rather than of its caller.
//!
//! Besides `wait` and the wakes it has a timed wait, whose deadline type
//! belongs to the parker (a parker without a clock says so with
//! [`NoDeadline`], and then no deadline can be handed to it), and a yield
//! hook for spin-then-yield loops, with a default (a spin hint) that is
//! correct everywhere. Further waits (on two words at once, where a platform
//! has one) would be added as provided methods with a fallback default, so
//! implementors written against this shape keep compiling.

use crate::sync::{AtomicU32, OnUnwind};

/// A timed [`Park::wait_until`] returned because its deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimedOut;

/// The deadline type of a parker that has no clock: it has no values, so a
/// timed wait can never be asked of such a parker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoDeadline {}

/// A futex-like wait/wake mechanism.
///
/// # Safety
///
/// Implementations promise, and the core relies on it for memory safety:
///
/// * `wait(word, expected)` does not return until `word` has been observed
///   to differ from `expected`, or a `wake_*` call on `word` was made after
///   `wait` observed `expected`, or it returns spuriously. It never misses a
///   wake that follows a change of `word` (the futex guarantee).
///   [`wait_until`](Park::wait_until) is the same, and may also return
///   [`TimedOut`], but only once its deadline has passed.
/// * `wake_one` and `wake_all` never dereference their pointer, only use its
///   address: a woken node may be freed by its owner the moment it observes
///   the change that preceded the wake.
/// * None of the methods unwinds. (The core does not trust this blindly:
///   every wait that parks with a node linked cleans up if the parker
///   unwinds, and a second panic during that clean-up aborts; the one wait
///   that cannot clean up, a queued waiter taking the list lock to leave,
///   aborts; an interrupter whose wake unwinds still releases the owner.
///   But a parker that unwinds is broken: a release that unwinds while it
///   waits for the list lock, for one, has given back nothing.)
pub unsafe trait Park {
    /// A point in time a timed wait may sleep until; the parker's own clock.
    type Deadline: Copy + core::fmt::Debug + Send + Sync;

    /// Blocks while `word` holds `expected`. May return spuriously.
    fn wait(word: &AtomicU32, expected: u32);

    /// Blocks while `word` holds `expected`, but not past `deadline`: returns
    /// `Err(TimedOut)` once the deadline has passed, `Ok` when woken (or
    /// spuriously). Has no default: only the parker knows its clock.
    fn wait_until(
        word: &AtomicU32,
        expected: u32,
        deadline: Self::Deadline,
    ) -> Result<(), TimedOut>;

    /// Wakes at most one thread blocked in `wait` on `word`.
    fn wake_one(word: *const AtomicU32);

    /// Wakes every thread blocked in `wait` on `word`.
    fn wake_all(word: *const AtomicU32);

    /// Gives up the processor for a moment, for a thread that has spun and
    /// is about to try once more before it sleeps. The default is a spin
    /// hint, which any target has; a parker on an OS may yield the thread.
    #[inline]
    fn yield_now() {
        crate::sync::spin_hint();
    }
}

/// Parks through `P` like [`Park::wait`]; if the parker unwinds anyway (it
/// must not), runs `clean_up` before the unwind goes on. Every core wait
/// that sleeps while its node is linked, or while it is counted somewhere,
/// sleeps through this, with a `clean_up` that unlinks or uncounts it, so
/// an unwinding parker cannot leave a dead node in a queue. A panic inside
/// `clean_up` is a panic during unwinding, which aborts.
#[inline]
pub(crate) fn wait_or_clean_up<P: Park>(word: &AtomicU32, expected: u32, clean_up: impl FnOnce()) {
    let guard = OnUnwind::new(clean_up);
    P::wait(word, expected);
    guard.disarm();
}

/// Parks on the OS futex (Linux `futex`, macOS `__ulock`, Windows `WaitOnAddress`).
#[cfg(all(feature = "futex", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "futex")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct FutexPark;

// SAFETY: the futex guarantee is the kernel's; `atomic-wait`'s wait and
// wakes do not panic, and its wakes pass the address to the kernel without
// dereferencing it.
#[cfg(all(feature = "futex", not(loom)))]
unsafe impl Park for FutexPark {
    /// Timed futex waits come with the deadlines work; until then this
    /// parker takes no deadline.
    type Deadline = NoDeadline;

    #[inline]
    fn wait(word: &AtomicU32, expected: u32) {
        atomic_wait::wait(word, expected);
    }
    #[inline]
    fn wait_until(_: &AtomicU32, _: u32, deadline: NoDeadline) -> Result<(), TimedOut> {
        match deadline {}
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

// SAFETY: every `wait` returns at once (a spurious return, which the
// contract allows), the wakes do nothing, and nothing here can panic.
unsafe impl Park for SpinPark {
    /// No clock without an OS.
    type Deadline = NoDeadline;

    #[inline]
    fn wait(_word: &AtomicU32, _expected: u32) {
        crate::sync::spin_hint();
    }
    #[inline]
    fn wait_until(_: &AtomicU32, _: u32, deadline: NoDeadline) -> Result<(), TimedOut> {
        match deadline {}
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

// SAFETY: the emulation compares and enqueues under one loom mutex, so a
// wake after a change of the word cannot be missed; wakes compare addresses
// only. (Loom's own panics end the model, which is the point.)
#[cfg(loom)]
unsafe impl Park for LoomPark {
    /// Deadlines under loom come with the deadlines work.
    type Deadline = NoDeadline;

    fn wait_until(_: &AtomicU32, _: u32, deadline: NoDeadline) -> Result<(), TimedOut> {
        match deadline {}
    }
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
