//! `Condvar` as a user meets it: notify and wait, waits that end with their
//! context (exactly one wait, the lock held again), `notify_all` reaching
//! every waiter, and the two-mutex caller bug. The bounded-queue stress test
//! is in `stress.rs`.

mod common;

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{eventually, within};
use concur_sync::{Condvar, Context, Error, Mutex};

const HANG: Duration = Duration::from_secs(60);

type Shared = Arc<(Mutex<u32>, Condvar)>;

/// Spawns a waiter until the count is at least `at_least` (or `ctx` ends);
/// reports the outcome and whether it held the lock when it came back.
fn waiter(
    shared: &Shared,
    ctx: &Context,
    at_least: u32,
    tx: &mpsc::Sender<(Result<(), Error>, bool)>,
) -> thread::JoinHandle<()> {
    let (shared, ctx, tx) = (shared.clone(), ctx.clone(), tx.clone());
    thread::spawn(move || {
        let (m, cv) = &*shared;
        let (guard, outcome) = cv.wait_while_ctx(&ctx, m.lock(), |n| *n < at_least);
        let held = m.is_locked();
        drop(guard);
        tx.send((outcome, held)).unwrap();
    })
}

#[test]
fn a_notified_waiter_sees_the_change() {
    within(HANG, || {
        let shared: Shared = Arc::new((Mutex::new(0), Condvar::new()));
        let consumer = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (m, cv) = &*shared;
                let guard = cv.wait_while(m.lock(), |n| *n == 0);
                *guard
            })
        };
        eventually("waiting", || shared.1.waiters() == 1);
        *shared.0.lock() = 5;
        assert!(shared.1.notify_one());
        assert_eq!(consumer.join().unwrap(), 5);
        assert!(!shared.1.notify_one(), "nobody waits any more");
    });
}

#[test]
fn a_context_ends_exactly_its_own_wait_and_the_lock_is_held_again() {
    within(HANG, || {
        let shared: Shared = Arc::new((Mutex::new(0), Condvar::new()));
        let (tx, rx) = mpsc::channel();
        let (cancelled, cancel) = Context::background().with_cancel();
        let a = waiter(&shared, &cancelled, 1, &tx);
        let b = waiter(&shared, &Context::background(), 1, &tx);
        eventually("both waiting", || shared.1.waiters() == 2);
        cancel.cancel();
        assert_eq!(rx.recv().unwrap(), (Err(Error::Cancelled), true));
        a.join().unwrap();
        assert_eq!(shared.1.waiters(), 1, "the other wait goes on");
        *shared.0.lock() = 1;
        shared.1.notify_one();
        assert_eq!(rx.recv().unwrap(), (Ok(()), true));
        b.join().unwrap();
    });
}

#[test]
fn a_deadline_ends_a_wait_and_an_ended_context_does_not_release_the_lock() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let soon = Context::background().with_timeout(Duration::from_millis(5));
    let (guard, outcome) = cv.wait_ctx(&soon, m.lock());
    assert_eq!(outcome, Err(Error::DeadlineExceeded));
    assert!(m.is_locked());
    drop(guard);

    let (ended, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (guard, outcome) = cv.wait_ctx(&ended, m.lock());
    assert_eq!(outcome, Err(Error::Cancelled));
    drop(guard);
    // A condition that already holds needs no wait, so it succeeds.
    let (guard, outcome) = cv.wait_while_ctx(&ended, m.lock(), |()| false);
    assert_eq!(outcome, Ok(()));
    drop(guard);
    assert_eq!(cv.waiters(), 0);
}

#[test]
fn notify_all_reaches_every_waiter_one_after_the_other() {
    within(HANG, || {
        const WAITERS: u32 = 8;
        let shared = Arc::new((Mutex::new((false, 0u32)), Condvar::new()));
        let threads: Vec<_> = (0..WAITERS)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (m, cv) = &*shared;
                    let mut state = cv.wait_while(m.lock(), |(go, _)| !*go);
                    state.1 += 1;
                })
            })
            .collect();
        eventually("all waiting", || shared.1.waiters() == WAITERS as usize);
        shared.0.lock().0 = true;
        assert_eq!(shared.1.notify_all(), WAITERS as usize);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(shared.0.lock().1, WAITERS);
    });
}

#[test]
fn waiting_with_a_second_mutex_panics_and_keeps_both_consistent() {
    within(HANG, || {
        let shared: Shared = Arc::new((Mutex::new(0), Condvar::new()));
        let (tx, rx) = mpsc::channel();
        let first = waiter(&shared, &Context::background(), 1, &tx);
        eventually("waiting", || shared.1.waiters() == 1);
        let other = Mutex::new(0u32);
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = shared.1.wait(other.lock());
        }))
        .unwrap_err();
        let message = panic.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(message.contains("two different mutexes"), "{message}");
        assert!(!other.is_locked(), "the panic released the second mutex");
        // The first waiter is untouched.
        *shared.0.lock() = 1;
        shared.1.notify_all();
        assert_eq!(rx.recv().unwrap(), (Ok(()), true));
        first.join().unwrap();
    });
}
