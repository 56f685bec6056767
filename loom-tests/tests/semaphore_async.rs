//! Models of `AcquireFuture`: a future and a thread in one queue, a
//! pending future dropped while a grant races it, and an interrupt or a
//! `close` waking a task.

#![cfg(loom)]

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use concur_core::{AcquireError, AcquireFuture, DefaultPark, RawSemaphore, Waiter};
use concur_loom_tests::{holder, settled, Tracked};
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

type Sem = RawSemaphore;

/// A semaphore of `capacity`, every permit held by the model.
fn held(capacity: u64) -> Arc<Sem> {
    let sem = Arc::new(Sem::new(capacity));
    sem.try_acquire(capacity).unwrap();
    sem
}

/// Polls once with a waker that does nothing (the model checks the
/// semaphore's state, not the wake).
fn poll_once(fut: Pin<&mut AcquireFuture<'_, DefaultPark>>) -> Poll<Result<(), AcquireError>> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A node inside a pinned future, handed to another model thread.
struct NodePtr(*const Waiter);
// SAFETY: the models keep the future (and so the node) alive until the
// thread that uses the pointer has been joined.
unsafe impl Send for NodePtr {}

/// A thread and a task share one permit: each holds it alone, and it is
/// back at the end.
#[test]
fn a_thread_and_a_task_take_turns() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(1));
        let data = Arc::new(Tracked::new());
        let thread = holder(&sem, &data, 1);
        block_on(sem.acquire_async(1)).unwrap();
        data.bump();
        sem.release(1);
        thread.join().unwrap();
        assert_eq!(data.get(), 2);
        assert_eq!(sem.snapshot(), settled(1));
    });
}

/// A queued future is dropped while a release grants it its permit: the
/// permit is either given back by the drop or never given to it; it is
/// not lost.
#[test]
fn a_dropped_future_races_its_grant() {
    loom::model(|| {
        let sem = held(1);
        let mut fut = Box::pin(sem.acquire_async(1));
        assert!(poll_once(fut.as_mut()).is_pending());
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1))
        };
        drop(fut);
        releaser.join().unwrap();
        assert_eq!(sem.snapshot(), settled(1));
    });
}

/// A future partly granted (2 of 3) is dropped while the last permit
/// comes: everything goes on to the waiter behind it.
#[test]
fn a_dropped_partial_grant_goes_to_the_next_task() {
    loom::model(|| {
        let sem = held(3);
        let mut big = Box::pin(sem.acquire_async(3));
        assert!(poll_once(big.as_mut()).is_pending());
        sem.release(2);
        let behind = {
            let sem = sem.clone();
            thread::spawn(move || {
                block_on(sem.acquire_async(2)).unwrap();
                sem.release(2);
            })
        };
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1))
        };
        drop(big);
        releaser.join().unwrap();
        behind.join().unwrap();
        assert_eq!(sem.snapshot(), settled(3));
    });
}

/// An interrupt races a grant to a task, and both race its first poll
/// (which may find the node interrupted before its waker is registered):
/// the task wakes either way, and the permit ends up back whichever came
/// first.
#[test]
fn an_interrupt_racing_a_grant_wakes_the_task() {
    loom::model(|| {
        let sem = held(1);
        let mut fut = Box::pin(sem.acquire_async(1));
        let node = NodePtr(&*fut.as_ref().node());
        let interrupter = thread::spawn(move || {
            let node = node;
            // SAFETY: the future outlives this thread (joined below).
            unsafe { (*node.0).interrupt() };
        });
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1))
        };
        match block_on(fut.as_mut()) {
            Ok(()) => sem.release(1),
            Err(err) => assert_eq!(err, AcquireError::Interrupted),
        }
        interrupter.join().unwrap();
        releaser.join().unwrap();
        drop(fut);
        assert_eq!(sem.snapshot(), settled(1));
    });
}

/// `close` wakes a waiting task with `Closed`.
#[test]
fn close_wakes_a_waiting_task() {
    loom::model(|| {
        let sem = held(1);
        let closer = {
            let sem = sem.clone();
            thread::spawn(move || sem.close())
        };
        assert_eq!(block_on(sem.acquire_async(1)), Err(AcquireError::Closed));
        closer.join().unwrap();
    });
}
