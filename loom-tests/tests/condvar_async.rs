//! Models of a future waiting on the condvar: notified by a thread, and
//! dropped after it was notified while a thread waits behind it (the
//! notification goes on), and a barrier round of a thread and a task.

#![cfg(loom)]

use core::future::Future;
use core::task::{Context, Waker};

use concur_core::{DefaultPark, RawBarrier, RawCondvar, RawMutex, Waiter};
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

type Shared = Arc<(RawMutex<DefaultPark>, RawCondvar<DefaultPark>, AtomicBool)>;

fn unlock(m: &RawMutex) {
    // SAFETY: every caller holds the lock.
    unsafe { m.unlock() }
}

/// A task waits for a flag a thread sets and notifies: it sees the flag,
/// whether the notification comes before, during or after its wait.
#[test]
fn a_thread_notifies_a_waiting_task() {
    loom::model(|| {
        let shared: Shared = Arc::new((RawMutex::new(), RawCondvar::new(), AtomicBool::new(false)));
        let notifier = {
            let shared = shared.clone();
            thread::spawn(move || {
                shared.0.lock();
                shared.2.store(true, Ordering::Relaxed);
                unlock(&shared.0);
                shared.1.notify_one();
            })
        };
        let (m, cv, flag) = (&shared.0, &shared.1, &shared.2);
        m.lock();
        while !flag.load(Ordering::Relaxed) {
            // SAFETY: held, and handed to the future.
            let _ = block_on(unsafe { cv.wait_async(m) });
        }
        unlock(m);
        notifier.join().unwrap();
    });
}

/// A task waits first, a thread waits for a flag behind it; the flag is
/// set and one notification sent, which goes to the task, which is then
/// dropped without running: the drop passes the notification on, so the
/// thread does not sleep through it.
#[test]
fn a_dropped_notified_task_passes_the_notification_on() {
    loom::model(|| {
        let shared: Shared = Arc::new((RawMutex::new(), RawCondvar::new(), AtomicBool::new(false)));
        let (m, cv, flag) = (&shared.0, &shared.1, &shared.2);
        m.lock();
        // SAFETY: held, and handed to the future by its first poll.
        let mut task = Box::pin(unsafe { cv.wait_async(m) });
        let polled = task.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(polled.is_pending());
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (m, cv, flag) = (&shared.0, &shared.1, &shared.2);
                m.lock();
                while !flag.load(Ordering::Relaxed) {
                    let node = Box::pin(Waiter::new());
                    // SAFETY: held.
                    let _ = unsafe { cv.wait(node.as_ref(), m) };
                }
                unlock(m);
            })
        };
        m.lock();
        flag.store(true, Ordering::Relaxed);
        unlock(m);
        cv.notify_one();
        drop(task);
        waiter.join().unwrap();
    });
}

/// A thread and a task meet at a barrier of two.
#[test]
fn a_thread_and_a_task_meet_at_a_barrier() {
    loom::model(|| {
        let barrier = Arc::new(RawBarrier::<DefaultPark>::new(2));
        let thread = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let node = Box::pin(Waiter::new());
                barrier.wait(node.as_ref()).unwrap()
            })
        };
        let task = block_on(barrier.wait_async()).unwrap();
        let thread = thread.join().unwrap();
        assert!(task != thread, "one leader");
        assert_eq!(barrier.arrived(), 0);
    });
}
