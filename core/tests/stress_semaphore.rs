//! The semaphore under many threads, random operations and random
//! interrupts: at the end every permit is back and no waiter is left queued
//! or waiting for the capacity to grow. Each test runs in FIFO mode and in
//! barging mode.

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::within;
use common::workers::{run_workers, OPS_PER_WORKER};
use concur_core::{AcquireError, RawSemaphore, Waiter};

const HANG: Duration = Duration::from_secs(240);

type Sem = RawSemaphore<concur_core::DefaultPark>;

#[test]
fn semaphore_conserves_permits_under_interrupts() {
    conserves_permits_under_interrupts(Sem::new);
}

#[test]
fn barging_semaphore_conserves_permits_under_interrupts() {
    conserves_permits_under_interrupts(Sem::new_barging);
}

#[test]
fn semaphore_resizing_and_retiring_conserves_permits() {
    resizing_and_retiring_conserves_permits(Sem::new);
}

#[test]
fn barging_semaphore_resizing_and_retiring_conserves_permits() {
    resizing_and_retiring_conserves_permits(Sem::new_barging);
}

fn conserves_permits_under_interrupts(new: fn(u64) -> Sem) {
    within(HANG, move || {
        const CAPACITY: u64 = 10;
        let sem = Arc::new(new(CAPACITY));
        let held = Arc::new(AtomicU64::new(0));
        let acquired = Arc::new(AtomicU64::new(0));
        let interrupts = run_workers(99, {
            let (sem, held, acquired) = (sem.clone(), held.clone(), acquired.clone());
            move |w, rng, slots| {
                let n = 1 + rng.below(4);
                let got = if rng.chance(20) {
                    sem.try_acquire(n).is_ok()
                } else {
                    let node = pin!(Waiter::new());
                    match slots.with_published(w, node.as_ref(), || sem.acquire(node.as_ref(), n)) {
                        Ok(()) => true,
                        Err(AcquireError::Interrupted) => false,
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                };
                if got {
                    acquired.fetch_add(1, Ordering::Relaxed);
                    let now = held.fetch_add(n, Ordering::SeqCst) + n;
                    assert!(now <= CAPACITY, "{now} permits held of {CAPACITY}");
                    if rng.chance(30) {
                        thread::yield_now();
                    }
                    held.fetch_sub(n, Ordering::SeqCst);
                    sem.release(n);
                }
            }
        });
        let snap = sem.snapshot();
        assert_eq!(snap.available, CAPACITY, "{snap:?}");
        assert_eq!(
            (snap.pending, snap.queued, snap.capacity),
            (0, 0, CAPACITY),
            "{snap:?}"
        );
        let acquired = acquired.load(Ordering::Relaxed);
        assert!(
            acquired > OPS_PER_WORKER,
            "too few acquisitions: {acquired}"
        );
        assert!(interrupts > 0, "the canceller never interrupted anything");
    });
}

fn resizing_and_retiring_conserves_permits(new: fn(u64) -> Sem) {
    within(HANG, move || {
        let sem = Arc::new(new(8));
        // Net change of the capacity made by the workers, to check at the end.
        let delta = Arc::new(AtomicI64::new(0));
        // Requests made above the capacity that were granted in the end.
        let grown = Arc::new(AtomicU64::new(0));
        run_workers(7, {
            let (sem, delta, grown) = (sem.clone(), delta.clone(), grown.clone());
            move |w, rng, slots| {
                match rng.below(10) {
                    0 => {
                        let k = 1 + rng.below(3);
                        sem.add_permits(k);
                        delta.fetch_add(k as i64, Ordering::SeqCst);
                    }
                    1 => {
                        let k = sem.forget_permits(1 + rng.below(3));
                        delta.fetch_sub(k as i64, Ordering::SeqCst);
                    }
                    _ => {
                        // One request in ten asks for more than exists now: it
                        // waits aside until `add_permits` (or an interrupt).
                        let above = rng.chance(10);
                        let n = if above {
                            sem.capacity() + 1 + rng.below(2)
                        } else {
                            1 + rng.below(3)
                        };
                        let node = pin!(Waiter::new());
                        let r = slots
                            .with_published(w, node.as_ref(), || sem.acquire(node.as_ref(), n));
                        if above && r.is_ok() {
                            grown.fetch_add(1, Ordering::Relaxed);
                        }
                        match r {
                            Ok(()) if rng.chance(10) => {
                                sem.retire(n);
                                delta.fetch_sub(n as i64, Ordering::SeqCst);
                            }
                            Ok(()) => sem.release(n),
                            Err(AcquireError::Interrupted) => {}
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                }
                // Keep the semaphore from shrinking to nothing.
                if sem.capacity() < 4 {
                    sem.add_permits(4);
                    delta.fetch_add(4, Ordering::SeqCst);
                }
            }
        });
        let snap = sem.snapshot();
        let expected = (8 + delta.load(Ordering::SeqCst)) as u64;
        assert_eq!(snap.capacity, expected, "{snap:?}");
        assert_eq!(snap.available, expected, "{snap:?}");
        assert_eq!(
            (snap.pending, snap.queued, snap.oversized),
            (0, 0, 0),
            "{snap:?}"
        );
        assert_eq!(sem.waiters(), 0);
        assert!(
            grown.load(Ordering::Relaxed) > 0,
            "no request above the capacity was ever granted"
        );
    });
}
