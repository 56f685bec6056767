//! Deterministic behaviour of the semaphore: FIFO and head-of-line order,
//! partial grants, interrupts, close, retire, resize, and the exact panic
//! messages for caller bugs.

mod common;

use std::pin::pin;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{eventually, spawn_acquirer, spawn_waiting, within};
use concur_core::{AcquireError, RawSemaphore, TryAcquireError, Waiter, MAX_PERMITS};

type Sem = RawSemaphore;
// The issue asks for a capacity of at least 2^62.
const _: () = assert!(MAX_PERMITS >= 1 << 62);
const HANG: Duration = Duration::from_secs(60);

#[test]
fn semaphore_try_acquire_errors() {
    let sem = Sem::new(3);
    assert_eq!(sem.try_acquire(0), Ok(()));
    assert_eq!(
        sem.try_acquire(4),
        Err(TryAcquireError::TooLarge {
            requested: 4,
            capacity: 3
        })
    );
    sem.try_acquire(2).unwrap();
    assert_eq!(sem.try_acquire(2), Err(TryAcquireError::NoPermits));
    assert_eq!(sem.available(), 1);
    sem.close();
    assert_eq!(sem.try_acquire(1), Err(TryAcquireError::Closed));
    assert_eq!(sem.try_acquire(0), Err(TryAcquireError::Closed));
    sem.release(2);
    assert_eq!(sem.available(), 3, "releases still count after close");
}

#[test]
fn semaphore_refuses_only_what_no_semaphore_can_hold() {
    let sem = Sem::new(0);
    let node = pin!(Waiter::new());
    assert_eq!(
        sem.acquire(node.as_ref(), MAX_PERMITS + 1),
        Err(AcquireError::TooLarge {
            requested: MAX_PERMITS + 1,
            capacity: 0
        })
    );
    assert_eq!(
        sem.try_acquire(MAX_PERMITS + 1),
        Err(TryAcquireError::TooLarge {
            requested: MAX_PERMITS + 1,
            capacity: 0
        })
    );
    assert_eq!(
        sem.acquire(node.as_ref(), 0),
        Ok(()),
        "zero with nobody queued"
    );
    assert_eq!((sem.snapshot().queued, sem.waiters()), (0, 0));
}

#[test]
fn semaphore_grants_fifo_with_head_of_line_partial_grants() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(4));
        sem.try_acquire(4).unwrap();
        let (tx, rx) = mpsc::channel();
        // Queue: big (4) at the head, then small (1).
        let (big, big_hold) = spawn_acquirer(&sem, 4, 4, tx.clone());
        eventually("big queued", || sem.snapshot().queued == 1);
        let (small, small_hold) = spawn_acquirer(&sem, 1, 1, tx.clone());
        eventually("small queued", || sem.snapshot().queued == 2);
        // Newcomers cannot barge past the queue even when permits exist.
        sem.release(1);
        assert_eq!(sem.try_acquire(1), Err(TryAcquireError::NoPermits));
        let snap = sem.snapshot();
        assert_eq!(
            (snap.available, snap.pending, snap.queued),
            (0, 1, 2),
            "partial grant to the head"
        );
        sem.release(3);
        assert_eq!(
            rx.recv().unwrap(),
            (4, Ok(())),
            "the large head is served first"
        );
        big_hold.send(()).unwrap();
        assert_eq!(rx.recv().unwrap(), (1, Ok(())));
        small_hold.send(()).unwrap();
        big.join().unwrap();
        small.join().unwrap();
        let snap = sem.snapshot();
        assert_eq!((snap.available, snap.pending, snap.queued), (4, 0, 0));
    });
}

