//! Deadlines inside the wait: a thread blocked until a deadline on any
//! primitive sleeps in a timed futex wait, so no thread is started for it
//! (Linux and Android); per-call timeouts; the semantics of a passed
//! deadline on a free resource.

mod common;

use std::time::{Duration, Instant};

use common::within;
use concur_sync::{Context, Error, Mutex, Once, RwLock, Semaphore, WaitGroup, MAX_PERMITS};

const SHORT: Duration = Duration::from_millis(3);
/// Only a real hang reaches it.
const HANG: Duration = Duration::from_secs(60);

#[test]
#[cfg(all(target_os = "linux", not(concur_timer_fallback)))]
fn no_thread_is_started_for_a_blocked_deadline() {
    within(HANG, || {
        let m = Mutex::new(());
        let rw = RwLock::new(());
        let sem = Semaphore::new(1);
        let _permit = sem.try_acquire(1).unwrap();
        let wg = WaitGroup::new();
        let once: Once<u8> = Once::new();
        let (live, _cancel) = Context::background().with_cancel();
        let _held = m.lock();
        let _read = rw.read();
        wg.add(1);
        for ctx in [
            Context::background().with_timeout(SHORT),
            live.with_timeout(SHORT),
        ] {
            assert_eq!(m.lock_ctx(&ctx).err(), Some(Error::DeadlineExceeded));
            assert_eq!(rw.write_ctx(&ctx).err(), Some(Error::DeadlineExceeded));
            assert_eq!(sem.acquire(&ctx, 1).err(), Some(Error::DeadlineExceeded));
            assert_eq!(wg.wait_ctx(&ctx), Err(Error::DeadlineExceeded));
            assert_eq!(ctx.wait(), Error::DeadlineExceeded);
        }
        assert!(m.try_lock_for(SHORT).is_none());
        assert!(rw.try_write_for(SHORT).is_none());
        assert_eq!(
            sem.try_acquire_for(1, SHORT).err(),
            Some(Error::DeadlineExceeded)
        );
        // Another thread runs the once's initializer until we are done.
        std::thread::scope(|s| {
            let (started_tx, started_rx) = std::sync::mpsc::channel();
            let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
            let once = &once;
            s.spawn(move || {
                once.get_or_init(|| {
                    started_tx.send(()).unwrap();
                    finish_rx.recv().unwrap();
                    1
                })
            });
            started_rx.recv().unwrap();
            let ctx = Context::background().with_timeout(SHORT);
            assert_eq!(
                once.get_or_init_ctx(&ctx, || 2).err(),
                Some(Error::DeadlineExceeded)
            );
            finish_tx.send(()).unwrap();
        });
        wg.done();
    });
    let names = common::thread_names();
    // (Debug mode's watchdog, `concur-watchdog`, is not a deadline's.)
    assert!(
        !names.iter().any(|n| n == "concur-timer"),
        "a timer thread runs: {names:?}"
    );
}

#[test]
fn a_passed_deadline_does_not_stop_a_call_that_need_not_wait() {
    let m = Mutex::new(1);
    let rw = RwLock::new(1);
    let sem = Semaphore::new(1);
    let wg = WaitGroup::new();
    let once = Once::new();
    let (live, _cancel) = Context::background().with_cancel();
    for ctx in [
        Context::background().with_timeout(Duration::ZERO),
        live.with_deadline(Instant::now() - Duration::from_secs(1)),
    ] {
        assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
        assert_eq!(*m.lock_ctx(&ctx).unwrap(), 1);
        assert_eq!(*rw.read_ctx(&ctx).unwrap(), 1);
        assert_eq!(*rw.write_ctx(&ctx).unwrap(), 1);
        drop(sem.acquire(&ctx, 1).unwrap());
        assert_eq!(wg.wait_ctx(&ctx), Ok(()));
        assert_eq!(once.get_or_init_ctx(&ctx, || 7), Ok(&7));
    }
    let past = Instant::now() - Duration::from_secs(1);
    assert!(m.try_lock_until(past).is_some());
    assert!(rw.try_read_until(past).is_some());
    assert!(rw.try_write_until(past).is_some());
    assert!(sem.try_acquire_until(1, past).is_ok());
    assert!(m.try_lock_for(Duration::ZERO).is_some());
}

#[test]
fn a_cancelled_context_fails_even_a_call_that_need_not_wait() {
    let m = Mutex::new(());
    let sem = Semaphore::new(1);
    let (ctx, cancel) = Context::background().with_cancel();
    let ctx = ctx.with_timeout(Duration::from_secs(3600));
    cancel.cancel();
    assert_eq!(m.lock_ctx(&ctx).err(), Some(Error::Cancelled));
    assert_eq!(sem.acquire(&ctx, 1).err(), Some(Error::Cancelled));
}

#[test]
fn per_call_timeouts_wait_at_least_their_timeout_and_report_it() {
    within(HANG, || {
        let m = Mutex::new(());
        let rw = RwLock::new(());
        let sem = Semaphore::new(2);
        let held = m.lock();
        let write = rw.write();
        let permits = sem.try_acquire(2).unwrap();
        let start = Instant::now();
        assert!(m.try_lock_for(SHORT).is_none());
        assert!(
            start.elapsed() >= SHORT,
            "timed out early: {:?}",
            start.elapsed()
        );
        let start = Instant::now();
        assert!(rw.try_read_for(SHORT).is_none());
        assert!(rw.try_write_until(Instant::now() + SHORT).is_none());
        assert!(start.elapsed() >= 2 * SHORT);
        let start = Instant::now();
        assert_eq!(
            sem.try_acquire_for(1, SHORT).err(),
            Some(Error::DeadlineExceeded)
        );
        assert!(start.elapsed() >= SHORT);
        // More than exist waits like any request; only what no semaphore
        // can hold is refused at once, as for `acquire`.
        assert_eq!(
            sem.try_acquire_for(3, SHORT).err(),
            Some(Error::DeadlineExceeded)
        );
        assert!(matches!(
            sem.try_acquire_for(MAX_PERMITS + 1, Duration::from_secs(3600)),
            Err(Error::TooLarge { .. })
        ));
        drop((held, write, permits));
        // The timed-out waits left nothing behind: all free again.
        assert!(m.try_lock().is_some());
        assert!(rw.try_write().is_some());
        assert_eq!(sem.available(), 2);
        sem.close();
        assert_eq!(sem.try_acquire_for(1, SHORT).err(), Some(Error::Closed));
    });
}

#[test]
fn a_per_call_timeout_is_granted_when_the_holder_lets_go_in_time() {
    within(HANG, || {
        let m = Mutex::new(0);
        let sem = Semaphore::new(1);
        std::thread::scope(|s| {
            let held = m.lock();
            let permit = sem.try_acquire(1).unwrap();
            let waiter = s.spawn(|| {
                let got_lock = m.try_lock_for(Duration::from_secs(60)).map(|g| *g);
                let got_permit = sem.try_acquire_for(1, Duration::from_secs(60)).is_ok();
                (got_lock, got_permit)
            });
            drop(held);
            drop(permit);
            assert_eq!(waiter.join().unwrap(), (Some(0), true));
        });
    });
}
