//! Models of deadlines racing grants: a waiter whose node carries a
//! `LoomPark` deadline, fired by a thread of its own at any point of the
//! schedule, against the unlock, release or count-down it waits for.
//!
//! In every model the waiter returns with the resource (and gives it back)
//! or timed out holding nothing, every other thread still gets through
//! (each joins: a wake the leaver absorbed was passed on), and the
//! primitive ends as it started. (A waiter that finds the resource free
//! on its last look succeeds even though its deadline has just passed.)

#![cfg(loom)]

use core::pin::Pin;

use concur_core::park::{LoomDeadline, LoomPark};
use concur_core::{AcquireError, RawMutex, RawRwLock, RawSemaphore, WaitCounter, Waiter};
use concur_loom_tests::{queued, settled, spin_until, Tracked};
use loom::sync::Arc;
use loom::thread;

/// A node with a fresh, unfired deadline, and that deadline.
fn timed_node() -> (Pin<Arc<Waiter>>, LoomDeadline) {
    let deadline = LoomPark::deadline();
    (Arc::pin(Waiter::with_deadline(deadline)), deadline)
}

/// The absorbed-wake race of the mutex: the holder's unlock may wake the
/// timed waiter (clearing `PARKED`) just as its deadline fires, with a plain
/// waiter asleep too, and the holder takes the lock straight back. If the
/// timed waiter then left without re-arming `PARKED`, the holder's second
/// unlock would wake nobody and the plain waiter would sleep forever.
#[test]
fn mutex_deadline_races_unlock() {
    loom::model(|| {
        let mutex = Arc::new(RawMutex::new());
        let data = Arc::new(Tracked::new());
        mutex.lock();

        let (node, deadline) = timed_node();
        let timed = {
            let (mutex, data, node) = (mutex.clone(), data.clone(), node.clone());
            thread::spawn(move || {
                let result = mutex.lock_interruptible(node.as_ref());
                if result.is_ok() {
                    data.bump();
                    // SAFETY: locked by the call above.
                    unsafe { mutex.unlock() };
                }
                result
            })
        };
        let plain = {
            let (mutex, data) = (mutex.clone(), data.clone());
            thread::spawn(move || {
                mutex.lock();
                data.bump();
                // SAFETY: locked just above.
                unsafe { mutex.unlock() };
            })
        };
        let firer = thread::spawn(move || LoomPark::fire(deadline));

        data.bump();
        // SAFETY: locked above by this thread.
        unsafe { mutex.unlock() };
        // Barge back in: a woken waiter may find the lock taken again, with
        // `PARKED` cleared by the unlock that woke it.
        mutex.lock();
        // SAFETY: locked just above.
        unsafe { mutex.unlock() };

        firer.join().unwrap();
        plain.join().unwrap();
        let result = timed.join().unwrap();
        assert!(result.is_ok() || node.timed_out());
        assert_eq!(data.get(), 2 + u64::from(result.is_ok()));
        assert!(!mutex.is_locked());
    });
}

/// A queued weighted waiter (2 of 2) holding a partial grant of 1 races its
/// deadline against the release of the second permit. A timed-out head
/// gives its partial grant back; a granted one releases both: either way
/// every permit is back.
#[test]
fn semaphore_deadline_races_partial_grant() {
    loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(2));
        sem.try_acquire(2).unwrap();

        let (node, deadline) = timed_node();
        let head = {
            let (sem, node) = (sem.clone(), node.clone());
            thread::spawn(move || {
                let result = sem.acquire(node.as_ref(), 2);
                if result.is_ok() {
                    sem.release(2);
                }
                result
            })
        };
        spin_until(|| queued(&sem) == 1);
        sem.release(1);
        assert_eq!(
            sem.snapshot().pending,
            1,
            "the head keeps its partial grant"
        );

        let firer = thread::spawn(move || LoomPark::fire(deadline));
        sem.release(1);

        firer.join().unwrap();
        let result = head.join().unwrap();
        assert!(
            matches!(result, Ok(()) | Err(AcquireError::Interrupted)),
            "unexpected result {result:?}"
        );
        assert!(result.is_ok() || node.timed_out());
        assert_eq!(sem.snapshot(), settled(2));
    });
}

/// An announced writer times out while the reader it waits for unlocks and
/// a second reader waits behind the announcement: the writer either gets
/// the lock or withdraws, letting the reader in.
#[test]
fn rwlock_writer_deadline_races_read_unlock() {
    loom::model(|| {
        let lock = Arc::new(RawRwLock::new());
        let data = Arc::new(Tracked::new());
        lock.read();

        let (node, deadline) = timed_node();
        let writer = {
            let (lock, data, node) = (lock.clone(), data.clone(), node.clone());
            thread::spawn(move || {
                let result = lock.write_interruptible(node.as_ref());
                if result.is_ok() {
                    data.bump();
                    // SAFETY: write-locked by the call above.
                    unsafe { lock.write_unlock() };
                }
                result
            })
        };
        let reader = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || {
                lock.read();
                let seen = data.get();
                // SAFETY: read-locked just above.
                unsafe { lock.read_unlock() };
                seen
            })
        };
        let firer = thread::spawn(move || LoomPark::fire(deadline));

        // SAFETY: read-locked above by this thread.
        unsafe { lock.read_unlock() };

        firer.join().unwrap();
        let seen = reader.join().unwrap();
        let result = writer.join().unwrap();
        assert!(result.is_ok() || node.timed_out());
        assert!(seen <= u64::from(result.is_ok()));
        assert!(!lock.is_locked());
    });
}

/// A waiter on the count races its deadline against the last `done`: it
/// returns `Ok` only once the count is zero, and a plain waiter alongside
/// still wakes.
#[test]
fn counter_deadline_races_done() {
    loom::model(|| {
        let counter = Arc::new(WaitCounter::new());
        counter.add(1);

        let (node, deadline) = timed_node();
        let timed = {
            let (counter, node) = (counter.clone(), node.clone());
            thread::spawn(move || {
                let result = counter.wait_interruptible(node.as_ref());
                if result.is_ok() {
                    assert_eq!(counter.count(), 0);
                }
                result
            })
        };
        let plain = {
            let counter = counter.clone();
            thread::spawn(move || counter.wait())
        };
        let firer = thread::spawn(move || LoomPark::fire(deadline));

        counter.done();

        firer.join().unwrap();
        plain.join().unwrap();
        let result = timed.join().unwrap();
        // A wait that finds the count at zero succeeds, even just after
        // its deadline passed.
        assert!(result.is_ok() || node.timed_out());
    });
}
