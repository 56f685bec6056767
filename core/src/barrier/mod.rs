//! `RawBarrier`: `n` threads meet, round after round, and a wait can be
//! interrupted, over [`RawMutex`] and [`RawCondvar`].
//!
//! # State
//!
//! Behind the mutex: `arrived` (threads waiting in the current round) and
//! `generation` (rounds completed, wrapping). The thread whose arrival makes
//! `arrived` reach `n` is the round's leader: it resets `arrived`, bumps
//! `generation` and notifies everyone. A waiter returns when it sees the
//! generation change; an interrupted waiter whose round has not completed
//! takes its arrival back (`arrived -= 1`) under the mutex, so the round
//! then needs one more arrival, exactly as if it had never come. One whose
//! round completed first returns as a follower: the round counted it.
//!
//! A future ([`RawBarrier::wait_async`]) arrives the same way and waits on
//! the same condvar as a task ([`CondvarFuture`](crate::CondvarFuture));
//! dropped while it waits, it takes its arrival back like an interrupted
//! thread.

mod task;

pub use task::BarrierFuture;

use core::pin::Pin;

use crate::condvar::RawCondvar;
use crate::mutex::RawMutex;
use crate::park::{DefaultPark, Park};
use crate::sync::UnsafeCell;
use crate::waiter::{Interrupted, Waiter};

#[derive(Debug)]
struct Round {
    arrived: usize,
    generation: u64,
}

/// A reusable barrier for `n` threads; see the [module docs](self).
///
/// ```
/// use core::pin::pin;
/// use concur_core::{RawBarrier, Waiter};
///
/// let barrier: RawBarrier = RawBarrier::new(1);
/// let node = pin!(Waiter::new());
/// assert_eq!(barrier.wait(node.as_ref()), Ok(true), "alone: the leader");
/// ```
#[derive(Debug)]
pub struct RawBarrier<P: Park = DefaultPark> {
    n: usize,
    mutex: RawMutex<P>,
    all_here: RawCondvar<P>,
    round: UnsafeCell<Round>,
}

// SAFETY: `round` is only accessed with `mutex` held; the rest is Sync.
unsafe impl<P: Park> Sync for RawBarrier<P> {}
// SAFETY: nothing in it is tied to a thread.
unsafe impl<P: Park> Send for RawBarrier<P> {}

impl<P: Park> RawBarrier<P> {
    crate::sync::const_fn! {
        /// A barrier for `n` threads (0 acts as 1).
        pub fn new(n: usize) -> Self {
            Self {
                n,
                mutex: RawMutex::new(),
                all_here: RawCondvar::new(),
                round: UnsafeCell::new(Round { arrived: 0, generation: 0 }),
            }
        }
    }

    /// Waits until `n` threads have arrived in this round; `Ok(true)` for
    /// the round's leader. `Err`: `node` was interrupted before the round
    /// completed, and this thread no longer counts as arrived. An already
    /// interrupted node still completes a round it would complete.
    pub fn wait(&self, node: Pin<&Waiter<P>>) -> Result<bool, Interrupted> {
        self.mutex.lock();
        /// Unlocks on every path out, a panic included.
        struct Held<'a, P: Park>(&'a RawMutex<P>);
        impl<P: Park> Drop for Held<'_, P> {
            fn drop(&mut self) {
                // SAFETY: locked by `wait` before the guard was made, and
                // held again whenever a condvar wait returns (or unwinds).
                unsafe { self.0.unlock() };
            }
        }
        let _held = Held(&self.mutex);
        let round = |f: &mut dyn FnMut(&mut Round)| {
            // SAFETY: the mutex is held whenever this runs.
            self.round.with_mut(|round| f(unsafe { &mut *round }))
        };
        let mut generation = 0;
        let mut leader = false;
        round(&mut |r| {
            r.arrived += 1;
            generation = r.generation;
            if r.arrived >= self.n {
                r.arrived = 0;
                r.generation = r.generation.wrapping_add(1);
                leader = true;
            }
        });
        if leader {
            self.all_here.notify_all();
            return Ok(true);
        }
        /// Takes the arrival back if the wait unwinds before its round
        /// completed (the condvar wait holds the mutex again on an unwind,
        /// and this drops before `_held` unlocks it).
        struct Arrival<'a, F: FnMut(&mut dyn FnMut(&mut Round))> {
            round: &'a mut F,
            generation: u64,
            armed: bool,
        }
        impl<F: FnMut(&mut dyn FnMut(&mut Round))> Drop for Arrival<'_, F> {
            fn drop(&mut self) {
                if self.armed {
                    let generation = self.generation;
                    (self.round)(&mut |r| {
                        if r.generation == generation {
                            r.arrived -= 1;
                        }
                    });
                }
            }
        }
        let mut round = round;
        let mut arrival = Arrival {
            round: &mut round,
            generation,
            armed: true,
        };
        loop {
            // SAFETY: this thread holds the mutex (`_held`).
            let outcome = unsafe { self.all_here.wait(node, &self.mutex) };
            let mut done = false;
            (arrival.round)(&mut |r| {
                done = r.generation != generation;
                if !done && outcome.is_err() {
                    r.arrived -= 1;
                }
            });
            if done || outcome.is_err() {
                arrival.armed = false;
            }
            if done {
                return Ok(false);
            }
            outcome?;
        }
    }

    /// Threads waiting in the current round (takes the mutex).
    pub fn arrived(&self) -> usize {
        self.mutex.lock();
        // SAFETY: the mutex is held.
        let arrived = self.round.with_mut(|r| unsafe { (*r).arrived });
        // SAFETY: locked above.
        unsafe { self.mutex.unlock() };
        arrived
    }

    /// The number of threads a round needs.
    pub fn parties(&self) -> usize {
        self.n
    }
}
