//! Requests above the capacity wait for it to grow without holding up the
//! queue, and take their arrival place when they start to fit; zero-permit
//! requests wait their turn; the waiter count.

mod common;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{eventually, spawn_acquirer, within};
use concur_core::{AcquireError, RawSemaphore, TryAcquireError, Waiter};

type Sem = RawSemaphore;
const HANG: Duration = Duration::from_secs(60);

/// (available, pending, capacity, queued, oversized)
fn books(sem: &Sem) -> (u64, u64, u64, usize, usize) {
    let s = sem.snapshot();
    (s.available, s.pending, s.capacity, s.queued, s.oversized)
}

#[test]
fn a_request_for_permits_that_do_not_exist_yet_waits_for_add_permits() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(0));
        let (tx, rx) = mpsc::channel();
        let (t, hold) = spawn_acquirer(&sem, 1, 0, tx);
        eventually("waiting aside", || sem.waiters() == 1);
        assert_eq!(books(&sem), (0, 0, 0, 0, 1));
        sem.add_permits(1);
        assert_eq!(rx.recv().unwrap(), (0, Ok(())));
        drop(hold);
        t.join().unwrap();
        assert_eq!(books(&sem), (1, 0, 1, 0, 0));
        assert_eq!(sem.waiters(), 0);
    });
}

#[test]
fn a_request_above_the_capacity_holds_up_nobody() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(2));
        let (tx, rx) = mpsc::channel();
        let (big, big_hold) = spawn_acquirer(&sem, 5, 5, tx);
        eventually("waiting aside", || sem.snapshot().oversized == 1);
        // The fast path is untouched: nothing is queued, nothing taken.
        assert_eq!(sem.try_acquire(2), Ok(()));
        assert_eq!(sem.try_acquire(1), Err(TryAcquireError::NoPermits));
        assert_eq!(
            sem.try_acquire(5),
            Err(TryAcquireError::TooLarge {
                requested: 5,
                capacity: 2
            }),
            "try_acquire still refuses above the capacity"
        );
        sem.release(2);
        assert_eq!(books(&sem), (2, 0, 2, 0, 1));
        sem.add_permits(3);
        assert_eq!(rx.recv().unwrap(), (5, Ok(())));
        drop(big_hold);
        big.join().unwrap();
        assert_eq!(books(&sem), (5, 0, 5, 0, 0));
    });
}

#[test]
fn a_request_that_starts_to_fit_takes_its_arrival_place() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(2));
        sem.try_acquire(1).unwrap();
        let (tx, rx) = mpsc::channel();
        // Arrives first, above the capacity.
        let (early, early_hold) = spawn_acquirer(&sem, 3, 3, tx.clone());
        eventually("waiting aside", || sem.snapshot().oversized == 1);
        // Arrives second and queues at the head with the free permit.
        let (late, late_hold) = spawn_acquirer(&sem, 2, 2, tx);
        eventually("queued", || sem.snapshot().queued == 1);
        assert_eq!(books(&sem), (0, 1, 2, 1, 1));
        // Capacity 3: the early request fits and goes ahead of the later
        // one, which gives back its partial grant (only the head may hold
        // one). It gets the new permit and the returned one: 2 of 3.
        sem.add_permits(1);
        assert_eq!(books(&sem), (0, 2, 3, 2, 0));
        sem.release(1);
        assert_eq!(rx.recv().unwrap(), (3, Ok(())));
        drop(early_hold);
        assert_eq!(rx.recv().unwrap(), (2, Ok(())));
        drop(late_hold);
        early.join().unwrap();
        late.join().unwrap();
        assert_eq!(books(&sem), (3, 0, 3, 0, 0));
    });
}

#[test]
fn retire_sets_a_request_aside_until_the_capacity_grows_again() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(4));
        sem.try_acquire(4).unwrap();
        let (tx, rx) = mpsc::channel();
        let (t, hold) = spawn_acquirer(&sem, 4, 0, tx);
        eventually("queued", || sem.snapshot().queued == 1);
        sem.release(2); // partial grant of 2; the caller still holds 2
        sem.retire(2); // capacity 2 < 4 requested: set aside, grant handed on
        assert_eq!(books(&sem), (2, 0, 2, 0, 1));
        assert!(rx.try_recv().is_err(), "the request still waits");
        sem.add_permits(2);
        assert_eq!(rx.recv().unwrap(), (0, Ok(())));
        drop(hold);
        t.join().unwrap();
        assert_eq!(books(&sem), (4, 0, 4, 0, 0));
    });
}

#[test]
fn an_interrupted_or_closed_request_above_the_capacity_leaves() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(1));
        let node = Arc::new(Waiter::new());
        let waiting = {
            let (sem, node) = (sem.clone(), node.clone());
            std::thread::spawn(move || {
                // SAFETY: the Arc keeps the node in place until the thread ends.
                let node = unsafe { std::pin::Pin::new_unchecked(&*node) };
                sem.acquire(node, 2)
            })
        };
        eventually("waiting aside", || sem.waiters() == 1);
        node.interrupt();
        assert_eq!(waiting.join().unwrap(), Err(AcquireError::Interrupted));
        assert_eq!((books(&sem), sem.waiters()), ((1, 0, 1, 0, 0), 0));

        let (tx, rx) = mpsc::channel();
        let (t, _hold) = spawn_acquirer(&sem, 9, 9, tx);
        eventually("waiting aside", || sem.waiters() == 1);
        sem.close();
        assert_eq!(rx.recv().unwrap(), (9, Err(AcquireError::Closed)));
        t.join().unwrap();
        assert_eq!(sem.waiters(), 0);
    });
}

#[cfg(all(
    any(target_os = "linux", target_os = "android", windows),
    feature = "futex",
    not(loom)
))]
#[test]
fn a_deadline_ends_a_request_above_the_capacity() {
    let sem = Sem::new(0);
    let deadline = concur_core::MonotonicDeadline::now().saturating_add(Duration::from_millis(1));
    let node = std::pin::pin!(Waiter::with_deadline(deadline));
    assert_eq!(
        sem.acquire(node.as_ref(), 1),
        Err(AcquireError::Interrupted)
    );
    assert!(node.timed_out());
    assert_eq!(books(&sem), (0, 0, 0, 0, 0));
}

#[test]
fn zero_permits_wait_their_turn() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(1));
        sem.try_acquire(1).unwrap();
        let (tx, rx) = mpsc::channel();
        let (head, head_hold) = spawn_acquirer(&sem, 1, 1, tx.clone());
        eventually("queued", || sem.snapshot().queued == 1);
        assert_eq!(sem.try_acquire(0), Err(TryAcquireError::NoPermits));
        let (zero, zero_hold) = spawn_acquirer(&sem, 0, 0, tx);
        eventually("queued", || sem.snapshot().queued == 2);
        assert_eq!(sem.waiters(), 2);
        assert!(
            rx.try_recv().is_err(),
            "the zero request went past the queue"
        );
        // One release completes the head and the zero request behind it,
        // which needs no permit of its own (the order of the reports is the
        // scheduler's).
        sem.release(1);
        let mut ended = [rx.recv().unwrap(), rx.recv().unwrap()];
        ended.sort_unstable_by_key(|&(tag, _)| tag);
        assert_eq!(ended, [(0, Ok(())), (1, Ok(()))]);
        drop(zero_hold);
        zero.join().unwrap();
        drop(head_hold);
        head.join().unwrap();
        assert_eq!(books(&sem), (1, 0, 1, 0, 0));
        assert_eq!(sem.try_acquire(0), Ok(()));
    });
}
