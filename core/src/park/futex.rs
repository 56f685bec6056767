//! [`FutexPark`]: the OS futex.
//!
//! | platform | untimed wait and wakes | timed wait (`Deadline`) |
//! |----------|------------------------|-------------------------|
//! | Linux, Android | `futex` (through `atomic-wait`) | `FUTEX_WAIT_BITSET` with an absolute `CLOCK_MONOTONIC` deadline ([`MonotonicDeadline`]) |
//! | FreeBSD, macOS, iOS, Windows | `atomic-wait` (`_umtx_op`, `__ulock`, `WaitOnAddress`) | none yet ([`NoDeadline`]): the facade delivers deadlines from its timer thread there |
//!
//! The timed wait takes an absolute deadline, so a retry after `EINTR` (a
//! signal) sleeps until the same instant: retries never drift.

#[cfg(not(any(target_os = "linux", target_os = "android")))]
use crate::park::NoDeadline;
use crate::park::{Park, TimedOut};
use crate::sync::AtomicU32;

/// Parks on the OS futex (Linux `futex`, macOS `__ulock`, Windows
/// `WaitOnAddress`).
///
/// | platform | untimed wait and wakes | timed wait (`Deadline`) |
/// |----------|------------------------|-------------------------|
/// | Linux, Android | `futex` (through `atomic-wait`) | `FUTEX_WAIT_BITSET` with an absolute `CLOCK_MONOTONIC` deadline (`MonotonicDeadline`) |
/// | FreeBSD, macOS, iOS, Windows | `atomic-wait` | none yet ([`NoDeadline`](crate::NoDeadline)): concur-sync delivers deadlines from a timer thread there |
///
/// The timed wait takes an absolute deadline, so a retry after `EINTR` (a
/// signal) sleeps until the same instant: retries never drift.
#[derive(Debug, Clone, Copy, Default)]
pub struct FutexPark;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub use linux::MonotonicDeadline;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use core::time::Duration;

    use crate::park::TimedOut;
    use crate::sync::AtomicU32;

    /// An absolute reading of the Linux `CLOCK_MONOTONIC` clock (the clock
    /// std's `Instant` reads there): the deadline of a timed
    /// [`FutexPark`](super::FutexPark) wait.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct MonotonicDeadline {
        since_zero: Duration,
    }

    impl MonotonicDeadline {
        /// The instant `since_zero` after the clock's zero (boot, on Linux).
        pub const fn from_since_zero(since_zero: Duration) -> Self {
            Self { since_zero }
        }

        /// The time since the clock's zero.
        pub const fn since_zero(self) -> Duration {
            self.since_zero
        }

        /// Reads the clock now.
        pub fn now() -> Self {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC
            // always exists on Linux, so the call cannot fail.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            Self {
                since_zero: Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32),
            }
        }

        /// This instant plus `d`, saturating far in the future.
        pub fn saturating_add(self, d: Duration) -> Self {
            Self {
                since_zero: self.since_zero.saturating_add(d),
            }
        }
    }

    /// Deadlines beyond this (about 34,000 years) sleep untimed: the kernel
    /// need not take a timespec that large.
    const FAR: u64 = 1 << 40;

    #[cfg(target_os = "linux")]
    fn errno() -> i32 {
        // SAFETY: the thread's errno location is always valid.
        unsafe { *libc::__errno_location() }
    }

    #[cfg(target_os = "android")]
    fn errno() -> i32 {
        // SAFETY: the thread's errno location is always valid.
        unsafe { *libc::__errno() }
    }

    pub(super) fn wait_until(
        word: &AtomicU32,
        expected: u32,
        deadline: MonotonicDeadline,
    ) -> Result<(), TimedOut> {
        let secs = deadline.since_zero.as_secs();
        if secs >= FAR {
            atomic_wait::wait(word, expected);
            return Ok(());
        }
        let ts = libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: deadline.since_zero.subsec_nanos() as _,
        };
        loop {
            // SAFETY: FUTEX_WAIT_BITSET reads the u32 at `word` (a live
            // atomic we borrow) and the timespec (live on our stack); the
            // absolute timeout is measured on CLOCK_MONOTONIC (no
            // FUTEX_CLOCK_REALTIME flag). The last two arguments are the
            // unused second address and the match-any bitset.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    word as *const AtomicU32 as *const u32,
                    libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
                    expected,
                    &ts as *const libc::timespec,
                    core::ptr::null::<u32>(),
                    libc::FUTEX_BITSET_MATCH_ANY,
                )
            };
            if r == 0 {
                return Ok(());
            }
            match errno() {
                libc::ETIMEDOUT => return Err(TimedOut),
                // A signal: sleep again until the same absolute deadline.
                libc::EINTR => continue,
                // EAGAIN: the word had changed; anything else: spurious.
                _ => return Ok(()),
            }
        }
    }
}

// SAFETY: the futex guarantee is the kernel's, and a timed wait reports
// `ETIMEDOUT` only once its deadline has passed; `atomic-wait`'s calls and
// ours do not panic, and the wakes pass the address to the kernel without
// dereferencing it.
unsafe impl Park for FutexPark {
    /// An absolute `CLOCK_MONOTONIC` reading on Linux and Android; none
    /// elsewhere yet (see [`FutexPark`]).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    type Deadline = MonotonicDeadline;
    /// None on this platform yet (see [`FutexPark`]).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    type Deadline = NoDeadline;

    #[inline]
    fn wait(word: &AtomicU32, expected: u32) {
        atomic_wait::wait(word, expected);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline]
    fn wait_until(
        word: &AtomicU32,
        expected: u32,
        deadline: MonotonicDeadline,
    ) -> Result<(), TimedOut> {
        linux::wait_until(word, expected, deadline)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
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
