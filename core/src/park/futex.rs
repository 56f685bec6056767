//! [`FutexPark`]: the OS futex.
//!
//! See [`FutexPark`] for which platform waits how.

#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
use crate::park::NoDeadline;
use crate::park::{Park, TimedOut};
use crate::sync::AtomicU32;

/// Parks on the OS futex (Linux `futex`, macOS `__ulock`, Windows
/// `WaitOnAddress`).
///
/// | platform | untimed wait and wakes | timed wait (`Deadline`) |
/// |----------|------------------------|-------------------------|
/// | Linux, Android | `futex` (through `atomic-wait`) | `FUTEX_WAIT_BITSET` with an absolute `CLOCK_MONOTONIC` deadline (`MonotonicDeadline`); a retry after `EINTR` sleeps until the same instant |
/// | Windows | `WaitOnAddress` (through `atomic-wait`) | `WaitOnAddress` with a timeout recomputed from the absolute deadline (on the performance counter) before each try, rounded up; type-checked in CI, not run there |
/// | FreeBSD, macOS, iOS | `atomic-wait` (`_umtx_op`; libc++'s address monitor) | none yet ([`NoDeadline`](crate::NoDeadline)): concur-sync delivers deadlines from a timer thread there (libc++'s monitor has no timed wait; a timed `__ulock_wait` would need every wake to go through `__ulock_wake` too) |
///
/// A timed wait reports `TimedOut` only once the clock has reached the
/// deadline: it never ends early. [`Park::yield_now`] is `sched_yield` on
/// Unix and `SwitchToThread` on Windows.
#[derive(Debug, Clone, Copy, Default)]
pub struct FutexPark;

#[cfg(any(target_os = "linux", target_os = "android", windows))]
use core::time::Duration;

/// An absolute reading of the monotonic clock std's `Instant` reads on this
/// platform (`CLOCK_MONOTONIC` on Linux and Android, the performance
/// counter on Windows): the deadline of a timed [`FutexPark`] wait.
#[cfg(any(target_os = "linux", target_os = "android", windows))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonotonicDeadline {
    since_zero: Duration,
}

#[cfg(any(target_os = "linux", target_os = "android", windows))]
impl MonotonicDeadline {
    /// The instant `since_zero` after the clock's zero (boot, typically).
    pub const fn from_since_zero(since_zero: Duration) -> Self {
        Self { since_zero }
    }

    /// The time since the clock's zero.
    pub const fn since_zero(self) -> Duration {
        self.since_zero
    }

    /// Reads the clock now.
    pub fn now() -> Self {
        Self {
            since_zero: os::now(),
        }
    }