#[test]
fn semaphore_interrupted_head_hands_its_partial_grant_on() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(3));
        sem.try_acquire(3).unwrap();
        let (tx, rx) = mpsc::channel();
        let (head, node) = {
            let (sem, tx) = (sem.clone(), tx.clone());
            spawn_waiting(move |pinned| tx.send((3, sem.acquire(pinned, 3))).unwrap())
        };
        eventually("head queued", || sem.snapshot().queued == 1);
        let (behind, behind_hold) = spawn_acquirer(&sem, 2, 2, tx);
        eventually("second queued", || sem.snapshot().queued == 2);
        sem.release(2); // the head holds 2 of its 3; the one behind gets nothing yet
        assert_eq!(sem.snapshot().pending, 2);
        node.interrupt();
        let mut results = vec![rx.recv().unwrap(), rx.recv().unwrap()];
        results.sort_by_key(|r| r.0);
        assert_eq!(
            results,
            vec![(2, Ok(())), (3, Err(AcquireError::Interrupted))]
        );
        behind_hold.send(()).unwrap();
        head.join().unwrap();
        behind.join().unwrap();
        sem.release(1);
        let snap = sem.snapshot();
        assert_eq!((snap.available, snap.pending, snap.queued), (3, 0, 0));
    });
}

#[test]
fn semaphore_interrupt_before_wait_fails_fast_but_free_permits_are_taken() {
    let sem = Sem::new(1);
    let node = pin!(Waiter::new());
    node.interrupt();
    assert!(node.is_interrupted());
    // Free permits are taken without looking at the node...
    assert_eq!(sem.acquire(node.as_ref(), 1), Ok(()));
    // ...but a wait with an interrupted node ends at once.
    assert_eq!(
        sem.acquire(node.as_ref(), 1),
        Err(AcquireError::Interrupted)
    );
    assert_eq!(sem.snapshot().queued, 0);
    sem.release(1);
}

#[test]
fn semaphore_close_wakes_every_waiter_and_returns_partial_grants() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(4));
        sem.try_acquire(4).unwrap();
        let (tx, rx) = mpsc::channel();
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let t = spawn_acquirer(&sem, 2 + i % 2, i, tx.clone());
                eventually("queued", || sem.snapshot().queued == i as usize + 1);
                t
            })
            .collect();
        sem.release(1); // a partial grant to the head
        sem.close();
        for _ in 0..3 {
            assert_eq!(rx.recv().unwrap().1, Err(AcquireError::Closed));
        }
        for (t, _) in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.available(), 1, "the head's partial grant came back");
        sem.release(3);
        assert_eq!(sem.available(), 4);
        let node = pin!(Waiter::new());
        assert_eq!(sem.acquire(node.as_ref(), 1), Err(AcquireError::Closed));
    });
}

#[test]
fn semaphore_resize() {
    let sem = Sem::new(2);
    sem.add_permits(3);
    assert_eq!((sem.available(), sem.capacity()), (5, 5));
    sem.try_acquire(4).unwrap();
    assert_eq!(
        sem.forget_permits(3),
        1,
        "only available permits are forgotten"
    );
    assert_eq!((sem.available(), sem.capacity()), (0, 4));
    sem.release(4);
    assert_eq!(sem.available(), 4);
    let big = Sem::new(MAX_PERMITS);
    assert_eq!(big.available(), MAX_PERMITS);
}

#[test]
#[should_panic(
    expected = "RawSemaphore::release(2) with 2 available of 3 permits: released more permits than were acquired"
)]
fn semaphore_release_more_than_acquired_panics() {
    let sem = Sem::new(3);
    sem.try_acquire(1).unwrap();
    sem.release(2);
}

#[test]
fn semaphore_over_release_changes_nothing() {
    let sem = Arc::new(Sem::new(3));
    sem.try_acquire(1).unwrap();
    let s = sem.clone();
    assert!(thread::spawn(move || s.release(u64::MAX)).join().is_err());
    let snap = sem.snapshot();
    assert_eq!((snap.available, snap.capacity), (2, 3));
    sem.release(1);
}

#[test]
#[should_panic(
    expected = "add_permits(2) on a semaphore of 9223372036854775806 would exceed MAX_PERMITS"
)]
fn semaphore_add_permits_overflow_panics() {
    Sem::new(MAX_PERMITS - 1).add_permits(2);
}

#[test]
#[should_panic(expected = "retire(2) but callers hold only 1 of 3 permits")]
fn semaphore_retire_more_than_held_panics() {
    let sem = Sem::new(3);
    sem.try_acquire(1).unwrap();
    sem.retire(2);
}
