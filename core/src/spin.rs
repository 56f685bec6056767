//! How a slow path waits for a busy word before it sleeps: a few short
//! spins, then a few yields of the processor, then the futex.
//!
//! The schedule is parking_lot's and WebKit's `WTF::Lock`'s, measured on
//! concur's own words (`mutex_contended_*`, `rwlock_*` in the benches):
//!
//! | round | what | why |
//! |-------|------|-----|
//! | 1..=[`SPINS`] | `2^round` spin hints, then a look at the word | a holder that is running lets go within a few hundred cycles; reading the word less often leaves its cache line with the holder |
//! | next [`YIELDS`] | [`Park::yield_now`] (`sched_yield` on the futex parker), then a look | a holder that is not running (more threads than cores) gets a processor; with an idle processor the yield returns at once and costs a syscall, not a sleep |
//! | after | sleep on the word | a futex wait and a wake cost microseconds: only worth it once the holder is plainly slow |
//!
//! The schedule is bounded in steps (3 spin rounds, 7 yields), not in time:
//! a yield returns at once when no other thread wants the processor and
//! after the others' turns when some do, which is the case it exists for.
//! It never replaces sleeping; it replaces sleeping *early*. Spinning
//! is a latency optimisation only: no algorithm depends on it, and under
//! loom it is off (every spin multiplies the schedules loom explores
//! without exercising anything new).

use core::marker::PhantomData;

use crate::park::Park;
use crate::sync::spin_hint;

/// Spin rounds before the yields: `2 + 4 + 8` spin hints in all.
#[cfg(not(loom))]
pub(crate) const SPINS: u32 = 3;
/// Spin rounds before the yields: none under loom.
#[cfg(loom)]
pub(crate) const SPINS: u32 = 0;

/// Yields after the spins, before the caller sleeps.
#[cfg(not(loom))]
pub(crate) const YIELDS: u32 = 7;
/// Yields after the spins: none under loom.
#[cfg(loom)]
pub(crate) const YIELDS: u32 = 0;

/// One waiter's progress through the schedule in the [module docs](self).
#[derive(Debug)]
pub(crate) struct SpinWait<P: Park> {
    rounds: u32,
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> SpinWait<P> {
    /// A waiter at the start of the schedule.
    #[inline]
    pub(crate) const fn new() -> Self {
        Self {
            rounds: 0,
            _park: PhantomData,
        }
    }

    /// Waits one round of the schedule and returns `true`, or returns
    /// `false` without waiting once the schedule is used up: then the
    /// caller should sleep.
    #[inline]
    // Under loom both bounds are 0, which clippy finds absurd.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
    pub(crate) fn spin(&mut self) -> bool {
        if self.rounds >= SPINS + YIELDS {
            return false;
        }
        self.rounds += 1;
        if self.rounds <= SPINS {
            for _ in 0..1u32 << self.rounds {
                spin_hint();
            }
        } else {
            P::yield_now();
        }
        true
    }

    /// Starts the schedule again (after a sleep: the word has changed, so
    /// the holder may be a running thread again).
    #[inline]
    pub(crate) fn reset(&mut self) {
        self.rounds = 0;
    }
}
