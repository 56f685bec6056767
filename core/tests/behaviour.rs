//! Deterministic behaviour of each primitive: the documented semantics,
//! error values and panic messages.

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{interrupted_wait, spawn_waiting, within};
use concur_core::{
    AcquireError, Begin, OnceState, RawMutex, RawRwLock, RawSemaphore, TryAcquireError,
    WaitCounter, Waiter, MAX_PERMITS,
};

type Sem = RawSemaphore;
// The issue asks for a capacity of at least 2^62.
const _: () = assert!(MAX_PERMITS >= 1 << 62);
const HANG: Duration = Duration::from_secs(60);

/// Waits (bounded) until `cond` holds: for states another thread reaches.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < HANG, "hang: never reached: {what}");
        thread::yield_now();
    }
}

/// Spawns a thread that acquires `n` and reports its result on `tx`,
/// holding the permits until `hold` is signalled (then releasing them).
fn spawn_acquirer(
    sem: &Arc<Sem>,
    n: u64,
    tag: u64,
    tx: mpsc::Sender<(u64, Result<(), AcquireError>)>,
) -> (thread::JoinHandle<()>, mpsc::Sender<()>) {
    let sem = sem.clone();
    let (hold_tx, hold_rx) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let node = pin!(Waiter::new());
        let r = sem.acquire(node.as_ref(), n);
        tx.send((tag, r)).unwrap();
        if r.is_ok() {
            let _ = hold_rx.recv();
            sem.release(n);
        }
    });
    (handle, hold_tx)
}

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
fn semaphore_zero_permits_and_too_large() {
    let sem = Sem::new(0);
    let node = pin!(Waiter::new());
    assert_eq!(
        sem.acquire(node.as_ref(), 1),
        Err(AcquireError::TooLarge {
            requested: 1,
            capacity: 0
        })
    );
    assert_eq!(sem.acquire(node.as_ref(), 0), Ok(()));
    assert_eq!(
        sem.snapshot().queued,
        0,
        "a too-large request is never queued"
    );
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
fn semaphore_retire_fails_waiters_that_can_no_longer_be_served() {
    within(HANG, || {
        let sem = Arc::new(Sem::new(4));
        sem.try_acquire(4).unwrap();
        let (tx, rx) = mpsc::channel();
        let (t, _hold) = spawn_acquirer(&sem, 4, 0, tx);
        eventually("queued", || sem.snapshot().queued == 1);
        sem.release(2); // partial grant of 2; the caller still holds 2
        sem.retire(2); // capacity 2 < 4 requested
        assert_eq!(
            rx.recv().unwrap().1,
            Err(AcquireError::TooLarge {
                requested: 4,
                capacity: 2
            })
        );
        t.join().unwrap();
        let snap = sem.snapshot();
        assert_eq!(
            (snap.available, snap.pending, snap.capacity, snap.queued),
            (2, 0, 2, 0)
        );
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
#[should_panic(expected = "WaitCounter::add(2) at count 2147483646 would exceed 2147483647")]
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
