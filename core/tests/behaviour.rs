//! Deterministic behaviour of the mutex, rwlock, wait counter, once and
//! waiter node: the documented semantics, error values and panic messages.
//! (The semaphore's are in `semaphore_behaviour.rs`.)

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{eventually, interrupted_wait, spawn_waiting, within};
use concur_core::{Begin, OnceState, RawMutex, RawRwLock, RawSemaphore, WaitCounter, Waiter};

type Sem = RawSemaphore;
const HANG: Duration = Duration::from_secs(60);

#[test]
fn mutex_interrupt_wakes_a_blocked_locker_and_the_lock_stays_usable() {
    within(HANG, || {
        let m = Arc::new(RawMutex::<concur_core::DefaultPark>::new());
        m.lock();
        let (blocked, node) = {
            let m = m.clone();
            spawn_waiting(move |pinned| m.lock_interruptible(pinned))
        };
        // Another plain locker queues behind too; it must not be starved by
        // the interrupted one leaving.
        let plain = {
            let m = m.clone();
            thread::spawn(move || {
                m.lock();
                // SAFETY: locked just above.
                unsafe { m.unlock() };
            })
        };
        node.interrupt();
        assert!(
            blocked.join().unwrap().is_err(),
            "lock_interruptible returned Ok while the lock was held"
        );
        // SAFETY: locked above by this thread.
        unsafe { m.unlock() };
        plain.join().unwrap();
        assert!(!m.is_locked());
    });
}

#[test]
fn mutex_interrupted_node_only_matters_when_waiting() {
    let m: RawMutex = RawMutex::new();
    let node = pin!(Waiter::new());
    node.interrupt();
    assert_eq!(m.lock_interruptible(node.as_ref()), Ok(()));
    assert!(m.lock_interruptible(node.as_ref()).is_err());
    // SAFETY: locked above.
    unsafe { m.unlock() };
}

#[test]
fn rwlock_writer_preference_and_interrupted_writer_lets_readers_in() {
    within(HANG, || {
        let l = Arc::new(RawRwLock::<concur_core::DefaultPark>::new());
        l.read();
        let (writer, node) = {
            let l = l.clone();
            spawn_waiting(move |pinned| l.write_interruptible(pinned))
        };
        // Once the writer waits, new readers are refused (writer preference).
        eventually("writer announced", || {
            let got = l.try_read();
            if got {
                // SAFETY: read-locked just now by this probe.
                unsafe { l.read_unlock() };
            }
            !got
        });
        let reader = {
            let l = l.clone();
            thread::spawn(move || {
                l.read();
                // SAFETY: read-locked above.
                unsafe { l.read_unlock() };
            })
        };
        node.interrupt();
        assert!(writer.join().unwrap().is_err());
        // The blocked reader gets in although the first read lock is still held.
        reader.join().unwrap();
        assert!(l.try_read());
        // SAFETY: two read locks held by this thread.
        unsafe {
            l.read_unlock();
            l.read_unlock();
        }
        assert!(l.try_write());
        // SAFETY: write-locked above.
        unsafe { l.write_unlock() };
    });
}

#[test]
fn wait_counter_wait_and_interrupt() {
    within(HANG, || {
        let c = Arc::new(WaitCounter::<concur_core::DefaultPark>::new());
        c.add(1);
        let c2 = c.clone();
        assert!(interrupted_wait(move |pinned| c2.wait_interruptible(pinned)).is_err());
        assert_eq!(c.count(), 1, "an interrupted wait changes nothing");
        let plain = {
            let c = c.clone();
            thread::spawn(move || c.wait())
        };
        c.done();
        plain.join().unwrap();
        assert_eq!(c.count(), 0);
    });
}

#[test]
#[should_panic(expected = "WaitCounter::done() at count 0")]
fn wait_counter_negative_panics() {
    WaitCounter::<concur_core::DefaultPark>::new().done();
}

#[test]
#[should_panic(expected = "WaitCounter::add(2) at count 1073741822 would exceed 1073741823")]
fn wait_counter_overflow_panics() {
    let c = WaitCounter::<concur_core::DefaultPark>::new();
    c.add(concur_core::MAX_COUNT - 1);
    c.add(2);
}

