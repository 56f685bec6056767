//! Models of `RawSemaphore` in barging mode: an offer racing a barging
//! caller (the offered waiter takes the permit or queues again, never
//! sleeps beside a free permit), and an interrupt, a deadline or `close`
//! racing an offer (the offer goes on; every permit is back at the end).

#![cfg(loom)]

use core::pin::pin;

use concur_core::park::LoomPark;
use concur_core::{AcquireError, RawSemaphore, Waiter};
use concur_loom_tests::{hold_once, queued, settled, shared_node, spin_until, waiter_on, Tracked};
use loom::sync::Arc;
use loom::thread;

type Sem = RawSemaphore;

/// A waiter is queued; the holder releases (an offer) and comes straight
/// back for the permit while the offered waiter retries. Each holds it
/// alone, and both get it in the end.
#[test]
fn offer_races_barging_caller() {
    loom::model(|| {
        let sem = Arc::new(Sem::new_barging(1));
        let data = Arc::new(Tracked::new());
        sem.try_acquire(1).unwrap();

        let waiter = {
            let (sem, data) = (sem.clone(), data.clone());
            thread::spawn(move || {
                let node = pin!(Waiter::new());
                sem.acquire(node.as_ref(), 1).unwrap();
                data.bump();
                sem.release(1);
            })
        };
        spin_until(|| queued(&sem) == 1);

        data.bump();
        sem.release(1);
        hold_once(&sem, &data, 1);

        waiter.join().unwrap();
        assert_eq!(data.get(), 3);
        assert_eq!(sem.snapshot(), settled(1));
    });
}

/// Two waiters are queued; the release offers the permit to the first
/// while it is interrupted. The offer goes on to the second, which gets
/// the permit whatever the first's outcome.
#[test]
fn interrupt_races_offer() {
    loom::model(|| {
        let sem = Arc::new(Sem::new_barging(1));
        sem.try_acquire(1).unwrap();

        let node = shared_node();
        let first = waiter_on(&sem, &node, 1);
        spin_until(|| queued(&sem) == 1);
        let second = concur_loom_tests::waiter(&sem, 1);
        spin_until(|| queued(&sem) == 2);

        let interrupter = thread::spawn(move || node.interrupt());
        sem.release(1);

        interrupter.join().unwrap();
        assert_eq!(second.join().unwrap(), Ok(()));
        let first = first.join().unwrap();
        assert!(
            matches!(first, Ok(()) | Err(AcquireError::Interrupted)),
            "unexpected result {first:?}"
        );
        assert_eq!(sem.snapshot(), settled(1));
    });
}

/// A waiter with a deadline races the release that offers it the permit:
/// it takes the permit (and gives it back) or times out; either way the
/// permit is back and nobody is queued.
#[test]
fn deadline_races_offer() {
    loom::model(|| {
        let sem = Arc::new(Sem::new_barging(1));
        sem.try_acquire(1).unwrap();

        let deadline = LoomPark::deadline();
        let node = Arc::pin(Waiter::with_deadline(deadline));
        let waiter = waiter_on(&sem, &node, 1);
        spin_until(|| queued(&sem) == 1);

        let firer = thread::spawn(move || LoomPark::fire(deadline));
        sem.release(1);

        firer.join().unwrap();
        let result = waiter.join().unwrap();
        assert!(result.is_ok() || node.timed_out(), "unexpected {result:?}");
        assert_eq!(sem.snapshot(), settled(1));
    });
}

/// `close` races a release that offers the permit to the only waiter: the
/// waiter gets the permit or `Closed`, and the permit is available at the
/// end either way.
#[test]
fn close_races_offer() {
    loom::model(|| {
        let sem = Arc::new(Sem::new_barging(1));
        sem.try_acquire(1).unwrap();
        let waiter = concur_loom_tests::waiter(&sem, 1);
        spin_until(|| queued(&sem) == 1);

        let closer = {
            let sem = sem.clone();
            thread::spawn(move || sem.close())
        };
        sem.release(1);

        closer.join().unwrap();
        let result = waiter.join().unwrap();
        assert!(
            matches!(result, Ok(()) | Err(AcquireError::Closed)),
            "unexpected result {result:?}"
        );
        let snap = sem.snapshot();
        assert_eq!((snap.available, snap.queued, snap.pending), (1, 0, 0));
    });
}
