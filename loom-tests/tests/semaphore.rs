//! Models of `RawSemaphore`: permit conservation, exclusion, FIFO grants
//! to a weighted head, interrupts and `close` racing grants.

#![cfg(loom)]

use core::pin::pin;

use concur_core::{AcquireError, RawSemaphore, Snapshot, TryAcquireError, Waiter};
use concur_loom_tests::{hold_once, holder, queued, settled, shared_node, spin_until, Tracked};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// The semaphore under test, with the default (loom) parker.
type Sem = RawSemaphore;

/// Two threads share one permit: each holds it alone (the tracked write
/// would race otherwise) and it is back at the end.
#[test]
fn acquire_release_two_threads() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(1));
        let data = Arc::new(Tracked::new());

        let worker = holder(&sem, &data, 1);
        hold_once(&sem, &data, 1);

        worker.join().unwrap();
        assert_eq!(data.get(), 2);
        assert_eq!(sem.snapshot(), settled(1));
    });
}

/// Three threads with weights 2, 1 and 1 on a semaphore of 2: the
/// two-permit holder never overlaps a one-permit holder (it writes the
/// tracked cell, they read it), and every permit is back at the end.
#[test]
fn acquire_release_three_threads_weighted() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(2));
        let data = Arc::new(Tracked::new());

        let heavy = {
            let (sem, data) = (sem.clone(), data.clone());
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                sem.acquire(node.as_ref(), 2).unwrap();
                data.bump();
                sem.release(2);
            })
        };
        let light = {
            let (sem, data) = (sem.clone(), data.clone());
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                sem.acquire(node.as_ref(), 1).unwrap();
                let seen = data.get();
                sem.release(1);
                seen
            })
        };

        let node = pin!(Waiter::new());
        sem.acquire(node.as_ref(), 1).unwrap();
        let seen = data.get();
        sem.release(1);

        heavy.join().unwrap();
        let light_seen = light.join().unwrap();
        assert!(seen <= 1 && light_seen <= 1);
        assert_eq!(data.get(), 1);
        assert_eq!(sem.snapshot(), settled(2));
    });
}

/// A request for 2 queued at the head while both permits are held is
/// granted before a request for 1 that comes after it, even though a single
/// released permit would satisfy the small one: the small request may not
/// barge past the head, whether it arrives before, between or after the two
/// releases.
#[test]
fn weighted_head_is_granted_first() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(2));
        let order = Arc::new(AtomicUsize::new(0));
        sem.try_acquire(2).unwrap();

        let large = {
            let (sem, order) = (sem.clone(), order.clone());
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                sem.acquire(node.as_ref(), 2).unwrap();
                let rank = order.fetch_add(1, Ordering::Relaxed);
                sem.release(2);
                rank
            })
        };
        spin_until(|| queued(&sem) == 1);

        let small = {
            let (sem, order) = (sem.clone(), order.clone());
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                sem.acquire(node.as_ref(), 1).unwrap();
                let rank = order.fetch_add(1, Ordering::Relaxed);
                sem.release(1);
                rank
            })
        };

        sem.release(1);
        sem.release(1);

        assert_eq!(
            large.join().unwrap(),
            0,
            "the queued head was not granted first"
        );
        assert_eq!(small.join().unwrap(), 1);
        assert_eq!(sem.snapshot(), settled(2));
    });
}

