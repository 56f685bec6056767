//! A parker that unwinds (which the `Park` contract forbids) must still not
//! leave a dead node behind: every wait that parks with a node linked, or
//! while it is counted, cleans up before the unwind leaves its frame.
//!
//! `HookPark` is the futex parker with hooks: a thread can arm it to panic
//! in its next `wait` (optionally skipping one address), and one word can be
//! given a gate that holds an interrupter inside its wake of that word.
//! (Not under loom, whose atomics `FutexPark` does not take.)
#![cfg(not(loom))]

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::AtomicU32;
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use concur_core::{
    FutexPark, NoDeadline, Park, RawCondvar, RawMutex, RawRwLock, RawSemaphore, Snapshot, TimedOut,
    Waiter,
};

const HANG: Duration = Duration::from_secs(60);

thread_local! {
    /// `Some(skip)`: panic in the next `wait` on any word but `skip`.
    static ARMED: Cell<Option<usize>> = const { Cell::new(None) };
    /// Whether an armed `wait` of this thread has panicked: only then does
    /// its `yield_now` count as the clean-up's (a contended lock yields
    /// while it spins, before it ever sleeps).
    static UNWOUND: Cell<bool> = const { Cell::new(false) };
}

/// What the gated-wake test watches, shared by its threads.
#[derive(Default)]
struct Gate {
    /// The word whose `wake_all` blocks until `open` (0: none).
    word: usize,
    open: bool,
    sleeping: bool,
    in_end_wait: bool,
    yielding: bool,
    wake_returned: bool,
    owner_returned: bool,
}

static GATE: Mutex<Gate> = Mutex::new(Gate {
    word: 0,
    open: false,
    sleeping: false,
    in_end_wait: false,
    yielding: false,
    wake_returned: false,
    owner_returned: false,
});
static GATE_CHANGED: Condvar = Condvar::new();

fn update(f: impl FnOnce(&mut Gate)) {
    f(&mut GATE.lock().unwrap());
    GATE_CHANGED.notify_all();
}

/// Waits (bounded by `HANG`, which only a real hang reaches) until `until`.
fn wait_for(until: impl Fn(&Gate) -> bool) -> std::sync::MutexGuard<'static, Gate> {
    let (gate, timeout) = GATE_CHANGED
        .wait_timeout_while(GATE.lock().unwrap(), HANG, |g| !until(g))
        .unwrap();
    assert!(!timeout.timed_out(), "hang in the gated-wake test");
    gate
}

struct HookPark;

// SAFETY: deliberately not: an armed `wait` panics, breaking the promise not
// to unwind, so the core's defence against such a parker can be tested.
// Everything else is `FutexPark`'s.
unsafe impl Park for HookPark {
    type Deadline = NoDeadline;

