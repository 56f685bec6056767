//! `AcquireFuture` polled by hand: grants, the FIFO order shared with
//! threads, wakers that change between polls, and every way a pending
//! future can be dropped or interrupted without losing a permit.

use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use concur_core::{AcquireError, AcquireFuture, RawSemaphore, Snapshot, Waiter};

mod common;
use common::tasks::{counting, poll, wakes, Panics};

/// Waits (boundedly) until `sem` has `n` waiters queued.
fn until_queued(sem: &RawSemaphore, n: usize) {
    let start = Instant::now();
    while sem.waiters() < n {
        assert!(start.elapsed() < Duration::from_secs(30), "never queued");
        thread::yield_now();
    }
}

/// A semaphore of `capacity` permits, all held by the test.
fn held(capacity: u64) -> RawSemaphore {
    let sem = RawSemaphore::new(capacity);
    sem.try_acquire(capacity).unwrap();
    sem
}

/// The same in barging mode.
fn held_barging(capacity: u64) -> RawSemaphore {
    let sem = RawSemaphore::new_barging(capacity);
    sem.try_acquire(capacity).unwrap();
    sem
}

fn quiet(sem: &RawSemaphore, available: u64) {
    let s: Snapshot = sem.snapshot();
    assert_eq!(s.available, available, "{s:?}");
    assert_eq!(s.pending, 0, "{s:?}");
    assert_eq!(sem.waiters(), 0);
}

#[test]
fn free_permits_are_taken_without_queueing() {
    let sem: RawSemaphore = RawSemaphore::new(3);
    let (count, waker) = counting();
    let mut fut = pin!(sem.acquire_async(2));
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(sem.available(), 1);
    assert_eq!(wakes(&count), 0);
}

#[test]
fn a_release_grants_to_the_future_and_wakes_its_task() {
    let sem = held(2);
    let (count, waker) = counting();
    let mut fut = pin!(sem.acquire_async(2));
    assert!(poll(fut.as_mut(), &waker).is_pending());
    assert_eq!(sem.waiters(), 1);
    sem.release(1);
    assert_eq!(wakes(&count), 0, "a partial grant wakes nobody");
    assert!(poll(fut.as_mut(), &waker).is_pending());
    sem.release(1);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    quiet(&sem, 0);
}

#[test]
fn the_waker_of_the_latest_poll_is_woken() {
    let sem = held(1);
    let (first, first_waker) = counting();
    let (second, second_waker) = counting();
    let mut fut = pin!(sem.acquire_async(1));
    assert!(poll(fut.as_mut(), &first_waker).is_pending());
    assert!(poll(fut.as_mut(), &second_waker).is_pending());
    sem.release(1);
    assert_eq!((wakes(&first), wakes(&second)), (0, 1));
    assert_eq!(poll(fut.as_mut(), &second_waker), Poll::Ready(Ok(())));
}

#[test]
fn threads_and_futures_share_one_fifo_queue() {
    let sem = held(3);
    let (count, waker) = counting();
    thread::scope(|s| {
        let thread = s.spawn(|| {
            let node = pin!(Waiter::new());
            sem.acquire(node.as_ref(), 1)
        });
        until_queued(&sem, 1);
        // The future queues behind the thread.
        let mut fut = pin!(sem.acquire_async(1));
        assert!(poll(fut.as_mut(), &waker).is_pending());
        sem.release(1);
        assert_eq!(thread.join().unwrap(), Ok(()));
        assert_eq!(wakes(&count), 0, "the thread came first");
        assert!(poll(fut.as_mut(), &waker).is_pending());
        // A thread that comes now queues behind the future.
        let late = s.spawn(|| {
            let node = pin!(Waiter::new());
            sem.acquire(node.as_ref(), 1)
        });
        until_queued(&sem, 2);
        sem.release(1);
        assert_eq!(wakes(&count), 1);
        assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
        sem.release(1);
        assert_eq!(late.join().unwrap(), Ok(()));
    });
    quiet(&sem, 0);
}

#[test]
fn dropping_a_partly_granted_future_passes_its_grant_on() {
    let sem = held(3);
    let (_, waker) = counting();
    let (behind, behind_waker) = counting();
    let mut big = Box::pin(sem.acquire_async(3));
    assert!(poll(big.as_mut(), &waker).is_pending());
    let mut small = pin!(sem.acquire_async(2));
    assert!(poll(small.as_mut(), &behind_waker).is_pending());
    sem.release(2); // to the head, which needs 3
    assert_eq!(sem.snapshot().pending, 2);
    drop(big);
    assert_eq!(wakes(&behind), 1, "the grant went to the next waiter");
    assert_eq!(poll(small.as_mut(), &behind_waker), Poll::Ready(Ok(())));
    quiet(&sem, 0);
}

