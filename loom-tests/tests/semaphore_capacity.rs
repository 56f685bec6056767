//! Models of requests above the capacity: `add_permits` racing such a
//! request as it sets itself aside (the `OVERSIZED` bit must not be missed),
//! an interrupt racing its promotion, `retire` setting a queued request aside
//! while `add_permits` grows the capacity back, and a zero-permit request
//! queued behind a head that a release completes.

#![cfg(loom)]

use concur_core::{AcquireError, RawSemaphore};
use concur_loom_tests::{queued, settled, shared_node, spin_until, waiter};
use loom::sync::Arc;
use loom::thread;

type Sem = RawSemaphore;

/// A request for a permit that does not exist yet races the `add_permits`
/// that creates it: whichever runs first, the request is granted (it either
/// sees the grown capacity, or `add_permits` sees it waiting aside).
#[test]
fn add_permits_races_a_request_above_the_capacity() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(0));
        let waiter = waiter(&sem, 1);
        sem.add_permits(1);
        assert_eq!(waiter.join().unwrap(), Ok(()), "the new permit was missed");
        assert_eq!(sem.snapshot(), settled(1));
        assert_eq!(sem.waiters(), 0);
    });
}

/// A request waiting aside is interrupted while `add_permits` promotes it:
/// it is granted or interrupted, and either way nothing is left queued or
/// pending.
#[test]
fn an_interrupt_races_the_promotion_of_a_request() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(0));
        let node = shared_node();
        let waiting = {
            let (sem, node) = (sem.clone(), node.clone());
            thread::spawn(move || {
                let result = sem.acquire(node.as_ref(), 1);
                if result.is_ok() {
                    sem.release(1);
                }
                result
            })
        };
        spin_until(|| sem.waiters() == 1);
        let interrupter = thread::spawn(move || node.interrupt());
        sem.add_permits(1);
        interrupter.join().unwrap();
        let result = waiting.join().unwrap();
        assert!(matches!(result, Ok(()) | Err(AcquireError::Interrupted)));
        assert_eq!(sem.snapshot(), settled(1));
        assert_eq!(sem.waiters(), 0);
    });
}

/// A queued request for 2 holds nothing yet; this thread holds both
/// permits, retires one (the request no longer fits and steps aside) while
/// another thread adds one back. The request must end up granted once the
/// last held permit is released: the capacity is 2 again.
#[test]
fn retire_races_add_permits_under_a_queued_request() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(2));
        sem.try_acquire(2).unwrap();
        let waiter = waiter(&sem, 2);
        spin_until(|| queued(&sem) == 1);

        let adder = {
            let sem = sem.clone();
            thread::spawn(move || sem.add_permits(1))
        };
        sem.retire(1);
        adder.join().unwrap();
        sem.release(1);

        assert_eq!(waiter.join().unwrap(), Ok(()), "the request was stranded");
        assert_eq!(sem.snapshot(), settled(2));
    });
}

/// A zero-permit request queues behind a head waiting for the one permit,
/// racing the release that completes the head: the zero request must not be
/// left behind (it completes with the head, needing nothing).
#[test]
fn a_zero_permit_request_completes_behind_the_head() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(1));
        sem.try_acquire(1).unwrap();
        let head = waiter(&sem, 1);
        spin_until(|| queued(&sem) == 1);
        let zero = waiter(&sem, 0);
        sem.release(1);
        assert_eq!(head.join().unwrap(), Ok(()));
        assert_eq!(zero.join().unwrap(), Ok(()), "the zero request was left");
        assert_eq!(sem.snapshot(), settled(1));
    });
}
