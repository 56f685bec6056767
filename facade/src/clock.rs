//! The contexts' clock: `Instant`s, their conversion to the parker's
//! deadline type, and (feature `step`) a test clock a harness sets by hand.
//!
//! Deadlines are `Instant`s in the public API. Two conversions are needed:
//!
//! * to a `u64` count of nanoseconds since a process-wide base (the first
//!   use of this module), so a context's node can keep "the latest deadline
//!   seen passed" in one atomic word (see `context::node`);
//! * on platforms with a timed futex, to the core's `MonotonicDeadline`.
//!   std's `Instant` reads the clock the futex deadline is measured on
//!   there (`CLOCK_MONOTONIC`; the performance counter on Windows), so the
//!   conversion is the base pair's offset:
//!   both clocks are read once, `Instant` first, which can only make the
//!   futex deadline a few nanoseconds late, never early.
//!
//! With the `step` feature a harness can replace [`now`] by a fake clock
//! (`concur_sync::step::set_clock`); blocking waits still sleep on the real
//! one, so a harness that uses the fake clock does not block.

use std::sync::OnceLock;
use std::time::Instant;

struct Base {
    instant: Instant,
    #[cfg(all(
        any(target_os = "linux", target_os = "android", windows),
        not(concur_timer_fallback)
    ))]
    monotonic: concur_core::MonotonicDeadline,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| Base {
        instant: Instant::now(),
        #[cfg(all(
            any(target_os = "linux", target_os = "android", windows),
            not(concur_timer_fallback)
        ))]
        monotonic: concur_core::MonotonicDeadline::now(),
    })
}

/// Now, on the contexts' clock: the real one unless a `step` harness set a
/// fake one.
#[inline]
pub(crate) fn now() -> Instant {
    #[cfg(feature = "step")]
    if let Some(fake) = fake::get() {
        return fake;
    }
    Instant::now()
}

/// Nanoseconds from the base to `at`; 0 for instants before the base.
/// Order-preserving for every instant after the base (which covers every
/// time a context can be cancelled at).
#[inline]
pub(crate) fn nanos(at: Instant) -> u64 {
    let since = at.saturating_duration_since(base().instant);
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// `at` as the futex's deadline, rounded late (never early).
#[cfg(all(
    any(target_os = "linux", target_os = "android", windows),
    not(concur_timer_fallback)
))]
pub(crate) fn park_deadline(at: Instant) -> concur_core::MonotonicDeadline {
    let base = base();
    let after = at.saturating_duration_since(base.instant);
    let before = base.instant.saturating_duration_since(at);
    let zero = base.monotonic.since_zero();
    concur_core::MonotonicDeadline::from_since_zero(
        zero.saturating_add(after)
            .checked_sub(before)
            .unwrap_or_default(),
    )
}

#[cfg(feature = "step")]
pub(crate) mod fake {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// 0: the real clock; otherwise 1 + nanoseconds after the base.
    static FAKE: AtomicU64 = AtomicU64::new(0);

    pub(crate) fn get() -> Option<Instant> {
        match FAKE.load(Ordering::Acquire) {
            0 => None,
            n => Some(super::base().instant + Duration::from_nanos(n - 1)),
        }
    }

    pub(crate) fn set(now: Option<Instant>) {
        let n = now.map_or(0, |at| super::nanos(at).saturating_add(1));
        FAKE.store(n, Ordering::Release);
    }
}
