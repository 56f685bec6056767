//! Models of `RawSemaphore` resizing and closing while waiters queue:
//! `add_permits` / `forget_permits` racing a queued waiter and a release,
//! `retire` making a partly granted head too large while it is interrupted,
//! and `close` racing an interrupt of a partly granted head and the last
//! release. Each checks that every permit is accounted for and the queue is
//! empty at the end. (Requests above the capacity, which wait aside, have
//! their own models in `semaphore_capacity`.)

#![cfg(loom)]

use concur_core::RawSemaphore;
use concur_loom_tests::{queued, settled, shared_node, spin_until, waiter};
use loom::sync::Arc;
use loom::thread;

type Sem = RawSemaphore;

/// New permits arrive while a waiter queues for the ones being released.
#[test]
fn add_permits_races_a_queued_waiter_and_a_release() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(2));
        sem.try_acquire(2).unwrap();
        let waiter = waiter(&sem, 2);
        spin_until(|| queued(&sem) == 1);

        let adder = {
            let sem = sem.clone();
            thread::spawn(move || sem.add_permits(1))
        };
        sem.release(2);

        adder.join().unwrap();
        assert!(
            waiter.join().unwrap().is_ok(),
            "a satisfiable waiter was refused"
        );
        assert_eq!(sem.snapshot(), settled(3));
    });
}

/// Available permits are forgotten while a waiter queues and a release
/// grants it: only what was available goes, and the books still balance.
#[test]
fn forget_permits_races_a_queued_waiter_and_a_release() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(2));
        sem.try_acquire(2).unwrap();
        let waiter = waiter(&sem, 2);
        spin_until(|| queued(&sem) == 1);

        let forgetter = {
            let sem = sem.clone();
            thread::spawn(move || sem.forget_permits(1))
        };
        sem.release(2);

        let forgotten = forgetter.join().unwrap();
        let _ = waiter.join().unwrap();
        assert!(forgotten <= 1);
        assert_eq!(sem.snapshot(), settled(2 - forgotten));
    });
}

/// The head asks for 3 and holds a partial grant of 1, a request for 1
/// waits behind it. Retiring a held permit makes the head too large while
/// an interrupter ends it: either way its partial grant must reach the
/// waiter behind (which completes), and nothing stays queued.
#[test]
fn retire_races_an_interrupted_partly_granted_head() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(3));
        sem.try_acquire(3).unwrap();
        let node = shared_node();
        let head = {
            let (sem, node) = (sem.clone(), node.clone());
            thread::spawn(move || sem.acquire(node.as_ref(), 3).is_ok())
        };
        spin_until(|| queued(&sem) == 1);
        sem.release(1);
        let behind = waiter(&sem, 1);
        spin_until(|| queued(&sem) == 2);

        let interrupter = thread::spawn(move || node.interrupt());
        // This thread holds 2: one is retired, the other released below.
        sem.retire(1);

        interrupter.join().unwrap();
        assert!(
            behind.join().unwrap().is_ok(),
            "the head's partial grant was lost"
        );
        assert!(
            !head.join().unwrap(),
            "a head above the capacity was granted"
        );
        sem.release(1);
        assert_eq!(sem.snapshot(), settled(2));
    });
}

/// A head asking for 2 holds a partial grant of 1; `close`, an interrupt of
/// the head and the release of the last permit race. The head ends however
/// the race goes (granted, closed or interrupted), and every permit is back.
#[test]
fn close_races_an_interrupted_partly_granted_head_and_the_last_release() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(2));
        sem.try_acquire(2).unwrap();
        let node = shared_node();
        let head = {
            let (sem, node) = (sem.clone(), node.clone());
            thread::spawn(move || {
                let granted = sem.acquire(node.as_ref(), 2).is_ok();
                if granted {
                    sem.release(2);
                }
            })
        };
        spin_until(|| queued(&sem) == 1);
        sem.release(1);

        let closer = {
            let sem = sem.clone();
            thread::spawn(move || sem.close())
        };
        let interrupter = thread::spawn(move || node.interrupt());
        sem.release(1);

        closer.join().unwrap();
        interrupter.join().unwrap();
        head.join().unwrap();
        assert!(sem.is_closed());
        assert_eq!(sem.snapshot(), settled(2));
    });
}
