//! `LockFuture` polled by hand: the table it waits in, the wakes of
//! unlocks, interrupts and drops in every phase, threads and tasks on one
//! mutex, and leaked futures. (The rwlock's are in `rwlock_async`.)

use std::mem::MaybeUninit;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use concur_core::{Interrupted, RawMutex, Waiter};

mod common;
use common::tasks::{counting, free, leak, poll, wakes, Panics};

/// Unlocks a mutex the test holds.
fn unlock(m: &RawMutex) {
    // SAFETY: every caller holds the lock (taken by it or by a future for it).
    unsafe { m.unlock() }
}

#[test]
fn a_free_mutex_is_taken_on_the_first_poll() {
    let m: RawMutex = RawMutex::new();
    let (count, waker) = counting();
    let mut fut = pin!(m.lock_async());
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(m.is_locked());
    unlock(&m);
    assert_eq!(wakes(&count), 0);
}

#[test]
fn an_unlock_wakes_the_waiting_task_which_then_takes_the_lock() {
    let m: RawMutex = RawMutex::new();
    let (count, waker) = counting();
    m.lock();
    let mut fut = pin!(m.lock_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    assert!(
        poll(fut.as_mut(), &waker).is_pending(),
        "a spurious poll waits on"
    );
    unlock(&m);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(m.is_locked());
    unlock(&m);
    // The table is empty again: the next unlock is the fast one, and a
    // second holder wakes nobody.
    m.lock();
    unlock(&m);
    assert_eq!(wakes(&count), 1);
}

#[test]
fn tasks_are_woken_in_the_order_they_came() {
    let m: RawMutex = RawMutex::new();
    let (first_count, first_waker) = counting();
    let (second_count, second_waker) = counting();
    m.lock();
    let mut first = pin!(m.lock_async());
    let mut second = pin!(m.lock_async());
    assert!(poll(first.as_mut(), &first_waker).is_pending());
    assert!(poll(second.as_mut(), &second_waker).is_pending());
    unlock(&m);
    assert_eq!((wakes(&first_count), wakes(&second_count)), (1, 0));
    assert_eq!(poll(first.as_mut(), &first_waker), Poll::Ready(Ok(())));
    unlock(&m);
    assert_eq!(wakes(&second_count), 1);
    assert_eq!(poll(second.as_mut(), &second_waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn a_woken_task_that_lost_the_lock_waits_again_in_front() {
    let m: RawMutex = RawMutex::new();
    let (first_count, first_waker) = counting();
    let (second_count, second_waker) = counting();
    m.lock();
    let mut first = pin!(m.lock_async());
    let mut second = pin!(m.lock_async());
    assert!(poll(first.as_mut(), &first_waker).is_pending());
    assert!(poll(second.as_mut(), &second_waker).is_pending());
    unlock(&m);
    assert!(
        m.try_lock(),
        "a running thread barges in before the woken task runs"
    );
    assert!(poll(first.as_mut(), &first_waker).is_pending());
    unlock(&m);
    assert_eq!(wakes(&first_count), 2, "the woken task kept its place");
    assert_eq!(wakes(&second_count), 0);
    assert_eq!(poll(first.as_mut(), &first_waker), Poll::Ready(Ok(())));
    unlock(&m);
    assert_eq!(poll(second.as_mut(), &second_waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn a_woken_task_dropped_before_it_runs_passes_the_wake_on() {
    let m: RawMutex = RawMutex::new();
    let (_, first_waker) = counting();
    let (second_count, second_waker) = counting();
    m.lock();
    let mut first = Box::pin(m.lock_async());
    let mut second = pin!(m.lock_async());
    assert!(poll(first.as_mut(), &first_waker).is_pending());
    assert!(poll(second.as_mut(), &second_waker).is_pending());
    unlock(&m); // wakes `first`
    assert_eq!(wakes(&second_count), 0);
    drop(first);
    assert_eq!(wakes(&second_count), 1, "the drop passed the wake on");
    assert_eq!(poll(second.as_mut(), &second_waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn a_pending_task_dropped_leaves_the_table() {
    let m: RawMutex = RawMutex::new();
    let (count, waker) = counting();
    m.lock();
    let mut fut = Box::pin(m.lock_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    drop(fut);
    unlock(&m);
    assert_eq!(wakes(&count), 0, "nobody left to wake");
    // The bit went with the last node: a later waiter is woken as usual.
    m.lock();
    let mut again = pin!(m.lock_async());
    assert!(poll(again.as_mut(), &waker).is_pending());
    unlock(&m);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(again.as_mut(), &waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn an_interrupt_wakes_the_task_and_ends_its_wait() {
    let m: RawMutex = RawMutex::new();
    let (count, waker) = counting();
    let (other_count, other_waker) = counting();
    m.lock();
    let mut fut = pin!(m.lock_async());
    let mut other = pin!(m.lock_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    assert!(poll(other.as_mut(), &other_waker).is_pending());
    fut.as_ref().node().interrupt();
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Err(Interrupted)));
    unlock(&m);
    assert_eq!(wakes(&other_count), 1, "the one left is woken");
    assert_eq!(poll(other.as_mut(), &other_waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn an_interrupted_task_still_takes_a_lock_that_came_free() {
    let m: RawMutex = RawMutex::new();
    let (_, waker) = counting();
    m.lock();
    let mut fut = pin!(m.lock_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    unlock(&m);
    fut.as_ref().node().interrupt();
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn a_woken_and_interrupted_task_passes_the_wake_on() {
    let m: RawMutex = RawMutex::new();
    let (_, waker) = counting();
    let (other_count, other_waker) = counting();
    m.lock();
    let mut fut = pin!(m.lock_async());
    let mut other = pin!(m.lock_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    assert!(poll(other.as_mut(), &other_waker).is_pending());
    unlock(&m); // wakes `fut`
    assert!(m.try_lock()); // ... which loses the lock
    fut.as_ref().node().interrupt();
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Err(Interrupted)));
    unlock(&m);
    assert_eq!(wakes(&other_count), 1);
    assert_eq!(poll(other.as_mut(), &other_waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn an_interrupt_before_the_wait_fails_only_a_wait() {
    let m: RawMutex = RawMutex::new();
    let (_, waker) = counting();
    let node = Waiter::new();
    node.interrupt();
    let mut free = pin!(concur_core::LockFuture::new(&m, node));
    assert_eq!(
        poll(free.as_mut(), &waker),
        Poll::Ready(Ok(())),
        "free: taken"
    );
    let node = Waiter::new();
    node.interrupt();
    let mut held = pin!(concur_core::LockFuture::new(&m, node));
    assert_eq!(poll(held.as_mut(), &waker), Poll::Ready(Err(Interrupted)));
    unlock(&m);
}

#[test]
fn a_panicking_waker_leaves_the_lock_consistent() {
    let m: RawMutex = RawMutex::new();
    let panics = Waker::from(Arc::new(Panics));
    let (_, waker) = counting();
    m.lock();
    let mut fut = pin!(m.lock_async());
    assert!(poll(fut.as_mut(), &panics).is_pending());
    let unlocked = std::panic::catch_unwind(|| unlock(&m));
    assert!(unlocked.is_err(), "the waker's panic reaches the unlocker");
    assert!(!m.is_locked(), "the unlock happened");
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    unlock(&m);
}

#[test]
fn a_waker_may_reenter_the_mutex() {
    struct Relock(Arc<RawMutex>);
    impl Wake for Relock {
        fn wake(self: Arc<Self>) {
            // No bucket lock is held while wakers run.
            assert!(self.0.try_lock());
            unlock(&self.0);
        }
    }
    let m = Arc::new(RawMutex::new());
    let waker = Waker::from(Arc::new(Relock(m.clone())));
    m.lock();
    let mut fut = pin!(m.lock_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    unlock(&m);
    let (_, plain) = counting();
    assert_eq!(poll(fut.as_mut(), &plain), Poll::Ready(Ok(())));
    unlock(&m);
}

/// A future leaked while it waits keeps its node in the table (in leaked
/// memory); dropping the mutex purges it, so a mutex made later at the
/// same address does not lose a wake to it.
#[test]
fn a_leaked_future_does_not_haunt_a_later_mutex_at_its_address() {
    let mut slot = MaybeUninit::<RawMutex>::uninit();
    let leaked = {
        let m = slot.write(RawMutex::new());
        m.lock();
        let mut fut = Box::pin(m.lock_async());
        assert!(poll(fut.as_mut(), Waker::noop()).is_pending());
        leak(fut)
        // Dropped held: an unlock would wake (and unlink) the leaked node.
    };
    // SAFETY: initialised above, and nothing borrows it any more.
    unsafe { slot.assume_init_drop() };
    // SAFETY: leaked above; the drop of its mutex took its node out of the
    // table, so nothing reaches it.
    unsafe { free(leaked) };
    let m = slot.write(RawMutex::new());
    let (count, waker) = counting();
    m.lock();
    let mut fut = pin!(m.lock_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    unlock(m);
    assert_eq!(wakes(&count), 1, "the wake went to the live future");
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    unlock(m);
}

#[test]
fn threads_and_tasks_share_one_mutex() {
    let m = Arc::new(RawMutex::new());
    let (count, waker) = counting();
    m.lock();
    let thread = {
        let m = m.clone();
        thread::spawn(move || {
            m.lock();
            unlock(&m);
        })
    };
    let mut fut = pin!(m.lock_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    unlock(&m); // wakes the task, and the thread if it sleeps
                // Whichever runs first takes the lock; the task gets it eventually.
    let start = Instant::now();
    loop {
        if wakes(&count) > 0 {
            if let Poll::Ready(got) = poll(fut.as_mut(), &waker) {
                assert_eq!(got, Ok(()));
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the task was never woken"
        );
        thread::yield_now();
    }
    unlock(&m);
    thread.join().unwrap();
    assert!(!m.is_locked());
}