    fn wait(word: &AtomicU32, expected: u32) {
        let address = word as *const AtomicU32 as usize;
        if let Some(skip) = ARMED.get() {
            if address != skip {
                ARMED.set(None);
                UNWOUND.set(true);
                update(|g| g.in_end_wait = true);
                panic!("HookPark: an armed wait unwinds");
            }
        }
        let gated = GATE.lock().unwrap().word == address;
        if gated {
            update(|g| g.sleeping = true);
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
        if GATE.lock().unwrap().word == word as usize {
            drop(wait_for(|g| g.open));
            update(|g| g.wake_returned = true);
        }
    }
    fn yield_now() {
        if UNWOUND.get() {
            update(|g| g.yielding = true);
        }
        std::hint::spin_loop();
    }
}

/// Runs `f` with the next wait on this thread armed to unwind; returns
/// whether it unwound.
fn unwinding(skip: usize, f: impl FnOnce()) -> bool {
    ARMED.set(Some(skip));
    let unwound = catch_unwind(AssertUnwindSafe(f)).is_err();
    ARMED.set(None);
    unwound
}

#[test]
fn queued_acquire_leaves_the_queue_when_the_parker_unwinds() {
    let sem: RawSemaphore<HookPark> = RawSemaphore::new(1);
    sem.try_acquire(1).unwrap();
    assert!(unwinding(0, || {
        let node = pin!(Waiter::new());
        let _ = sem.acquire(node.as_ref(), 1);
    }));
    let empty = Snapshot {
        available: 0,
        pending: 0,
        capacity: 1,
        queued: 0,
        oversized: 0,
    };
    assert_eq!(sem.snapshot(), empty);
    sem.release(1);
    assert_eq!(sem.try_acquire(1), Ok(()));
}

#[test]
fn a_partial_grant_is_handed_back_when_the_parker_unwinds() {
    let sem: RawSemaphore<HookPark> = RawSemaphore::new(2);
    sem.try_acquire(1).unwrap();
    // Queues holding the one available permit, then the parker unwinds.
    assert!(unwinding(0, || {
        let node = pin!(Waiter::new());
        let _ = sem.acquire(node.as_ref(), 2);
    }));
    let back = Snapshot {
        available: 1,
        pending: 0,
        capacity: 2,
        queued: 0,
        oversized: 0,
    };
    assert_eq!(sem.snapshot(), back);
    sem.release(1);
    assert_eq!(sem.try_acquire(2), Ok(()));
}

#[test]
fn a_condvar_waiter_leaves_and_holds_the_mutex_again_when_the_parker_unwinds() {
    let mutex: RawMutex<HookPark> = RawMutex::new();
    let condvar: RawCondvar<HookPark> = RawCondvar::new();
    mutex.lock();
    assert!(unwinding(0, || {
        let node = pin!(Waiter::new());
        // SAFETY: this thread holds `mutex`.
        let _ = unsafe { condvar.wait(node.as_ref(), &mutex) };
    }));
    assert!(mutex.is_locked(), "the unwind locked the mutex again");
    assert_eq!(condvar.waiters(), 0, "the dead node left the list");
    assert_eq!(condvar.notify_all(), 0);
    // SAFETY: held, as just checked, by this thread.
    unsafe { mutex.unlock() };
}

#[test]
fn a_request_above_the_capacity_leaves_its_list_when_the_parker_unwinds() {
    let sem: RawSemaphore<HookPark> = RawSemaphore::new(1);
    assert!(unwinding(0, || {
        let node = pin!(Waiter::new());
        let _ = sem.acquire(node.as_ref(), 3);
    }));
    let s = sem.snapshot();
    assert_eq!((s.available, s.queued, s.oversized), (1, 0, 0));
    assert_eq!(sem.waiters(), 0);
    // Nobody is left to promote: growing is a plain release.
    sem.add_permits(2);
    assert_eq!(sem.try_acquire(3), Ok(()));
}

#[test]
fn an_rwlock_writer_withdraws_when_the_parker_unwinds() {
    let lock: RawRwLock<HookPark> = RawRwLock::new();
    lock.read();
    // The writer announces itself (which stops new readers) and sleeps.
    assert!(unwinding(0, || lock.write()));
    // SAFETY: the read lock taken above.
    unsafe { lock.read_unlock() };
    assert!(
        lock.try_read(),
        "a withdrawn writer still keeps readers out"
    );
    // SAFETY: taken just above.
    unsafe { lock.read_unlock() };
    assert!(lock.try_write());
    // SAFETY: taken just above.
    unsafe { lock.write_unlock() };
}

/// An interrupter is inside its visit to the mutex word (holding `WAKING`)
/// when the owner's wait ends and the parker unwinds in `Waiter::end`: the
/// owner must wait the interrupter out before its frame, and the node in
/// it, is gone.
#[test]
fn an_unwinding_end_waits_for_the_interrupter() {
    let mutex: RawMutex<HookPark> = RawMutex::new();
    let mutex_word = &mutex as *const RawMutex<HookPark> as usize;
    update(|g| g.word = mutex_word);
    /// Opens the gate however the test ends, so no thread stays blocked.
    struct OpenOnDrop;
    impl Drop for OpenOnDrop {
        fn drop(&mut self) {
            update(|g| g.open = true);
        }
    }
    let _open = OpenOnDrop;
    mutex.lock();
    let node_slot: Mutex<Option<usize>> = Mutex::new(None);
    thread::scope(|s| {
        s.spawn(|| {
            let unwound = unwinding(mutex_word, || {
                let node = pin!(Waiter::<HookPark>::new());
                *node_slot.lock().unwrap() = Some(&*node as *const Waiter<HookPark> as usize);
                let _ = mutex.lock_interruptible(node.as_ref());
            });
            assert!(unwound);
            let wake_returned = GATE.lock().unwrap().wake_returned;
            update(|g| g.owner_returned = true);
            assert!(
                wake_returned,
                "the owner returned while the interrupter was still at work"
            );
        });
        drop(wait_for(|g| g.sleeping));
        let node = node_slot.lock().unwrap().unwrap();
        s.spawn(move || {
            // SAFETY: the owner cannot leave its wait (so its node lives)
            // until this interrupt has cleared `WAKING`: what is tested.
            let node = unsafe { &*(node as *const Waiter<HookPark>) };
            node.interrupt();
        });
        // Either the owner is waiting the interrupter out (correct), or it
        // already returned (the node it points at is gone).
        let gate = wait_for(|g| g.yielding || g.owner_returned);
        let early = gate.owner_returned;
        drop(gate);
        update(|g| g.open = true);
        assert!(
            !early,
            "the owner's wait ended while an interrupter still used its node"
        );
    });
    // SAFETY: locked by this thread above.
    unsafe { mutex.unlock() };
}
