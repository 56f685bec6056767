//! Models of `RawMutex`: exclusion, and interruptible waits racing the
//! unlock they wait for.

#![cfg(loom)]

use concur_core::{Interrupted, RawMutex};
use concur_loom_tests::{shared_node, Tracked};
use loom::sync::Arc;
use loom::thread;

/// The mutex under test, with the default (loom) parker.
type Mutex = RawMutex;

/// Runs one critical section: bumps `data` under the lock.
fn locked_bump(mutex: &Mutex, data: &Tracked) {
    mutex.lock();
    data.bump();
    // SAFETY: locked just above by this thread.
    unsafe { mutex.unlock() };
}

/// Three threads lock, write the tracked cell and unlock: no two are ever
/// inside at once (the writes would race), each sees the previous one's
/// write, and the lock ends unlocked.
#[test]
fn exclusion_three_threads() {
    loom::model(|| {
        let mutex = Arc::new(Mutex::new());
        let data = Arc::new(Tracked::new());

        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (mutex, data) = (mutex.clone(), data.clone());
                thread::spawn(move || locked_bump(&mutex, &data))
            })
            .collect();
        locked_bump(&mutex, &data);

        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(data.get(), 3);
        assert!(!mutex.is_locked());
    });
}

/// While the main thread holds the lock, one waiter uses
/// `lock_interruptible` and another plain `lock`; a third thread interrupts
/// the first while the holder unlocks. The interruptible waiter returns `Ok`
/// (and runs its critical section) or `Interrupted`; exclusion holds
/// throughout; nobody stays asleep (every thread joins, so an interrupted
/// waiter that absorbed the unlock's wake passed it on); the lock ends
/// unlocked.
#[test]
fn interrupt_races_unlock() {
    loom::model(|| {
        let mutex = Arc::new(Mutex::new());
        let data = Arc::new(Tracked::new());
        mutex.lock();

        let node = shared_node();
        let interruptible = {
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
            thread::spawn(move || locked_bump(&mutex, &data))
        };
        let interrupter = thread::spawn(move || node.interrupt());

        data.bump();
        // SAFETY: locked above by this thread.
        unsafe { mutex.unlock() };

        interrupter.join().unwrap();
        plain.join().unwrap();
        let result = interruptible.join().unwrap();
        assert_eq!(data.get(), 2 + u64::from(result.is_ok()));
        assert!(!mutex.is_locked());
    });
}

/// The interrupt arrives while the lock is held throughout: the
/// interruptible waiter must return `Interrupted` without the lock, and a
/// plain waiter behind it still gets the lock when the holder unlocks.
#[test]
fn interrupt_while_held() {
    loom::model(|| {
        let mutex = Arc::new(Mutex::new());
        let data = Arc::new(Tracked::new());
        mutex.lock();

        let node = shared_node();
        let interruptible = {
            let (mutex, node) = (mutex.clone(), node.clone());
            thread::spawn(move || mutex.lock_interruptible(node.as_ref()))
        };
        let plain = {
            let (mutex, data) = (mutex.clone(), data.clone());
            thread::spawn(move || locked_bump(&mutex, &data))
        };

        node.interrupt();
        assert_eq!(interruptible.join().unwrap(), Err(Interrupted));
        assert!(
            mutex.is_locked(),
            "the interrupted waiter released a lock it did not hold"
        );

        data.bump();
        // SAFETY: locked above by this thread.
        unsafe { mutex.unlock() };

        plain.join().unwrap();
        assert_eq!(data.get(), 2);
        assert!(!mutex.is_locked());
        // The node stays interrupted: a wait with it that would block fails
        // at once (here it would deadlock on our own lock otherwise).
        mutex.lock();
        assert_eq!(mutex.lock_interruptible(node.as_ref()), Err(Interrupted));
        // SAFETY: locked just above by this thread.
        unsafe { mutex.unlock() };
    });
}