    /// This instant plus `d`, saturating far in the future.
    pub fn saturating_add(self, d: Duration) -> Self {
        Self {
            since_zero: self.since_zero.saturating_add(d),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod os {
    use core::time::Duration;

    use super::MonotonicDeadline;
    use crate::park::TimedOut;
    use crate::sync::AtomicU32;

    pub(super) fn now() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC
        // always exists on Linux, so the call cannot fail.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
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

#[cfg(windows)]
mod os {
    use core::sync::atomic::{AtomicU64, Ordering};
    use core::time::Duration;

    use windows_sys::Win32::Foundation::{GetLastError, ERROR_TIMEOUT};
    use windows_sys::Win32::System::Performance::{
        QueryPerformanceCounter, QueryPerformanceFrequency,
    };
    use windows_sys::Win32::System::Threading::WaitOnAddress;

    use super::MonotonicDeadline;
    use crate::park::TimedOut;
    use crate::sync::AtomicU32;

    /// The counter's ticks per second, fixed at boot; 0 until first read.
    static FREQUENCY: AtomicU64 = AtomicU64::new(0);

    pub(super) fn now() -> Duration {
        let mut frequency = FREQUENCY.load(Ordering::Relaxed);
        if frequency == 0 {
            let mut f = 0i64;
            // SAFETY: `f` is a valid, writable i64; the call cannot fail on
            // Windows XP and later.
            unsafe { QueryPerformanceFrequency(&mut f) };
            frequency = (f as u64).max(1);
            FREQUENCY.store(frequency, Ordering::Relaxed);
        }
        let mut ticks = 0i64;
        // SAFETY: as above.
        unsafe { QueryPerformanceCounter(&mut ticks) };
        let ticks = ticks as u64;
        let nanos = (ticks % frequency) * 1_000_000_000 / frequency;
        Duration::new(ticks / frequency, nanos as u32)
    }

    /// `WaitOnAddress` takes a relative timeout in milliseconds, so each
    /// try recomputes it from the absolute deadline (rounded up: a wait
    /// never ends early), and a timeout is reported only once the clock has
    /// reached the deadline.
    pub(super) fn wait_until(
        word: &AtomicU32,
        expected: u32,
        deadline: MonotonicDeadline,
    ) -> Result<(), TimedOut> {
        loop {
            let left = deadline.since_zero().saturating_sub(now());
            if left.is_zero() {
                return Err(TimedOut);
            }
            // Below INFINITE (u32::MAX): a far deadline is a long finite wait.
            let ms = left
                .as_nanos()
                .div_ceil(1_000_000)
                .min(u128::from(u32::MAX - 1)) as u32;
            let ptr: *const AtomicU32 = word;
            // SAFETY: `word` is a live atomic we borrow and `expected` a u32
            // on our stack; WaitOnAddress only compares 4 bytes at each.
            let woken =
                unsafe { WaitOnAddress(ptr.cast(), (&expected as *const u32).cast(), 4, ms) };
            if woken != 0 {
                return Ok(());
            }
            // SAFETY: reads this thread's last error; no preconditions.
            if unsafe { GetLastError() } != ERROR_TIMEOUT {
                return Ok(());
            }
        }
    }
}

// SAFETY: the futex guarantee is the kernel's, and a timed wait reports
// `ETIMEDOUT` only once its deadline has passed; `atomic-wait`'s calls and
// ours do not panic, and the wakes pass the address to the kernel without
// dereferencing it.
unsafe impl Park for FutexPark {
    /// An absolute reading of the monotonic clock on Linux, Android and
    /// Windows; none elsewhere yet (see [`FutexPark`]).
    #[cfg(any(target_os = "linux", target_os = "android", windows))]
    type Deadline = MonotonicDeadline;
    /// None on this platform yet (see [`FutexPark`]).
    #[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
    type Deadline = NoDeadline;

    #[inline]
    fn wait(word: &AtomicU32, expected: u32) {
        atomic_wait::wait(word, expected);
    }
    #[cfg(any(target_os = "linux", target_os = "android", windows))]
    #[inline]
    fn wait_until(
        word: &AtomicU32,
        expected: u32,
        deadline: MonotonicDeadline,
    ) -> Result<(), TimedOut> {
        os::wait_until(word, expected, deadline)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
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
    #[inline]
    fn yield_now() {
        os_yield();
    }
    fn task_table<'a>() -> Option<&'a super::TaskTable<Self>> {
        static TABLE: super::TaskTable<FutexPark> = super::TaskTable::new();
        Some(&TABLE)
    }
}

/// Gives the processor to another runnable thread, if there is one.
#[cfg(unix)]
fn os_yield() {
    // SAFETY: sched_yield takes no arguments and cannot fail on Linux; its
    // result is only ever 0 (or -1 where unsupported, which we ignore: the
    // caller re-checks its word either way).
    unsafe { libc::sched_yield() };
}

/// Gives the processor to another runnable thread, if there is one.
#[cfg(windows)]
fn os_yield() {
    // SAFETY: SwitchToThread takes no arguments; its result only says
    // whether another thread ran.
    unsafe { windows_sys::Win32::System::Threading::SwitchToThread() };
}

/// No yield on this target: a spin hint (what the trait's default does).
#[cfg(not(any(unix, windows)))]
fn os_yield() {
    crate::sync::spin_hint();
}
