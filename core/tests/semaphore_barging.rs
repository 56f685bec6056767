//! Barging mode, step by step (feature `step`): a running caller takes
//! available permits past the queue, the head gets an offer it may lose at
//! most `FAIR_AFTER` times before releases hand it its permits, an offer an
//! interrupted or closed waiter cannot use goes on to the next, and the
//! FIFO mode never lets anyone past.
#![cfg(all(feature = "step", not(loom)))]

use std::pin::{pin, Pin};

use concur_core::step::{AcquireStep, Progress};
use concur_core::{AcquireError, DefaultPark, RawSemaphore, TryAcquireError, Waiter, FAIR_AFTER};

type Sem = RawSemaphore<DefaultPark>;
type Step<'a> = AcquireStep<'a, DefaultPark>;

/// Starts a queued acquire of `n`; panics if it did not have to wait.
fn queue<'a>(sem: &'a Sem, node: Pin<&'a Waiter>, n: u64) -> Step<'a> {
    // SAFETY: every step of these tests is polled to the end or dropped.
    match unsafe { sem.start_acquire(node, n) } {
        Progress::Waiting(step) => step,
        Progress::Done(r) => panic!("acquire of {n} did not queue: {r:?}"),
    }
}

/// Polls a ready step that must have been queued again.
fn requeued(step: Step<'_>) -> Step<'_> {
    assert!(step.is_ready());
    match step.poll() {
        Progress::Waiting(step) => {
            assert!(!step.is_ready(), "queued again, asleep");
            step
        }
        Progress::Done(r) => panic!("expected the offer lost, got {r:?}"),
    }
}

/// Polls a ready step to its end.
fn done(step: Step<'_>) -> Result<(), AcquireError> {
    assert!(step.is_ready());
    match step.poll() {
        Progress::Done(r) => r,
        Progress::Waiting(_) => panic!("expected the wait to end"),
    }
}

#[test]
fn a_running_caller_takes_the_offer_at_most_fair_after_times() {
    let sem = Sem::new_barging(1);
    assert!(sem.is_barging());
    sem.try_acquire(1).unwrap();
    let node = pin!(Waiter::new());
    let mut head = queue(&sem, node.as_ref(), 1);
    for _ in 0..FAIR_AFTER {
        sem.release(1);
        assert!(head.is_ready(), "the release offered the head the permit");
        assert_eq!(sem.available(), 1, "offered, not granted");
        // The running caller comes back first and takes it.
        sem.try_acquire(1).unwrap();
        head = requeued(head);
    }
    sem.release(1);
    assert!(head.is_ready());
    assert_eq!(
        sem.try_acquire(1),
        Err(TryAcquireError::NoPermits),
        "after FAIR_AFTER lost offers the permit is handed to the head"
    );
    assert_eq!(done(head), Ok(()));
    sem.release(1);
    assert_eq!(sem.available(), 1);
    assert_eq!(sem.waiters(), 0);
}

#[test]
fn an_offer_nobody_takes_completes_the_wait() {
    let sem = Sem::new_barging(2);
    sem.try_acquire(2).unwrap();
    let node = pin!(Waiter::new());
    let head = queue(&sem, node.as_ref(), 2);
    sem.release(1);
    assert!(!head.is_ready(), "one permit does not cover the head");
    assert_eq!(sem.available(), 1, "but a running caller may take it");
    sem.release(1);
    assert_eq!(done(head), Ok(()));
    assert_eq!(sem.available(), 0);
    sem.release(2);
    assert_eq!(sem.snapshot().available, 2);
}

#[test]
fn an_offer_to_an_interrupted_or_closed_waiter_goes_on() {
    let sem = Sem::new_barging(1);
    sem.try_acquire(1).unwrap();
    let (a, b) = (pin!(Waiter::new()), pin!(Waiter::new()));
    let first = queue(&sem, a.as_ref(), 1);
    let second = queue(&sem, b.as_ref(), 1);
    sem.release(1);
    assert!(
        first.is_ready() && !second.is_ready(),
        "one offer at a time"
    );
    a.interrupt();
    assert_eq!(done(first), Err(AcquireError::Interrupted));
    assert!(second.is_ready(), "the offer went on to the next waiter");
    assert_eq!(done(second), Ok(()));

    // An offer out when the semaphore closes: the owner sees `Closed`.
    let c = pin!(Waiter::new());
    let third = queue(&sem, c.as_ref(), 1);
    sem.release(1);
    assert!(third.is_ready());
    sem.close();
    assert_eq!(done(third), Err(AcquireError::Closed));
    assert_eq!(sem.available(), 1);
}

#[test]
fn a_large_request_gets_hand_offs_after_losing_its_offers() {
    let sem = Sem::new_barging(3);
    sem.try_acquire(3).unwrap();
    let node = pin!(Waiter::new());
    let mut head = queue(&sem, node.as_ref(), 3);
    // Small callers keep taking what the releases offer.
    for _ in 0..FAIR_AFTER {
        sem.release(3);
        assert!(head.is_ready());
        sem.try_acquire(3).unwrap();
        head = requeued(head);
    }
    // Now every release is handed to the head, a permit at a time.
    for _ in 0..2 {
        sem.release(1);
        assert_eq!(sem.try_acquire(1), Err(TryAcquireError::NoPermits));
        assert!(!head.is_ready());
    }
    sem.release(1);
    assert_eq!(done(head), Ok(()));
    assert_eq!(sem.snapshot().pending, 0);
}

#[test]
fn forgetting_available_permits_sets_queued_requests_aside() {
    let sem = Sem::new_barging(4);
    sem.try_acquire(4).unwrap();
    let node = pin!(Waiter::new());
    let head = queue(&sem, node.as_ref(), 4);
    sem.release(1);
    assert_eq!(sem.forget_permits(1), 1, "available in barging mode");
    assert_eq!(sem.capacity(), 3);
    assert_eq!(sem.snapshot().oversized, 1, "4 no longer fits: set aside");
    sem.add_permits(1);
    assert!(!head.is_ready());
    sem.release(3);
    assert_eq!(done(head), Ok(()));
    sem.release(4);
    assert_eq!(sem.snapshot().available, 4);
}

#[test]
fn fifo_mode_never_lets_a_caller_past_the_queue() {
    let sem = Sem::new(1);
    assert!(!sem.is_barging());
    sem.try_acquire(1).unwrap();
    let node = pin!(Waiter::new());
    let head = queue(&sem, node.as_ref(), 1);
    sem.release(1);
    assert_eq!(sem.try_acquire(1), Err(TryAcquireError::NoPermits));
    assert_eq!(sem.available(), 0);
    assert_eq!(done(head), Ok(()));
    sem.release(1);
}
