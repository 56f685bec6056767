//! The semaphore as a migrating user meets it: waiting for permits that a
//! producer adds later (and giving up with the context), `try_acquire`
//! saying why, zero-permit requests that respect the queue, the waiter
//! count, permits that merge and split, and the barging mode under threads
//! with deadlines.

mod common;

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::eventually;
use concur_sync::{Context, Error, OwnedPermit, Semaphore, TryAcquireError};

/// Generous: only a real hang gets there.
const HANG: Duration = Duration::from_secs(60);

/// Spawns an `acquire_owned(ctx, n)` that reports its result on `tx`.
fn acquirer(
    sem: &Arc<Semaphore>,
    ctx: &Context,
    n: u64,
    tx: &mpsc::Sender<(u64, Result<OwnedPermit, Error>)>,
) -> thread::JoinHandle<()> {
    let (sem, ctx, tx) = (sem.clone(), ctx.clone(), tx.clone());
    thread::spawn(move || tx.send((n, sem.acquire_owned(&ctx, n))).unwrap())
}

#[test]
fn a_consumer_waits_for_permits_a_producer_adds_later() {
    let sem = Arc::new(Semaphore::new(0));
    let (tx, rx) = mpsc::channel();
    let t = acquirer(&sem, &Context::background(), 3, &tx);
    eventually("waiting", || sem.waiters() == 1);
    sem.add_permits(2);
    assert!(rx.try_recv().is_err(), "2 of 3 is not enough");
    sem.add_permits(1);
    let (n, permit) = rx.recv_timeout(HANG).unwrap();
    assert_eq!((n, permit.unwrap().num_permits()), (3, 3));
    t.join().unwrap();
    assert_eq!((sem.available(), sem.capacity(), sem.waiters()), (3, 3, 0));
}

#[test]
fn a_request_above_the_capacity_ends_with_its_context_and_blocks_nobody() {
    let sem = Arc::new(Semaphore::new(2));
    let (ctx, cancel) = Context::background().with_cancel();
    let (tx, rx) = mpsc::channel();
    let big = acquirer(&sem, &ctx, 5, &tx);
    eventually("waiting", || sem.waiters() == 1);
    // Requests behind it are served as if it were not there.
    let small = sem.acquire(&Context::background(), 2).unwrap();
    drop(small);
    cancel.cancel();
    let (n, result) = rx.recv_timeout(HANG).unwrap();
    assert_eq!((n, result.err()), (5, Some(Error::Cancelled)));
    big.join().unwrap();
    assert_eq!((sem.available(), sem.waiters()), (2, 0));
}

#[test]
fn try_acquire_says_why() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire(2).unwrap();
    let err = sem.try_acquire(1).unwrap_err();
    assert_eq!(err, TryAcquireError::NoPermits);
    assert_eq!(err.to_string(), "not enough permits available");
    let err = sem.try_acquire(3).unwrap_err();
    assert_eq!(
        err,
        TryAcquireError::TooLarge {
            requested: 3,
            capacity: 2
        }
    );
    // It is a std error, so `?` works into a `Box<dyn Error>` or `anyhow`.
    let boxed: Box<dyn std::error::Error + Send + Sync> = err.into();
    assert_eq!(
        boxed.to_string(),
        "requested 3 permits from a semaphore of 2"
    );
    drop(held);
    sem.close();
    assert_eq!(sem.try_acquire(0).unwrap_err(), TryAcquireError::Closed);
}

