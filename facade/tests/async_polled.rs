//! The async twins polled by hand, with no executor and no timer thread
//! (so Miri runs them): a wait made in place and linked to its context, a
//! grant, a cancel, a drop while waiting, and `Context::done`.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use concur_sync::{Context, Error, Semaphore};

/// A waker that counts its wakes.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

#[test]
fn a_free_permit_needs_no_wait_and_a_held_one_is_granted_on_release() {
    let sem = Semaphore::new(1);
    let (live, _cancel) = Context::background().with_cancel();
    let (count, waker) = counting();
    let mut cx = TaskContext::from_waker(&waker);
    let held = match pin!(sem.acquire_async(&live, 1)).poll(&mut cx) {
        Poll::Ready(Ok(permit)) => permit,
        other => panic!("{other:?}"),
    };
    let mut wait = pin!(sem.acquire_async(&live, 1));
    assert!(wait.as_mut().poll(&mut cx).is_pending());
    assert_eq!(sem.waiters(), 1);
    drop(held);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(matches!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
    assert_eq!(sem.available(), 1);
}

#[test]
fn a_cancel_wakes_the_task_and_fails_the_wait() {
    let sem = Semaphore::new(1);
    let _held = sem.try_acquire(1).unwrap();
    let (ctx, cancel) = Context::background().with_cancel();
    let (count, waker) = counting();
    let mut cx = TaskContext::from_waker(&waker);
    let mut wait = pin!(sem.acquire_async(&ctx, 1));
    assert!(wait.as_mut().poll(&mut cx).is_pending());
    cancel.cancel();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(matches!(
        wait.as_mut().poll(&mut cx),
        Poll::Ready(Err(Error::Cancelled))
    ));
    assert_eq!(sem.waiters(), 0);
}

#[test]
fn a_future_dropped_while_it_waits_leaves_the_queue_and_its_context() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire(2).unwrap();
    let (ctx, cancel) = Context::background().with_cancel();
    let (_, waker) = counting();
    let mut cx = TaskContext::from_waker(&waker);
    {
        let mut wait = Box::pin(sem.acquire_async(&ctx, 2));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        let mut part = held;
        drop(part.split(1)); // one permit to the waiting future
        drop(wait);
        drop(part);
    }
    assert_eq!(sem.available(), 2, "the partial grant came back");
    assert_eq!(sem.waiters(), 0);
    // Its registration is gone too: cancelling touches nothing freed.
    cancel.cancel();
}

#[test]
fn done_resolves_on_cancel() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (count, waker) = counting();
    let mut cx = TaskContext::from_waker(&waker);
    let mut done = pin!(ctx.done());
    assert!(done.as_mut().poll(&mut cx).is_pending());
    cancel.cancel();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(done.as_mut().poll(&mut cx), Poll::Ready(Error::Cancelled));
    // A second one resolves at once.
    assert_eq!(
        pin!(ctx.done()).poll(&mut cx),
        Poll::Ready(Error::Cancelled)
    );
}

/// A waker that derives a context from the one being cancelled, which
/// takes that context's lock: it must not run while `cancel` holds it.
struct Reenters(Context, std::sync::Mutex<Option<Context>>);

impl Wake for Reenters {
    fn wake(self: Arc<Self>) {
        let (child, _cancel) = self.0.with_cancel();
        *self.1.lock().unwrap() = Some(child);
    }
}

#[test]
fn a_waker_may_come_back_to_the_context_being_cancelled() {
    let sem = Semaphore::new(1);
    let _held = sem.try_acquire(1).unwrap();
    let (ctx, cancel) = Context::background().with_cancel();
    let reenters = Arc::new(Reenters(ctx.clone(), std::sync::Mutex::new(None)));
    let waker = Waker::from(reenters.clone());
    let mut cx = TaskContext::from_waker(&waker);
    let mut wait = pin!(sem.acquire_async(&ctx, 1));
    assert!(wait.as_mut().poll(&mut cx).is_pending());
    // Bounded: a deadlock fails the test instead of hanging it.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        cancel.cancel();
        done_tx.send(()).unwrap();
    });
    assert!(
        done_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .is_ok(),
        "cancel deadlocked on a waker that re-entered the context"
    );
    let child = reenters.1.lock().unwrap().take().expect("the waker ran");
    assert_eq!(child.err(), Some(Error::Cancelled));
    assert!(matches!(
        wait.as_mut().poll(&mut cx),
        Poll::Ready(Err(Error::Cancelled))
    ));
}

#[test]
fn a_task_waits_for_a_held_mutex_and_a_cancel_ends_the_wait() {
    let m = concur_sync::Mutex::new(1);
    let (live, cancel) = Context::background().with_cancel();
    let (count, waker) = counting();
    let mut cx = TaskContext::from_waker(&waker);
    let background = Context::background();
    let held = m.lock();
    let mut first = pin!(m.lock_async(&live));
    let mut second = pin!(m.lock_async(&background));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    cancel.cancel();
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "the cancel woke the task"
    );
    assert!(matches!(
        first.as_mut().poll(&mut cx),
        Poll::Ready(Err(Error::Cancelled))
    ));
    drop(held);
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        2,
        "the unlock woke the other"
    );
    match second.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(mut guard)) => *guard += 1,
        other => panic!("{other:?}"),
    }
    assert_eq!(*m.lock(), 2);
}

#[test]
fn a_writer_task_dropped_while_it_waits_lets_readers_in() {
    let l = concur_sync::RwLock::new(0);
    let ctx = Context::background();
    let (count, waker) = counting();
    let mut cx = TaskContext::from_waker(&waker);
    let reading = l.read();
    let mut write = Box::pin(l.write_async(&ctx));
    assert!(write.as_mut().poll(&mut cx).is_pending());
    let mut read = pin!(l.read_async(&ctx));
    assert!(
        read.as_mut().poll(&mut cx).is_pending(),
        "behind the writer"
    );
    drop(write);
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "the withdrawal woke the reader"
    );
    assert!(matches!(read.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
    drop(reading);
    assert!(l.try_write().is_some());
}
