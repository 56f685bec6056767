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
//!   `atomic-wait` crate (Linux, Android, FreeBSD, macOS, iOS, Windows), with
//!   timed waits on an absolute `CLOCK_MONOTONIC` deadline on Linux and
//!   Android (`futex` module docs: which platform has what).
//! * [`SpinPark`]: busy-waits. For embedders without an OS; correct, not
//!   efficient; no deadlines. [`ClockSpinPark`] adds them over a [`Clock`]
//!   the embedder supplies.
//! * Under `--cfg loom`, `LoomPark` emulates a futex with loom's own mutex and
//!   condition variable, so loom explores real blocking instead of a spin;
//!   its deadlines are fired by a thread of the model (`loom` module docs).
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
use crate::table::TaskTable;

#[cfg(all(feature = "futex", not(loom)))]
mod futex;
#[cfg(loom)]
mod loom;

#[cfg(loom)]
pub use self::loom::{LoomDeadline, LoomPark};
#[cfg(all(feature = "futex", not(loom)))]
pub use futex::FutexPark;
#[cfg(all(
    feature = "futex",
    not(loom),
    any(target_os = "linux", target_os = "android", windows)
))]
pub use futex::MonotonicDeadline;

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
///   A timed wait that was woken returns `Ok`, even if its deadline passed
///   meanwhile: a `TimedOut` return consumed no wake (the kernel futex
///   behaves so). The core does not rely on this for progress (a waiter
///   that leaves on its deadline re-checks the primitive first, as it does
///   after any return), only for not wasting a wake.
/// * `wake_one` and `wake_all` never dereference their pointer, only use its
///   address: a woken node may be freed by its owner the moment it observes
///   the change that preceded the wake.
/// * [`task_table`](Park::task_table) returns the same table on every
///   call (a future unlinks its node from the table it linked it into).
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

    /// The table where futures wait for this parker's mutexes and
    /// rwlocks ([`TaskTable`]): a `static`, the same one on every call
    /// (the lifetime is the caller's to pick, so generic code needs no
    /// `'static` bound on the parker).
    /// The default, `None`, leaves those futures without a place to wait:
    /// one that finds its lock held asks its executor to poll it again at
    /// once (correct, but it spins through the executor).
    #[inline]
    fn task_table<'a>() -> Option<&'a TaskTable<Self>>
    where
        Self: Sized,
    {
        None
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

/// Busy-waits instead of sleeping: for targets without an OS.
///
/// `wait` returns after one spin hint, which the futex contract allows (a
/// spurious return); callers loop, so a blocked thread spins until its
/// condition changes. It has no clock, so it takes no deadline; an embedder
/// with a clock gets timed spinning from [`ClockSpinPark`].
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
    #[cfg(not(loom))]
    fn task_table<'a>() -> Option<&'a TaskTable<Self>> {
        static TABLE: TaskTable<SpinPark> = TaskTable::new();
        Some(&TABLE)
    }
}

/// A monotonic clock an embedder supplies to [`ClockSpinPark`].
pub trait Clock {
    /// A reading of the clock; later readings compare greater or equal.
    type Instant: Copy + Ord + core::fmt::Debug + Send + Sync;
    /// Reads the clock. Must not unwind.
    fn now() -> Self::Instant;
}

/// [`SpinPark`] with a clock: a timed wait spins until `C` reads the
/// deadline or later.
///
/// ```
/// use core::sync::atomic::AtomicU32;
/// use concur_core::park::{Clock, ClockSpinPark, Park, TimedOut};
///
/// struct Ticks;
/// impl Clock for Ticks {
///     type Instant = u64;
///     fn now() -> u64 { 7 } // a real clock reads a hardware counter
/// }
/// let word = AtomicU32::new(0);
/// assert_eq!(ClockSpinPark::<Ticks>::wait_until(&word, 0, 5), Err(TimedOut));
/// assert_eq!(ClockSpinPark::<Ticks>::wait_until(&word, 0, 9), Ok(()));
/// ```
pub struct ClockSpinPark<C>(core::marker::PhantomData<fn() -> C>);

impl<C> core::fmt::Debug for ClockSpinPark<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ClockSpinPark")
    }
}

// SAFETY: as `SpinPark`; a timed wait reports `TimedOut` only once the clock
// has reached the deadline, and `Clock::now` must not unwind.
unsafe impl<C: Clock> Park for ClockSpinPark<C> {
    type Deadline = C::Instant;

    #[inline]
    fn wait(_word: &AtomicU32, _expected: u32) {
        crate::sync::spin_hint();
    }
    #[inline]
    fn wait_until(_: &AtomicU32, _: u32, deadline: C::Instant) -> Result<(), TimedOut> {
        if C::now() >= deadline {
            return Err(TimedOut);
        }
        crate::sync::spin_hint();
        Ok(())
    }
    #[inline]
    fn wake_one(_word: *const AtomicU32) {}
    #[inline]
    fn wake_all(_word: *const AtomicU32) {}
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