#[test]
fn zero_permit_requests_respect_the_queue() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire(1).unwrap();
    let (tx, rx) = mpsc::channel();
    let head = acquirer(&sem, &Context::background(), 1, &tx);
    eventually("queued", || sem.waiters() == 1);
    assert_eq!(sem.try_acquire(0).unwrap_err(), TryAcquireError::NoPermits);
    let zero = acquirer(&sem, &Context::background(), 0, &tx);
    eventually("queued", || sem.waiters() == 2);
    assert!(
        rx.try_recv().is_err(),
        "the zero request went past the queue"
    );
    // The release completes the head, and the zero request behind it with
    // it (one grant; which thread reports first is up to the scheduler).
    drop(held);
    let mut ended: Vec<u64> = (0..2).map(|_| rx.recv_timeout(HANG).unwrap().0).collect();
    ended.sort_unstable();
    assert_eq!(ended, [0, 1]);
    head.join().unwrap();
    zero.join().unwrap();
    assert!(sem.try_acquire(0).is_ok(), "nobody queued: granted at once");
}

#[test]
fn permits_merge_and_split() {
    let sem = Arc::new(Semaphore::new(5));
    let mut a = sem.try_acquire(2).unwrap();
    a.merge(sem.try_acquire(1).unwrap());
    assert_eq!((a.num_permits(), sem.available()), (3, 2));
    let b = a.split(3).unwrap();
    assert_eq!((a.num_permits(), b.num_permits()), (0, 3));
    assert!(a.split(1).is_none());
    drop(b);
    assert_eq!(sem.available(), 5);
    drop(a);
    assert_eq!(sem.available(), 5, "an empty permit releases nothing");

    let mut owned = sem.clone().try_acquire_owned(4).unwrap();
    let part = owned.split(1).unwrap();
    // The split-off part is owned too: it can go to another thread.
    thread::spawn(move || drop(part)).join().unwrap();
    assert_eq!(sem.available(), 2);
    owned.merge(sem.clone().try_acquire_owned(2).unwrap());
    assert_eq!((owned.num_permits(), sem.available()), (5, 0));
    drop(owned);
    assert_eq!(sem.available(), 5);
}

#[test]
fn merging_permits_of_two_semaphores_panics_and_loses_nothing() {
    let (one, two) = (Semaphore::new(1), Semaphore::new(1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut a = one.try_acquire(1).unwrap();
        a.merge(two.try_acquire(1).unwrap());
    }));
    let panic = result.unwrap_err();
    let message = panic.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("different semaphore"), "{message}");
    assert_eq!((one.available(), two.available()), (1, 1));
}

#[test]
fn a_barging_semaphore_serves_every_thread_and_honours_contexts() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 2_000;
    let sem = Arc::new(Semaphore::new_barging(2));
    assert!(sem.is_barging() && !Semaphore::new(1).is_barging());
    let (tx, rx) = mpsc::channel();
    for t in 0..THREADS {
        let (sem, tx) = (sem.clone(), tx.clone());
        thread::spawn(move || {
            let (mut got, mut gave_up) = (0, 0);
            for i in 0..ROUNDS {
                // Every fourth acquire of half the threads may give up.
                let ctx = if t % 2 == 0 && i % 4 == 0 {
                    Context::background().with_timeout(Duration::from_micros(50))
                } else {
                    Context::background()
                };
                match sem.acquire(&ctx, 1) {
                    Ok(permit) => {
                        got += 1;
                        drop(permit);
                    }
                    Err(Error::DeadlineExceeded) => gave_up += 1,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            tx.send((got, gave_up)).unwrap();
        });
    }
    let mut total = 0;
    for _ in 0..THREADS {
        let (got, gave_up) = rx.recv_timeout(HANG).expect("a barging waiter hung");
        assert_eq!(got + gave_up, ROUNDS);
        total += got;
    }
    assert!(
        total >= ROUNDS * THREADS / 2,
        "only {total} acquires succeeded"
    );
    assert_eq!(sem.available(), 2, "every permit is back");
    assert_eq!(sem.waiters(), 0);

    // A held permit: a barging waiter still ends with its context.
    let held = sem.try_acquire(2).unwrap();
    let ctx = Context::background().with_timeout(Duration::from_millis(5));
    assert_eq!(sem.acquire(&ctx, 1).unwrap_err(), Error::DeadlineExceeded);
    drop(held);
}