#[test]
fn once_failed_initializer_lets_the_next_caller_run() {
    let once: OnceState = OnceState::new();
    match once.begin() {
        Begin::Run(guard) => drop(guard),
        Begin::Complete => panic!("fresh once reported complete"),
    }
    assert!(!once.is_complete());
    let result = std::panic::catch_unwind(|| {
        if let Begin::Run(_guard) = once.begin() {
            panic!("initializer panics");
        }
    });
    assert!(result.is_err());
    assert!(
        !once.is_complete(),
        "a panicking initializer leaves it incomplete"
    );
    match once.begin() {
        Begin::Run(guard) => guard.complete(),
        Begin::Complete => panic!("not complete yet"),
    }
    assert!(once.is_complete());
    assert!(matches!(once.begin(), Begin::Complete));
}

#[test]
fn once_sleepers_wait_for_the_runner() {
    within(HANG, || {
        let once = Arc::new(OnceState::<concur_core::DefaultPark>::new());
        let value = Arc::new(AtomicU64::new(0));
        let Begin::Run(guard) = once.begin() else {
            panic!("fresh once complete")
        };
        let sleepers: Vec<_> = (0..4)
            .map(|_| {
                let (once, value) = (once.clone(), value.clone());
                thread::spawn(move || {
                    assert!(matches!(once.begin(), Begin::Complete));
                    value.load(Ordering::Relaxed)
                })
            })
            .collect();
        value.store(42, Ordering::Relaxed);
        guard.complete();
        for s in sleepers {
            assert_eq!(s.join().unwrap(), 42, "the initializer's write is visible");
        }
    });
}

#[test]
#[should_panic(expected = "a Waiter was used by two waits at once")]
fn waiter_shared_by_two_waits_panics() {
    let sem = Arc::new(Sem::new(1));
    sem.try_acquire(1).unwrap();
    let node = Arc::new(Waiter::new());
    let (s, n) = (sem.clone(), node.clone());
    let first = thread::spawn(move || {
        // SAFETY: the Arc keeps the node at one address until the thread ends.
        let pinned = unsafe { std::pin::Pin::new_unchecked(&*n) };
        s.acquire(pinned, 1)
    });
    eventually("first queued", || sem.snapshot().queued == 1);
    // SAFETY: as above; this second concurrent use is the caller bug under test.
    let pinned = unsafe { std::pin::Pin::new_unchecked(&*node) };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.acquire(pinned, 1)));
    sem.release(1);
    first.join().unwrap().unwrap();
    std::panic::resume_unwind(result.unwrap_err());
}

#[test]
fn interrupted_nodes_still_take_free_primitives() {
    // Mutex with a bumped epoch (an earlier interrupted waiter): free, so an
    // interrupted node still gets it.
    within(HANG, || {
        let m = Arc::new(RawMutex::<concur_core::DefaultPark>::new());
        m.lock();
        let m2 = m.clone();
        assert!(interrupted_wait(move |pinned| m2.lock_interruptible(pinned)).is_err());
        // SAFETY: locked above.
        unsafe { m.unlock() };
        let interrupted = pin!(Waiter::new());
        interrupted.interrupt();
        assert_eq!(m.lock_interruptible(interrupted.as_ref()), Ok(()));
        // SAFETY: locked just above.
        unsafe { m.unlock() };
    });

    // RwLock left with READERS_PARKED by an interrupted reader: free.
    within(HANG, || {
        let l = Arc::new(RawRwLock::<concur_core::DefaultPark>::new());
        l.write();
        let l2 = l.clone();
        assert!(interrupted_wait(move |pinned| l2.read_interruptible(pinned)).is_err());
        // SAFETY: write-locked above.
        unsafe { l.write_unlock() };
        let interrupted = pin!(Waiter::new());
        interrupted.interrupt();
        assert_eq!(l.write_interruptible(interrupted.as_ref()), Ok(()));
        // SAFETY: write-locked just above.
        unsafe { l.write_unlock() };
        assert_eq!(l.read_interruptible(interrupted.as_ref()), Ok(()));
        // SAFETY: read-locked just above.
        unsafe { l.read_unlock() };
    });

    // Once, incomplete: becoming the runner needs no wait.
    let once: OnceState = OnceState::new();
    let interrupted = pin!(Waiter::new());
    interrupted.interrupt();
    match once.begin_interruptible(interrupted.as_ref()) {
        Ok(Begin::Run(guard)) => guard.complete(),
        other => panic!("expected to run the initializer, got {other:?}"),
    }
    assert!(matches!(
        once.begin_interruptible(interrupted.as_ref()),
        Ok(Begin::Complete)
    ));
}