#[test]
fn dropping_a_granted_future_before_its_next_poll_gives_the_permits_back() {
    let sem = held(2);
    let (count, waker) = counting();
    let mut fut = Box::pin(sem.acquire_async(2));
    assert!(poll(fut.as_mut(), &waker).is_pending());
    sem.release(2);
    assert_eq!(wakes(&count), 1);
    drop(fut);
    quiet(&sem, 2);
}

#[test]
fn an_interrupt_wakes_the_task_and_ends_the_wait() {
    let sem: RawSemaphore = RawSemaphore::new(3);
    sem.try_acquire(2).unwrap();
    let (count, waker) = counting();
    let mut fut = pin!(sem.acquire_async(3));
    assert!(poll(fut.as_mut(), &waker).is_pending());
    assert_eq!(sem.snapshot().pending, 1, "took what was there");
    fut.as_ref().node().interrupt();
    assert_eq!(wakes(&count), 1);
    assert_eq!(
        poll(fut.as_mut(), &waker),
        Poll::Ready(Err(AcquireError::Interrupted))
    );
    quiet(&sem, 1);
}

#[test]
fn an_interrupt_before_the_first_poll_fails_it_at_once() {
    let sem = held(1);
    let (count, waker) = counting();
    let mut fut = pin!(sem.acquire_async(1));
    fut.as_ref().node().interrupt();
    assert_eq!(
        poll(fut.as_mut(), &waker),
        Poll::Ready(Err(AcquireError::Interrupted))
    );
    assert_eq!(wakes(&count), 0);
    quiet(&sem, 0);
}

#[test]
fn close_wakes_a_pending_future_with_closed() {
    let sem = held(1);
    let (count, waker) = counting();
    let mut fut = pin!(sem.acquire_async(1));
    assert!(poll(fut.as_mut(), &waker).is_pending());
    sem.close();
    assert_eq!(wakes(&count), 1);
    assert_eq!(
        poll(fut.as_mut(), &waker),
        Poll::Ready(Err(AcquireError::Closed))
    );
}

#[test]
fn many_futures_granted_at_once_are_all_woken() {
    // More than one batch of wakers (8), in one release.
    let sem = held(20);
    let (count, waker) = counting();
    let mut futs: Vec<_> = (0..20).map(|_| Box::pin(sem.acquire_async(1))).collect();
    for fut in &mut futs {
        assert!(poll(fut.as_mut(), &waker).is_pending());
    }
    sem.release(20);
    assert_eq!(wakes(&count), 20);
    for fut in &mut futs {
        assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    }
    quiet(&sem, 0);
}

#[test]
fn a_barging_offer_to_a_future_is_retried_or_requeued() {
    let sem = held_barging(1);
    let (count, waker) = counting();
    let mut fut = pin!(sem.acquire_async(1));
    assert!(poll(fut.as_mut(), &waker).is_pending());
    sem.release(1); // offered to the head
    assert_eq!(wakes(&count), 1);
    // A running caller takes the offered permit first.
    assert!(sem.try_acquire(1).is_ok());
    assert!(poll(fut.as_mut(), &waker).is_pending(), "queued again");
    assert_eq!(sem.waiters(), 1);
    sem.release(1);
    assert_eq!(wakes(&count), 2);
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    quiet(&sem, 0);
}

#[test]
fn a_leaked_pending_future_keeps_its_node_valid() {
    let sem = held(1);
    let (count, waker) = counting();
    let mut fut = Box::pin(sem.acquire_async(1));
    assert!(poll(fut.as_mut(), &waker).is_pending());
    // SAFETY: the box's contents are never moved; `leaked` only frees the
    // memory at the end, without running the future's drop (as a leak
    // never would).
    let leaked = Box::into_raw(unsafe { Pin::into_inner_unchecked(fut) });
    // The leaked node is still queued: the permit goes to it (and is lost,
    // as with a forgotten permit); nothing touches freed memory.
    sem.release(1);
    assert_eq!(wakes(&count), 1);
    assert_eq!(sem.waiters(), 0);
    assert_eq!(sem.available(), 0);
    // Free the memory (Miri checks for leaks) without running any drop:
    // the node is unlinked and its waker taken, so nothing reaches it.
    // SAFETY: from `Box::into_raw` above; `ManuallyDrop` has the same layout.
    drop(unsafe {
        Box::from_raw(
            leaked.cast::<std::mem::ManuallyDrop<AcquireFuture<'_, concur_core::DefaultPark>>>(),
        )
    });
}

#[test]
fn a_future_polled_from_another_thread_is_granted_there() {
    let sem = held(1);
    let (count, waker) = counting();
    let mut fut = Box::pin(sem.acquire_async(1));
    assert!(poll(fut.as_mut(), &waker).is_pending());
    thread::scope(|s| {
        s.spawn(|| sem.release(1));
    });
    assert_eq!(wakes(&count), 1);
    let got = thread::scope(|s| s.spawn(move || poll(fut.as_mut(), &waker)).join().unwrap());
    assert_eq!(got, Poll::Ready(Ok(())));
}

