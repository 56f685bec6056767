//! Deadlines of the async twins, fired by the timer thread, under
//! `futures::executor::block_on` (no runtime), so Miri runs them: every
//! kind of future ends with `DeadlineExceeded` when its deadline passes,
//! nothing is left scheduled, and the timer thread is stopped at the end
//! (so no thread outlives the test: Miri needs no `-Zmiri-ignore-leaks`).

use std::time::Duration;

use concur_sync::{testing, Barrier, Condvar, Context, Error, Mutex, RwLock, Semaphore, WaitGroup};
use futures::executor::block_on;

fn soon() -> Context {
    Context::background().with_timeout(Duration::from_millis(2))
}

#[test]
fn every_twin_ends_at_its_deadline_and_the_timer_stops() {
    let sem = Semaphore::new(0);
    let mutex = Mutex::new(0);
    let rwlock = RwLock::new(0);
    let wg = WaitGroup::new();
    let cv = Condvar::new();
    let barrier = Barrier::new(2);
    wg.add(1);
    {
        let held = mutex.lock();
        let reading = rwlock.read();
        block_on(async {
            assert_eq!(
                sem.acquire_async(&soon(), 1).await.err(),
                Some(Error::DeadlineExceeded)
            );
            assert_eq!(
                mutex.lock_async(&soon()).await.err(),
                Some(Error::DeadlineExceeded)
            );
            assert_eq!(
                rwlock.write_async(&soon()).await.err(),
                Some(Error::DeadlineExceeded)
            );
            assert_eq!(wg.wait_async(&soon()).await, Err(Error::DeadlineExceeded));
            assert_eq!(
                barrier.wait_async(&soon()).await.err(),
                Some(Error::DeadlineExceeded)
            );
        });
        drop((held, reading));
    }
    block_on(async {
        let guard = mutex.lock_async(&Context::background()).await.unwrap();
        let (guard, outcome) = cv.wait_async(&soon(), guard).await;
        assert_eq!(outcome, Err(Error::DeadlineExceeded));
        drop(guard);
        let ctx = soon();
        assert_eq!(ctx.done().await, Error::DeadlineExceeded);
    });
    // Left as they were: nothing acquired, nobody counted.
    assert_eq!(sem.available(), 0);
    assert!(!mutex.is_locked() && !rwlock.is_locked());
    assert_eq!(barrier.arrived(), 0);
    assert_eq!(cv.waiters(), 0);
    assert!(rwlock.try_write().is_some(), "no writer left counted");
    wg.done();
    assert!(
        testing::stop_timer(),
        "nothing is scheduled: the timer stops"
    );
    // And starts again for the next deadline.
    assert_eq!(
        block_on(sem.acquire_async(&soon(), 1)).err(),
        Some(Error::DeadlineExceeded)
    );
    assert!(testing::stop_timer());
}
