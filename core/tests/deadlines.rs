//! Timed waits on the real futex (Linux): a deadline ends a blocked wait
//! like an interrupt, leaves every primitive as it was, and never ends a
//! wait early.
#![cfg(all(target_os = "linux", feature = "futex", not(loom)))]

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use concur_core::{
    AcquireError, Begin, FutexPark, MonotonicDeadline, OnceState, Park, RawMutex, RawRwLock,
    RawSemaphore, Snapshot, TimedOut, WaitCounter, Waiter,
};

/// Short enough to keep the suite fast, long enough to be a real sleep.
const SHORT: Duration = Duration::from_millis(5);

fn soon() -> MonotonicDeadline {
    MonotonicDeadline::now().saturating_add(SHORT)
}

#[test]
fn futex_wait_until_times_out_at_the_deadline_not_before() {
    let word = AtomicU32::new(0);
    let deadline = soon();
    assert_eq!(FutexPark::wait_until(&word, 0, deadline), Err(TimedOut));
    assert!(
        MonotonicDeadline::now() >= deadline,
        "returned before its deadline"
    );
}

#[test]
fn futex_wait_until_returns_at_once_on_a_changed_word_or_a_past_deadline() {
    let word = AtomicU32::new(1);
    let far = MonotonicDeadline::now().saturating_add(Duration::from_secs(3600));
    assert_eq!(FutexPark::wait_until(&word, 0, far), Ok(()));
    let past = MonotonicDeadline::from_since_zero(Duration::ZERO);
    assert_eq!(FutexPark::wait_until(&word, 1, past), Err(TimedOut));
    // Beyond what the kernel is handed: an untimed wait, which the changed
    // word ends at once.
    let never = MonotonicDeadline::from_since_zero(Duration::MAX);
    assert_eq!(FutexPark::wait_until(&word, 0, never), Ok(()));
}

#[test]
fn futex_wait_until_is_woken_before_its_deadline() {
    let word = Arc::new(AtomicU32::new(0));
    let far = MonotonicDeadline::now().saturating_add(Duration::from_secs(60));
    let sleeper = {
        let word = word.clone();
        thread::spawn(move || {
            while word.load(Ordering::Acquire) == 0 {
                FutexPark::wait_until(&word, 0, far).expect("woken long before the deadline");
            }
        })
    };
    word.store(1, Ordering::Release);
    FutexPark::wake_all(&*word);
    sleeper.join().unwrap();
}

#[test]
fn mutex_deadline_leaves_the_lock_to_its_holder_and_the_next_waiter() {
    let m: Arc<RawMutex> = Arc::new(RawMutex::new());
    m.lock();
    let node = pin!(Waiter::with_deadline(soon()));
    assert!(m.lock_interruptible(node.as_ref()).is_err());
    assert!(node.timed_out());
    assert!(
        m.is_locked(),
        "a timed-out waiter released a lock it did not hold"
    );
    let next = {
        let m = m.clone();
        thread::spawn(move || {
            m.lock();
            // SAFETY: locked just above.
            unsafe { m.unlock() };
        })
    };
    // SAFETY: locked above by this thread.
    unsafe { m.unlock() };
    next.join().unwrap();
    assert!(!m.is_locked());
    // An expired node fails every later wait that would block, at once.
    m.lock();
    assert!(m.lock_interruptible(node.as_ref()).is_err());
    // SAFETY: locked just above.
    unsafe { m.unlock() };
}

#[test]
fn semaphore_deadline_gives_back_a_partial_grant() {
    let sem: RawSemaphore = RawSemaphore::new(2);
    sem.try_acquire(2).unwrap();
    let waiter_done = AtomicBool::new(false);
    thread::scope(|s| {
        let (sem, waiter_done) = (&sem, &waiter_done);
        s.spawn(move || {
            // Give the waiter a partial grant once it is queued. The
            // deadline may end the wait before this thread sees it queued
            // (a loaded machine, Miri's scheduler): then it releases
            // anyway instead of spinning forever, and the grant is taken
            // at the waiter's retry or stays available.
            while sem.snapshot().queued == 0 && !waiter_done.load(Ordering::Acquire) {
                thread::yield_now();
            }
            sem.release(1);
        });
        let node = pin!(Waiter::with_deadline(
            MonotonicDeadline::now().saturating_add(Duration::from_millis(50))
        ));
        let result = sem.acquire(node.as_ref(), 2);
        waiter_done.store(true, Ordering::Release);
        assert_eq!(result, Err(AcquireError::Interrupted));
        assert!(node.timed_out());
    });
    assert_eq!(
        sem.snapshot(),
        one_of_two_available(),
        "the partial grant went back"
    );
}

#[test]
fn semaphore_deadline_gives_back_a_grant_taken_when_queueing() {
    // One permit is free when the request for two queues: it takes it as a
    // partial grant at once, with no second thread and no race.
    let sem: RawSemaphore = RawSemaphore::new(2);
    sem.try_acquire(1).unwrap();
    let node = pin!(Waiter::with_deadline(soon()));
    assert_eq!(
        sem.acquire(node.as_ref(), 2),
        Err(AcquireError::Interrupted)
    );
    assert!(node.timed_out());
    assert_eq!(
        sem.snapshot(),
        one_of_two_available(),
        "the partial grant went back"
    );
}

fn one_of_two_available() -> Snapshot {
    Snapshot {
        available: 1,
        pending: 0,
        capacity: 2,
        queued: 0,
        oversized: 0,
    }
}

#[test]
fn rwlock_writer_deadline_withdraws_so_readers_enter() {
    let rw: RawRwLock = RawRwLock::new();
    rw.read();
    let node = pin!(Waiter::with_deadline(soon()));
    assert!(rw.write_interruptible(node.as_ref()).is_err());
    assert!(node.timed_out());
    assert!(
        rw.try_read(),
        "the timed-out writer still holds readers out"
    );
    // SAFETY: both read locks are ours.
    unsafe {
        rw.read_unlock();
        rw.read_unlock();
    }
    assert!(!rw.is_locked());
}

#[test]
fn reader_counter_and_once_deadlines() {
    let rw: RawRwLock = RawRwLock::new();
    rw.write();
    let node = pin!(Waiter::with_deadline(soon()));
    assert!(rw.read_interruptible(node.as_ref()).is_err());
    assert!(node.timed_out());
    // SAFETY: write-locked above.
    unsafe { rw.write_unlock() };

    let counter: WaitCounter = WaitCounter::new();
    counter.add(1);
    let node = pin!(Waiter::with_deadline(soon()));
    assert!(counter.wait_interruptible(node.as_ref()).is_err());
    assert!(node.timed_out());
    counter.done();

    let once: OnceState = OnceState::new();
    let Begin::Run(running) = once.begin() else {
        panic!("a fresh once is not complete")
    };
    let node = pin!(Waiter::with_deadline(soon()));
    assert!(once.begin_interruptible(node.as_ref()).is_err());
    assert!(node.timed_out());
    running.complete();
    assert!(once.is_complete());
}
