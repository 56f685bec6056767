//! Models of `RawCondvar` and `RawBarrier`: a notify racing a wait (no lost
//! wake-up), an interrupt racing `notify_one` (the notification is not
//! swallowed by the interrupted waiter: it reaches the other one), a notify
//! after an interrupt (it skips the interrupted waiter), an interrupt
//! beside and inside a `notify_all` chain (the chain goes on), and a
//! barrier round with an interrupted waiter (the round still completes
//! with a replacement, and nobody is left asleep).

#![cfg(loom)]

use core::pin::pin;

use concur_core::{RawBarrier, RawCondvar, RawMutex, Waiter};
use concur_loom_tests::{shared_node, spin_until};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// A flag guarded by a mutex, and a condvar to wait for it.
struct Flag {
    mutex: RawMutex,
    ready: AtomicBool,
    changed: RawCondvar,
}

impl Flag {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            mutex: RawMutex::new(),
            ready: AtomicBool::new(false),
            changed: RawCondvar::new(),
        })
    }

    /// Waits for the flag with `node`; `false` if interrupted first.
    fn wait(&self, node: core::pin::Pin<&Waiter>) -> bool {
        self.mutex.lock();
        let mut ok = true;
        while !self.ready.load(Ordering::Relaxed) {
            // SAFETY: this thread holds the mutex.
            if unsafe { self.changed.wait(node, &self.mutex) }.is_err() {
                ok = false;
                break;
            }
        }
        // SAFETY: held again after every wait.
        unsafe { self.mutex.unlock() };
        ok
    }

    /// Sets the flag under the mutex.
    fn set(&self) {
        self.mutex.lock();
        self.ready.store(true, Ordering::Relaxed);
        // SAFETY: locked above.
        unsafe { self.mutex.unlock() };
    }
}

/// Two waiters linked in order: the first with a node another thread can
/// interrupt, the second with its own. Returns the node and both threads
/// (each says whether it saw the flag, `false` if interrupted first).
fn two_waiters(
    flag: &Arc<Flag>,
) -> (
    core::pin::Pin<Arc<Waiter>>,
    thread::JoinHandle<bool>,
    thread::JoinHandle<bool>,
) {
    let node = shared_node();
    let first = {
        let (flag, node) = (flag.clone(), node.clone());
        thread::spawn(move || flag.wait(node.as_ref()))
    };
    spin_until(|| flag.changed.waiters() == 1);
    let second = {
        let flag = flag.clone();
        thread::spawn(move || flag.wait(pin!(Waiter::new()).as_ref()))
    };
    spin_until(|| flag.changed.waiters() == 2);
    (node, first, second)
}

#[test]
fn notify_races_a_wait() {
    loom::model(|| {
        let flag = Flag::new();
        let waiter = {
            let flag = flag.clone();
            thread::spawn(move || flag.wait(pin!(Waiter::new()).as_ref()))
        };
        flag.set();
        flag.changed.notify_one();
        assert!(waiter.join().unwrap());
        assert_eq!(flag.changed.waiters(), 0);
    });
}

#[test]
fn an_interrupted_waiter_does_not_swallow_notify_one() {
    loom::model(|| {
        let flag = Flag::new();
        let (node, first, second) = two_waiters(&flag);

        let interrupter = thread::spawn(move || node.interrupt());
        flag.set();
        flag.changed.notify_one();
        interrupter.join().unwrap();
        if first.join().unwrap() {
            // The first took the one notification before its interrupt
            // counted: the second needs its own.
            flag.changed.notify_one();
        }
        assert!(second.join().unwrap(), "the notification was lost");
        assert_eq!(flag.changed.waiters(), 0);
    });
}

/// An interrupt that happened before `notify_one`, while the interrupted
/// waiter may still be linked: the notification skips it and reaches the
/// second waiter, which needs no other.
#[test]
fn a_notify_after_an_interrupt_goes_to_the_next_waiter() {
    loom::model(|| {
        let flag = Flag::new();
        let (node, first, second) = two_waiters(&flag);
        node.interrupt();
        flag.set();
        flag.changed.notify_one();
        assert!(
            !first.join().unwrap(),
            "the interrupted waiter took the notification"
        );
        assert!(second.join().unwrap());
    });
}

/// The first of two waiters is interrupted while `notify_all` wakes them
/// (both directly: the chain is two links wide): whichever comes first, the
/// second sees the flag.
#[test]
fn an_interrupt_beside_notify_all_does_not_strand_the_other() {
    loom::model(|| {
        let flag = Flag::new();
        let (node, first, second) = two_waiters(&flag);

        let interrupter = thread::spawn(move || node.interrupt());
        flag.set();
        assert!(flag.changed.notify_all() <= 2);
        interrupter.join().unwrap();
        let _ = first.join().unwrap();
        assert!(second.join().unwrap(), "the other waiter was not woken");
        assert_eq!(flag.changed.waiters(), 0);
    });
}

/// The first of three waiters is interrupted while `notify_all` chains
/// them: interrupted before, it leaves and the other two are woken
/// directly; notified before, it must still wake the third (two behind it)
/// once it has the mutex. Three waiters explode the schedules at bound 2
/// (minutes), so this model runs at bound 1 unless `CONCUR_LOOM_CHAIN_FULL`
/// is set (then at `LOOM_MAX_PREEMPTIONS`; `.ci/long` runs it at 2).
#[test]
fn an_interrupt_inside_a_notify_all_chain_does_not_break_it() {
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("CONCUR_LOOM_CHAIN_FULL").is_none() {
        builder.preemption_bound = Some(1);
    }
    builder.check(|| {
        let flag = Flag::new();
        let (node, first, second) = two_waiters(&flag);
        let third = {
            let flag = flag.clone();
            thread::spawn(move || flag.wait(pin!(Waiter::new()).as_ref()))
        };
        spin_until(|| flag.changed.waiters() == 3);

        let interrupter = thread::spawn(move || node.interrupt());
        flag.set();
        assert!(flag.changed.notify_all() <= 3);
        interrupter.join().unwrap();
        let _ = first.join().unwrap();
        assert!(second.join().unwrap());
        assert!(
            third.join().unwrap(),
            "the chain stopped at the interrupted waiter"
        );
        assert_eq!(flag.changed.waiters(), 0);
    });
}

#[test]
fn a_barrier_round_survives_an_interrupted_waiter() {
    loom::model(|| {
        let barrier = Arc::new(RawBarrier::new(2));
        let node = shared_node();
        // Interrupted while it waits, the quitter leaves the round and comes
        // back with a fresh node; or the round completed first.
        let quitter = {
            let (barrier, node) = (barrier.clone(), node.clone());
            thread::spawn(move || match barrier.wait(node.as_ref()) {
                Ok(leader) => leader,
                Err(_) => barrier.wait(pin!(Waiter::new()).as_ref()).unwrap(),
            })
        };
        let interrupter = thread::spawn(move || node.interrupt());
        let me = barrier.wait(pin!(Waiter::new()).as_ref()).unwrap();
        interrupter.join().unwrap();
        let quitter = quitter.join().unwrap();
        assert!(me != quitter, "exactly one leader per round");
        assert_eq!(barrier.arrived(), 0, "a round was left half full");
    });
}
