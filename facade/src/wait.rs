//! How a blocking call waits until a deadline: the waiter it hands to the
//! core, carrying the deadline into the futex wait where the platform has
//! a timed one, or linked into the fallback `timer` where it does not.
//!
//! Used by [`Context`](crate::Context)'s blocking calls and by the
//! per-call timeout forms (`try_lock_for` and friends), which need no
//! context. Reading the clock happens here, and only for a call that has
//! to wait: a per-call timeout is turned into a deadline (one clock read)
//! after the call's fast path has failed.

use std::pin::{pin, Pin};
use std::time::{Duration, Instant};

use concur_core::Waiter;

use crate::clock;

/// When a wait must end.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Until {
    /// At this instant (a context's deadline, or `try_lock_until`).
    At(Instant),
    /// This long from now (`try_lock_for`): the clock is read here.
    After(Duration),
}

/// Runs `call` with a fresh waiter whose waits end at `until` (never, for
/// `None`). A wait the deadline ends reports an interrupt, like a cancel;
/// [`Waiter::timed_out`] tells them apart on platforms with timed futex
/// waits, where the core itself ends the wait.
#[inline]
pub(crate) fn with_waiter<R>(until: Option<Until>, call: impl FnOnce(Pin<&Waiter>) -> R) -> R {
    let Some(until) = until else {
        return call(pin!(Waiter::new()).as_ref());
    };
    timed(until, call)
}

#[cfg(all(
    any(target_os = "linux", target_os = "android", windows),
    not(concur_timer_fallback)
))]
fn timed<R>(until: Until, call: impl FnOnce(Pin<&Waiter>) -> R) -> R {
    let deadline = match until {
        Until::At(at) => clock::park_deadline(at),
        // Straight from the futex's clock (the real one, even under a
        // `step` harness's fake clock): one read, no conversion.
        Until::After(d) => concur_core::MonotonicDeadline::now().saturating_add(d),
    };
    call(pin!(Waiter::with_deadline(deadline)).as_ref())
}

#[cfg(not(all(
    any(target_os = "linux", target_os = "android", windows),
    not(concur_timer_fallback)
)))]
fn timed<R>(until: Until, call: impl FnOnce(Pin<&Waiter>) -> R) -> R {
    let waiter = pin!(Waiter::new());
    let at = match until {
        Until::At(at) => Some(at),
        Until::After(d) => clock::now().checked_add(d),
    };
    let Some(at) = at else {
        // Too far ahead for `Instant`: no deadline at all.
        return call(waiter.as_ref());
    };
    let _scheduled = crate::timer::Scheduled::new(at, waiter.as_ref());
    call(waiter.as_ref())
}
