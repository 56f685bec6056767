//! [`LoomPark`]: a futex emulated with loom's blocking primitives, with
//! deadlines that a model fires from a thread of its own.
//!
//! One table per loom execution stands in for the kernel's: a loom mutex
//! guards the list of sleepers (each with the address it sleeps on and a
//! woken flag) and the fired deadlines, and a condition variable
//! carries the wake-ups. `wait` compares the word while holding the mutex
//! and enqueues itself, so a wake that follows a change of the word cannot
//! slip between the comparison and the sleep. `wake_one` marks exactly one
//! sleeper on that address (the oldest), so loom explores the schedules
//! where a single wake goes to a thread that then does not use it;
//! `wake_all` marks every sleeper on the address.
//!
//! Loom has no clock and no timeouts. A deadline is a flag in the table
//! ([`LoomPark::deadline`] makes one, [`LoomPark::fire`] sets it and wakes
//! the sleepers waiting until it): a model that races a deadline against a
//! grant spawns a thread that fires it, and loom explores every point at
//! which it can fire. Unlike the kernel's futex, a sleeper that was woken
//! returns `TimedOut` if its deadline fired too, swallowing the wake: the
//! core must not rely on a timed-out wait having consumed none, and the
//! models check that it does not.

use std::vec::Vec;

use crate::park::{Park, TimedOut};
use crate::sync::AtomicU32;

/// A futex emulated with loom's blocking primitives; see the
/// [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct LoomPark;

/// A deadline of [`LoomPark`]: passed once [`LoomPark::fire`] fired it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoomDeadline(usize);

struct Sleeper {
    address: usize,
    ticket: usize,
    woken: bool,
}

#[derive(Default)]
struct LoomFutex {
    /// Oldest first.
    sleepers: Vec<Sleeper>,
    next_ticket: usize,
    /// One flag per deadline made in this execution: fired yet?
    fired: Vec<bool>,
}

loom::lazy_static! {
    static ref LOOM_FUTEX: (loom::sync::Mutex<LoomFutex>, loom::sync::Condvar) =
        (loom::sync::Mutex::new(LoomFutex::default()), loom::sync::Condvar::new());
}

impl LoomPark {
    /// A new deadline that has not passed.
    pub fn deadline() -> LoomDeadline {
        let mut futex = LOOM_FUTEX.0.lock().unwrap();
        futex.fired.push(false);
        LoomDeadline(futex.fired.len() - 1)
    }

    /// Lets `deadline` pass: every wait until it returns `TimedOut` (unless
    /// it was woken first), and later timed waits until it return at once.
    pub fn fire(deadline: LoomDeadline) {
        let (lock, condvar) = &*LOOM_FUTEX;
        let mut futex = lock.lock().unwrap();
        futex.fired[deadline.0] = true;
        drop(futex);
        condvar.notify_all();
    }

    fn wake(word: *const AtomicU32, count: usize) {
        let (lock, condvar) = &*LOOM_FUTEX;
        let mut futex = lock.lock().unwrap();
        let address = word as usize;
        let mut left = count;
        for sleeper in futex.sleepers.iter_mut() {
            if left == 0 {
                break;
            }
            if sleeper.address == address && !sleeper.woken {
                sleeper.woken = true;
                left -= 1;
            }
        }
        if left != count {
            condvar.notify_all();
        }
    }

    fn sleep(word: &AtomicU32, expected: u32, until: Option<LoomDeadline>) -> Result<(), TimedOut> {
        let (lock, condvar) = &*LOOM_FUTEX;
        let mut futex = lock.lock().unwrap();
        let fired = |futex: &LoomFutex| until.is_some_and(|d| futex.fired[d.0]);
        if fired(&futex) {
            return Err(TimedOut);
        }
        if word.load(crate::sync::Ordering::SeqCst) != expected {
            return Ok(());
        }
        let ticket = futex.next_ticket;
        futex.next_ticket += 1;
        futex.sleepers.push(Sleeper {
            address: word as *const AtomicU32 as usize,
            ticket,
            woken: false,
        });
        loop {
            futex = condvar.wait(futex).unwrap();
            let i = futex
                .sleepers
                .iter()
                .position(|s| s.ticket == ticket)
                .expect("a sleeper stays listed until it leaves");
            // A fired deadline wins even over a wake: harsher than the
            // kernel, so the models check that a leaver that swallowed a
            // wake passes it on.
            if fired(&futex) {
                futex.sleepers.remove(i);
                return Err(TimedOut);
            }
            if futex.sleepers[i].woken {
                futex.sleepers.remove(i);
                return Ok(());
            }
        }
    }
}

// SAFETY: the emulation compares and enqueues under one loom mutex, so a
// wake after a change of the word cannot be missed; `TimedOut` only after
// `fire`; wakes compare addresses only. (Loom's own panics end the model,
// which is the point.)
unsafe impl Park for LoomPark {
    type Deadline = LoomDeadline;

    fn wait(word: &AtomicU32, expected: u32) {
        let _ = Self::sleep(word, expected, None);
    }
    fn wait_until(word: &AtomicU32, expected: u32, deadline: LoomDeadline) -> Result<(), TimedOut> {
        Self::sleep(word, expected, Some(deadline))
    }
    fn wake_one(word: *const AtomicU32) {
        Self::wake(word, 1);
    }
    fn wake_all(word: *const AtomicU32) {
        Self::wake(word, usize::MAX);
    }
    fn task_table<'a>() -> Option<&'a super::TaskTable<Self>> {
        // One table per model execution (loom's statics are reset).
        loom::lazy_static! {
            static ref TABLE: super::TaskTable<LoomPark> = super::TaskTable::new();
        }
        Some(&TABLE)
    }
}
