//! Models of the futures that wait for a one-word lock in the task table:
//! a thread and a task on one mutex, a woken future dropped before it
//! runs, an interrupt racing an unlock, and the rwlock with a task writer
//! and thread readers (and the reverse).

#![cfg(loom)]

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use concur_core::{DefaultPark, RawMutex, RawRwLock, Waiter};
use concur_loom_tests::Tracked;
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

fn unlock(m: &RawMutex) {
    // SAFETY: every caller holds the lock.
    unsafe { m.unlock() }
}

/// Polls once with a waker that does nothing.
fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A node inside a pinned future, handed to another model thread.
struct NodePtr(*const Waiter);
// SAFETY: the models keep the future (and so the node) alive until the
// thread that uses the pointer has been joined.
unsafe impl Send for NodePtr {}

/// A thread and a task each take the mutex once: each holds it alone,
/// and neither is left waiting.
#[test]
fn a_thread_and_a_task_share_a_mutex() {
    loom::model(|| {
        let m = Arc::new(RawMutex::<DefaultPark>::new());
        let data = Arc::new(Tracked::new());
        let thread = {
            let (m, data) = (m.clone(), data.clone());
            thread::spawn(move || {
                m.lock();
                data.bump();
                unlock(&m);
            })
        };
        block_on(m.lock_async()).unwrap();
        data.bump();
        unlock(&m);
        thread.join().unwrap();
        assert_eq!(data.get(), 2);
        assert!(!m.is_locked());
    });
}

/// Two tasks on two threads wait while the model holds the mutex, then
/// it unlocks: each unlock wakes the next task, and both finish.
#[test]
fn two_tasks_are_both_woken() {
    loom::model(|| {
        let m = Arc::new(RawMutex::<DefaultPark>::new());
        let data = Arc::new(Tracked::new());
        m.lock();
        let task = {
            let (m, data) = (m.clone(), data.clone());
            thread::spawn(move || {
                block_on(m.lock_async()).unwrap();
                data.bump();
                unlock(&m);
            })
        };
        unlock(&m);
        block_on(m.lock_async()).unwrap();
        data.bump();
        unlock(&m);
        task.join().unwrap();
        assert_eq!(data.get(), 2);
        assert!(!m.is_locked());
    });
}

/// A waiting future is woken by an unlock and dropped before it runs,
/// while a task on another thread waits or is about to: the drop passes
/// the wake on, so that task finishes.
#[test]
fn a_woken_future_dropped_passes_the_wake_on() {
    loom::model(|| {
        let m = Arc::new(RawMutex::<DefaultPark>::new());
        m.lock();
        let mut first = Box::pin(m.lock_async());
        assert!(poll_once(first.as_mut()).is_pending());
        let task = {
            let m = m.clone();
            thread::spawn(move || {
                block_on(m.lock_async()).unwrap();
                unlock(&m);
            })
        };
        unlock(&m);
        drop(first);
        task.join().unwrap();
        assert!(!m.is_locked());
    });
}

/// An interrupt races the unlock that would wake a task: the task ends
/// with the lock or with `Interrupted`, and a second task is not stranded
/// by a wake the first one took.
#[test]
fn an_interrupt_racing_an_unlock() {
    loom::model(|| {
        let m = Arc::new(RawMutex::<DefaultPark>::new());
        m.lock();
        let mut fut = Box::pin(m.lock_async());
        assert!(poll_once(fut.as_mut()).is_pending());
        let node = NodePtr(&*fut.as_ref().node());
        let interrupter = thread::spawn(move || {
            let node = node;
            // SAFETY: the future outlives this thread (joined below).
            unsafe { (*node.0).interrupt() };
        });
        let second = {
            let m = m.clone();
            thread::spawn(move || {
                block_on(m.lock_async()).unwrap();
                unlock(&m);
            })
        };
        unlock(&m);
        // Either outcome is fine; an `Ok` holds the lock.
        if block_on(fut.as_mut()) == Ok(()) {
            unlock(&m);
        }
        interrupter.join().unwrap();
        second.join().unwrap();
        assert!(!m.is_locked());
    });
}

/// A task writer and two thread readers: the writer gets in (writer
/// preference keeps the readers from starving it), the readers see its
/// write whole or not at all, and the lock ends free.
#[test]
fn a_task_writer_and_thread_readers() {
    loom::model(|| {
        let l = Arc::new(RawRwLock::<DefaultPark>::new());
        let data = Arc::new(Tracked::new());
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (l, data) = (l.clone(), data.clone());
                thread::spawn(move || {
                    l.read();
                    let seen = data.get();
                    assert!(seen <= 1);
                    // SAFETY: read-locked just above.
                    unsafe { l.read_unlock() };
                })
            })
            .collect();
        block_on(l.write_async()).unwrap();
        data.bump();
        // SAFETY: the future took the write lock.
        unsafe { l.write_unlock() };
        for r in readers {
            r.join().unwrap();
        }
        assert!(l.try_write(), "free, and no writer counted");
    });
}

/// A thread writer holds the lock while a task reader and a task writer
/// wait: the release wakes them, and both get in.
#[test]
fn task_readers_and_writers_behind_a_thread_writer() {
    loom::model(|| {
        let l = Arc::new(RawRwLock::<DefaultPark>::new());
        let data = Arc::new(Tracked::new());
        l.write();
        let writer = {
            let (l, data) = (l.clone(), data.clone());
            thread::spawn(move || {
                block_on(l.write_async()).unwrap();
                data.bump();
                // SAFETY: the future took the write lock.
                unsafe { l.write_unlock() };
            })
        };
        // SAFETY: write-locked above.
        unsafe { l.write_unlock() };
        block_on(l.read_async()).unwrap();
        assert!(data.get() <= 1);
        // SAFETY: the future took a read lock.
        unsafe { l.read_unlock() };
        writer.join().unwrap();
        assert_eq!(data.get(), 1);
        assert!(l.try_write());
    });
}

/// A task and a thread wait for a counter to reach zero while another
/// thread's `done` takes it there: both wake.
#[test]
fn a_done_wakes_a_waiting_task_and_thread() {
    loom::model(|| {
        let c = Arc::new(concur_core::WaitCounter::<DefaultPark>::new());
        c.add(1);
        let thread = {
            let c = c.clone();
            thread::spawn(move || c.wait())
        };
        let doer = {
            let c = c.clone();
            thread::spawn(move || c.done())
        };
        block_on(c.wait_async()).unwrap();
        doer.join().unwrap();
        thread.join().unwrap();
        assert_eq!(c.count(), 0);
    });
}

/// A thread runs a once initializer that fails while a task waits for its
/// turn: the task is woken, runs its own, and the state ends complete.
#[test]
fn a_failed_runner_hands_the_turn_to_a_waiting_task() {
    use concur_core::{Begin, OnceState};
    loom::model(|| {
        let once = Arc::new(OnceState::<DefaultPark>::new());
        let runner = {
            let once = once.clone();
            thread::spawn(move || {
                if let Begin::Run(guard) = once.begin() {
                    drop(guard); // the initializer failed
                }
            })
        };
        match block_on(once.begin_async()).unwrap() {
            Begin::Run(guard) => guard.complete(),
            Begin::Complete => unreachable!("nobody completes but the task"),
        }
        runner.join().unwrap();
        assert!(once.is_complete());
    });
}
