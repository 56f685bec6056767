//! An interrupter whose parker unwinds in its wake (which the `Park`
//! contract forbids) must still release the owner of the node: `WAKING` is
//! cleared and the owner woken on every path out of `Waiter::interrupt`.
//!
//! The owner blocks on a mutex; the interrupter's wake of the mutex word
//! wakes it for real, then waits until the owner sleeps in `Waiter::end`
//! (waiting for `WAKING` to clear), then panics. Without the guarded end of
//! the interrupt the owner would sleep on forever.
#![cfg(not(loom))]

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::AtomicU32;
use std::sync::{mpsc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use concur_core::{FutexPark, NoDeadline, Park, RawMutex, TimedOut, Waiter};

const HANG: Duration = Duration::from_secs(60);

static MUTEX: RawMutex<WakePanicPark> = RawMutex::new();

thread_local! {
    static IS_OWNER: Cell<bool> = const { Cell::new(false) };
    static IS_INTERRUPTER: Cell<bool> = const { Cell::new(false) };
}

/// (owner asleep on the mutex, owner asleep in `end`)
static SEEN: Mutex<(bool, bool)> = Mutex::new((false, false));
static SEEN_CHANGED: Condvar = Condvar::new();

fn mutex_word() -> usize {
    &MUTEX as *const RawMutex<WakePanicPark> as usize
}

fn see(f: impl FnOnce(&mut (bool, bool))) {
    f(&mut SEEN.lock().unwrap());
    SEEN_CHANGED.notify_all();
}

fn wait_until(f: impl Fn(&(bool, bool)) -> bool) {
    let (seen, timeout) = SEEN_CHANGED
        .wait_timeout_while(SEEN.lock().unwrap(), HANG, |s| !f(s))
        .unwrap();
    drop(seen);
    assert!(!timeout.timed_out(), "hang before the race was set up");
}

struct WakePanicPark;

// SAFETY: deliberately not: the interrupter's wake of the mutex word panics,
// breaking the promise not to unwind, to test the core's defence. Waits and
// every other wake are `FutexPark`'s.
unsafe impl Park for WakePanicPark {
    type Deadline = NoDeadline;

    fn wait(word: &AtomicU32, expected: u32) {
        if IS_OWNER.get() {
            let on_mutex = word as *const AtomicU32 as usize == mutex_word();
            see(|s| if on_mutex { s.0 = true } else { s.1 = true });
        }
        FutexPark::wait(word, expected);
    }
    fn wait_until(_: &AtomicU32, _: u32, deadline: NoDeadline) -> Result<(), TimedOut> {
        match deadline {}
    }
    fn wake_one(word: *const AtomicU32) {
        FutexPark::wake_one(word);
    }
    fn wake_all(word: *const AtomicU32) {
        FutexPark::wake_all(word);
        if IS_INTERRUPTER.get() && word as usize == mutex_word() {
            wait_until(|s| s.1);
            panic!("WakePanicPark: the interrupter's wake unwinds");
        }
    }
}

#[test]
fn an_interrupter_whose_wake_unwinds_still_releases_the_owner() {
    MUTEX.lock();
    let (node_tx, node_rx) = mpsc::channel::<usize>();
    let (done_tx, done_rx) = mpsc::channel();
    // Detached threads: if the owner is never released, the test fails on
    // the bounded wait below instead of hanging in a join.
    thread::spawn(move || {
        IS_OWNER.set(true);
        let node = pin!(Waiter::<WakePanicPark>::new());
        node_tx
            .send(&*node as *const Waiter<WakePanicPark> as usize)
            .unwrap();
        let result = MUTEX.lock_interruptible(node.as_ref());
        done_tx.send(result.is_err()).unwrap();
    });
    let node = node_rx.recv().unwrap();
    wait_until(|s| s.0);
    let interrupter = thread::spawn(move || {
        IS_INTERRUPTER.set(true);
        // SAFETY: the owner cannot leave its wait (so its node lives) until
        // this interrupt has cleared `WAKING`.
        let node = unsafe { &*(node as *const Waiter<WakePanicPark>) };
        catch_unwind(AssertUnwindSafe(|| node.interrupt())).is_err()
    });
    let interrupted = done_rx
        .recv_timeout(HANG)
        .expect("the owner was never released after the interrupter's wake unwound");
    assert!(interrupted, "the owner's wait did not end interrupted");
    assert!(
        interrupter.join().unwrap(),
        "the interrupter's wake did not unwind"
    );
    // SAFETY: locked by this thread above.
    unsafe { MUTEX.unlock() };
}
