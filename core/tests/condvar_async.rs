//! `CondvarFuture` polled by hand: the mutex released while it waits and
//! taken again as a future, `notify_one` and `notify_all` across threads
//! and tasks (a task's node stays out of the chain), interrupts, and a
//! dropped waiter that passes its notification on.

use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use concur_core::{CondvarFuture, Interrupted, RawCondvar, RawMutex, Waiter};

mod common;
use common::tasks::{counting, poll, wakes};

fn unlock(m: &RawMutex) {
    // SAFETY: every caller holds the lock.
    unsafe { m.unlock() }
}

#[test]
fn notify_one_wakes_the_task_which_takes_the_mutex_again() {
    let (m, cv): (RawMutex, RawCondvar) = (RawMutex::new(), RawCondvar::new());
    let (count, waker) = counting();
    m.lock();
    // SAFETY: held, and handed to the future.
    let mut wait = pin!(unsafe { cv.wait_async(&m) });
    assert!(poll(wait.as_mut(), &waker).is_pending());
    assert!(!m.is_locked(), "released while it waits");
    assert_eq!(cv.waiters(), 1);
    m.lock(); // someone else holds it when the notification comes
    assert!(cv.notify_one());
    assert_eq!(wakes(&count), 1);
    assert!(
        poll(wait.as_mut(), &waker).is_pending(),
        "waits for the mutex"
    );
    unlock(&m);
    assert_eq!(wakes(&count), 2, "the unlock woke it");
    assert_eq!(poll(wait.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(m.is_locked(), "held again");
    unlock(&m);
}

#[test]
fn an_interrupted_node_fails_at_once_without_releasing() {
    let (m, cv): (RawMutex, RawCondvar) = (RawMutex::new(), RawCondvar::new());
    let (_, waker) = counting();
    m.lock();
    let node = Waiter::new();
    node.interrupt();
    // SAFETY: held.
    let mut wait = pin!(unsafe { CondvarFuture::new(&cv, &m, node) });
    assert_eq!(poll(wait.as_mut(), &waker), Poll::Ready(Err(Interrupted)));
    assert!(m.is_locked());
    unlock(&m);
}

#[test]
fn an_interrupt_ends_the_wait_and_takes_no_notification() {
    let (m, cv): (RawMutex, RawCondvar) = (RawMutex::new(), RawCondvar::new());
    let (count, waker) = counting();
    m.lock();
    // SAFETY: held, and handed to the future.
    let mut first = pin!(unsafe { cv.wait_async(&m) });
    assert!(poll(first.as_mut(), &waker).is_pending());
    m.lock();
    // SAFETY: held, and handed to the future.
    let mut second = pin!(unsafe { cv.wait_async(&m) });
    assert!(poll(second.as_mut(), &waker).is_pending());
    first.as_ref().node().interrupt();
    assert_eq!(wakes(&count), 1);
    assert!(cv.notify_one(), "skips the interrupted one");
    assert_eq!(poll(first.as_mut(), &waker), Poll::Ready(Err(Interrupted)));
    unlock(&m);
    assert_eq!(poll(second.as_mut(), &waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn a_notified_future_dropped_passes_the_notification_on() {
    let (m, cv): (RawMutex, RawCondvar) = (RawMutex::new(), RawCondvar::new());
    let (count, waker) = counting();
    m.lock();
    // SAFETY: held, and handed to the future.
    let mut first = Box::pin(unsafe { cv.wait_async(&m) });
    assert!(poll(first.as_mut(), &waker).is_pending());
    m.lock();
    // SAFETY: held, and handed to the future.
    let mut second = pin!(unsafe { cv.wait_async(&m) });
    assert!(poll(second.as_mut(), &waker).is_pending());
    assert!(cv.notify_one()); // to `first`
    let before = wakes(&count);
    drop(first);
    assert_eq!(wakes(&count), before + 1, "passed on to `second`");
    assert_eq!(cv.waiters(), 0);
    assert_eq!(poll(second.as_mut(), &waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn a_future_dropped_before_its_first_poll_leaves_the_mutex_held() {
    let (m, cv): (RawMutex, RawCondvar) = (RawMutex::new(), RawCondvar::new());
    m.lock();
    // SAFETY: held; the future is never polled.
    drop(unsafe { cv.wait_async(&m) });
    assert!(m.is_locked());
    unlock(&m);
}

/// `notify_all` with threads and tasks waiting: the threads' chain skips
/// the tasks' nodes, whose wakers are woken, and everyone gets the mutex.
#[test]
fn notify_all_wakes_threads_and_tasks_alike() {
    let shared: Arc<(RawMutex, RawCondvar)> = Arc::new((RawMutex::new(), RawCondvar::new()));
    let (count, waker) = counting();
    let (m, cv) = (&shared.0, &shared.1);
    m.lock();
    // SAFETY: held, and handed to the future.
    let mut task_a = pin!(unsafe { cv.wait_async(m) });
    assert!(poll(task_a.as_mut(), &waker).is_pending());
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let shared = shared.clone();
            thread::spawn(move || {
                let (m, cv) = (&shared.0, &shared.1);
                m.lock();
                let node = pin!(Waiter::new());
                // SAFETY: held.
                let got = unsafe { cv.wait(node.as_ref(), m) };
                unlock(m);
                got
            })
        })
        .collect();
    let start = Instant::now();
    while cv.waiters() < 4 {
        assert!(start.elapsed() < Duration::from_secs(60), "never queued");
        thread::yield_now();
    }
    m.lock();
    // SAFETY: held, and handed to the future.
    let mut task_b = pin!(unsafe { cv.wait_async(m) });
    assert!(poll(task_b.as_mut(), &waker).is_pending());
    assert_eq!(cv.notify_all(), 5);
    assert_eq!(wakes(&count), 2, "both tasks' wakers");
    for t in threads {
        assert_eq!(t.join().unwrap(), Ok(()));
    }
    for mut task in [task_a.as_mut(), task_b.as_mut()] {
        let start = Instant::now();
        let got = loop {
            if let Poll::Ready(got) = poll(task.as_mut(), &waker) {
                break got;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "never relocked");
            thread::yield_now();
        };
        assert_eq!(got, Ok(()));
        unlock(m);
    }
}