/// A queued waiter is interrupted while the holder releases the permit it
/// waits for. Whatever wins, the waiter returns `Ok` (and then releases) or
/// `Interrupted` holding nothing, the waiter queued behind it gets the
/// permit (every thread joins), and the permit is back at the end.
#[test]
fn interrupt_races_grant() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(1));
        let data = Arc::new(Tracked::new());
        sem.try_acquire(1).unwrap();

        let node = shared_node();
        let first = {
            let (sem, data, node) = (sem.clone(), data.clone(), node.clone());
            thread::spawn(move || {
                let result = sem.acquire(node.as_ref(), 1);
                if result.is_ok() {
                    data.bump();
                    sem.release(1);
                }
                result
            })
        };
        spin_until(|| queued(&sem) == 1);

        let second = {
            let (sem, data) = (sem.clone(), data.clone());
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                sem.acquire(node.as_ref(), 1).unwrap();
                data.bump();
                sem.release(1);
            })
        };
        spin_until(|| queued(&sem) == 2);

        let interrupter = thread::spawn(move || node.interrupt());
        sem.release(1);

        interrupter.join().unwrap();
        second.join().unwrap();
        let first = first.join().unwrap();
        assert!(
            matches!(first, Ok(()) | Err(AcquireError::Interrupted)),
            "unexpected result {first:?}"
        );
        assert_eq!(data.get(), 1 + u64::from(first.is_ok()));
        assert_eq!(sem.snapshot(), settled(1));
    });
}

/// The head asks for 2 and holds a partial grant of 1; a request for 1 waits
/// behind it while the last permit stays held. Interrupting the head must
/// hand its partial grant to the waiter behind, which completes while the
/// other permit is still held.
#[test]
fn interrupted_head_lets_smaller_waiter_through() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(2));
        sem.try_acquire(2).unwrap();

        let node = shared_node();
        let head = {
            let (sem, node) = (sem.clone(), node.clone());
            thread::spawn(move || sem.acquire(node.as_ref(), 2))
        };
        spin_until(|| queued(&sem) == 1);
        sem.release(1);
        assert_eq!(
            sem.snapshot(),
            Snapshot {
                available: 0,
                pending: 1,
                capacity: 2,
                queued: 1,
                oversized: 0,
            },
            "the head did not keep its partial grant"
        );

        let behind = {
            let sem = sem.clone();
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                sem.acquire(node.as_ref(), 1).unwrap();
                sem.release(1);
            })
        };
        spin_until(|| queued(&sem) == 2);

        node.interrupt();
        // Completes only if the head's partial grant reached it: the other
        // permit is still held by this thread.
        behind.join().unwrap();
        assert_eq!(head.join().unwrap(), Err(AcquireError::Interrupted));
        assert_eq!(
            sem.snapshot(),
            Snapshot {
                available: 1,
                pending: 0,
                capacity: 2,
                queued: 0,
                oversized: 0,
            }
        );

        sem.release(1);
        assert_eq!(sem.snapshot(), settled(2));
    });
}

/// `close` races two waiters (one of them a weighted head that may hold a
/// partial grant) and the releases they wait for. Every waiter returns, with
/// `Ok` (then releases) or `Closed`; nothing stays queued; every permit is
/// back; and the semaphore stays closed.
#[test]
fn close_races_waiters() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(2));
        let data = Arc::new(Tracked::new());
        sem.try_acquire(2).unwrap();

        let large = {
            let (sem, data) = (sem.clone(), data.clone());
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                let result = sem.acquire(node.as_ref(), 2);
                if result.is_ok() {
                    data.bump();
                    sem.release(2);
                }
                result
            })
        };
        let small = {
            let (sem, data) = (sem.clone(), data.clone());
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                let result = sem.acquire(node.as_ref(), 1);
                if result.is_ok() {
                    let _ = data.get();
                    sem.release(1);
                }
                result
            })
        };
        let closer = {
            let sem = sem.clone();
            thread::spawn(move || sem.close())
        };

        sem.release(1);
        sem.release(1);

        closer.join().unwrap();
        for result in [large.join().unwrap(), small.join().unwrap()] {
            assert!(
                matches!(result, Ok(()) | Err(AcquireError::Closed)),
                "unexpected result {result:?}"
            );
        }
        assert!(sem.is_closed());
        assert_eq!(sem.snapshot(), settled(2));
        assert_eq!(sem.try_acquire(1), Err(TryAcquireError::Closed));
    });
}