/// A waker that looks at the semaphore (under its list lock) when woken.
struct Reenter(Arc<RawSemaphore>, AtomicUsize);

impl Wake for Reenter {
    fn wake(self: Arc<Self>) {
        // Would deadlock if the waker ran under the list lock.
        let _ = self.0.snapshot();
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_waker_may_reenter_the_semaphore() {
    let sem = Arc::new(held(1));
    let reenter = Arc::new(Reenter(sem.clone(), AtomicUsize::new(0)));
    let waker = Waker::from(reenter.clone());
    let mut fut = pin!(sem.acquire_async(1));
    assert!(poll(fut.as_mut(), &waker).is_pending());
    sem.release(1);
    assert_eq!(reenter.1.load(Ordering::SeqCst), 1);
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
}

#[test]
fn a_panicking_waker_loses_no_grant_and_no_other_wake() {
    let sem = held(2);
    let panics = Waker::from(Arc::new(Panics));
    let (count, waker) = counting();
    let mut first = pin!(sem.acquire_async(1));
    let mut second = pin!(sem.acquire_async(1));
    assert!(poll(first.as_mut(), &panics).is_pending());
    assert!(poll(second.as_mut(), &waker).is_pending());
    let released = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.release(2)));
    assert!(released.is_err(), "the waker's panic reaches the releaser");
    assert_eq!(wakes(&count), 1, "the other task was still woken");
    assert_eq!(poll(first.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(poll(second.as_mut(), &waker), Poll::Ready(Ok(())));
    quiet(&sem, 0);
}

#[test]
fn a_panicking_waker_does_not_keep_a_thread_asleep() {
    let sem = Arc::new(held(2));
    let panics = Waker::from(Arc::new(Panics));
    let mut task = Box::pin(sem.acquire_async(1));
    assert!(poll(task.as_mut(), &panics).is_pending());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let thread = {
        let sem = sem.clone();
        thread::spawn(move || {
            let node = pin!(Waiter::new());
            let got = sem.acquire(node.as_ref(), 1);
            done_tx.send(got).unwrap();
        })
    };
    until_queued(&sem, 2);
    // One release grants both; the task's waker panics on the way.
    let released = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.release(2)));
    assert!(released.is_err());
    // Bounded: a thread left asleep fails the test instead of hanging it.
    let got = done_rx.recv_timeout(Duration::from_secs(60));
    assert_eq!(got, Ok(Ok(())), "the thread granted beside the task woke");
    thread.join().unwrap();
    let (_, waker) = counting();
    assert_eq!(poll(task.as_mut(), &waker), Poll::Ready(Ok(())));
}

/// A future that gives back a late grant (interrupted after it was
/// granted) wakes the next waiter from inside its own poll; if that waker
/// panics, the unwind leaves the future pending, and dropping it then
/// must not give the grant back a second time.
#[test]
fn a_waker_panicking_in_a_give_back_does_not_release_twice() {
    let sem = held(1);
    let panics = Waker::from(Arc::new(Panics));
    let (_, waker) = counting();
    let mut late = Box::pin(sem.acquire_async(1));
    let mut next = pin!(sem.acquire_async(1));
    assert!(poll(late.as_mut(), &waker).is_pending());
    assert!(poll(next.as_mut(), &panics).is_pending());
    sem.release(1); // granted to `late`
    late.as_ref().node().interrupt(); // too late: `late` gives it back
    let polled =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll(late.as_mut(), &waker)));
    assert!(
        polled.is_err(),
        "the give-back woke `next`, whose waker panicked"
    );
    drop(late);
    assert_eq!(poll(next.as_mut(), &waker), Poll::Ready(Ok(())));
    quiet(&sem, 0);
}

/// The same for a future interrupted while queued with a partial grant:
/// leaving passes the grant on, the wake of the next waiter panics, and
/// the drop that follows passes nothing on twice.
#[test]
fn a_waker_panicking_as_a_partial_grant_is_passed_on_does_not_pass_it_twice() {
    let sem = held(2);
    let panics = Waker::from(Arc::new(Panics));
    let (_, waker) = counting();
    let mut partial = Box::pin(sem.acquire_async(2));
    let mut next = pin!(sem.acquire_async(1));
    assert!(poll(partial.as_mut(), &waker).is_pending());
    assert!(poll(next.as_mut(), &panics).is_pending());
    sem.release(1); // one of two granted to `partial`, which stays queued
    partial.as_ref().node().interrupt();
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        poll(partial.as_mut(), &waker)
    }));
    assert!(polled.is_err(), "leaving woke `next`, whose waker panicked");
    drop(partial);
    assert_eq!(poll(next.as_mut(), &waker), Poll::Ready(Ok(())));
    quiet(&sem, 0);
}
