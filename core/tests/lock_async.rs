//! `LockFuture`, `ReadFuture` and `WriteFuture` polled by hand: the table
//! they wait in, the wakes of releases, interrupts and drops in every
//! phase, threads and tasks on one lock, and leaked futures.

use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use concur_core::{Interrupted, RawMutex, RawRwLock, Waiter};

#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    (count, waker)
}

fn wakes(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

fn poll<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

struct Panics;

impl Wake for Panics {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics");
    }
}

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

/// Leaks a pinned box as `mem::forget` would, but keeps its address and
/// layout (not its type, which borrows the lock), so that [`free`] can
/// give the memory back: Miri checks for leaks.
fn leak<T>(fut: Pin<Box<T>>) -> (*mut u8, std::alloc::Layout) {
    // SAFETY: the contents are never moved; nothing of them is dropped.
    let raw = Box::into_raw(unsafe { Pin::into_inner_unchecked(fut) });
    (raw.cast(), std::alloc::Layout::new::<T>())
}

/// Frees what [`leak`] leaked, without running any drop.
///
/// # Safety
/// From `leak`, and nothing reaches the memory any more.
unsafe fn free((raw, layout): (*mut u8, std::alloc::Layout)) {
    // SAFETY: the caller's; a `Box<T>` was allocated with `T`'s layout by
    // the global allocator.
    unsafe { std::alloc::dealloc(raw, layout) };
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

fn read_unlock(l: &RawRwLock) {
    // SAFETY: every caller holds a read lock.
    unsafe { l.read_unlock() }
}

fn write_unlock(l: &RawRwLock) {
    // SAFETY: every caller holds the write lock.
    unsafe { l.write_unlock() }
}

#[test]
fn a_waiting_writer_future_stops_new_readers_and_is_woken_by_the_last_reader() {
    let l: RawRwLock = RawRwLock::new();
    let (count, waker) = counting();
    let (reader_count, reader_waker) = counting();
    l.read();
    let mut write = pin!(l.write_async());
    assert!(poll(write.as_mut(), &waker).is_pending());
    assert!(!l.try_read(), "writer preference holds for a future writer");
    let mut read = pin!(l.read_async());
    assert!(poll(read.as_mut(), &reader_waker).is_pending());
    read_unlock(&l);
    assert_eq!((wakes(&count), wakes(&reader_count)), (1, 0));
    assert_eq!(poll(write.as_mut(), &waker), Poll::Ready(Ok(())));
    write_unlock(&l);
    assert_eq!(wakes(&reader_count), 1, "readers go once no writer waits");
    assert_eq!(poll(read.as_mut(), &reader_waker), Poll::Ready(Ok(())));
    read_unlock(&l);
    assert!(!l.is_locked());
}

#[test]
fn a_write_unlock_wakes_every_reader_future() {
    let l: RawRwLock = RawRwLock::new();
    let counts: Vec<_> = (0..3).map(|_| counting()).collect();
    l.write();
    let mut reads: Vec<_> = (0..3).map(|_| Box::pin(l.read_async())).collect();
    for (read, (_, waker)) in reads.iter_mut().zip(&counts) {
        assert!(poll(read.as_mut(), waker).is_pending());
    }
    write_unlock(&l);
    for (read, (count, waker)) in reads.iter_mut().zip(&counts) {
        assert_eq!(wakes(count), 1);
        assert_eq!(poll(read.as_mut(), waker), Poll::Ready(Ok(())));
    }
    for _ in 0..3 {
        read_unlock(&l);
    }
    assert!(l.try_write());
    write_unlock(&l);
}

#[test]
fn a_dropped_writer_future_lets_the_readers_behind_it_in() {
    let l: RawRwLock = RawRwLock::new();
    let (_, waker) = counting();
    let (reader_count, reader_waker) = counting();
    l.read();
    let mut write = Box::pin(l.write_async());
    assert!(poll(write.as_mut(), &waker).is_pending());
    let mut read = pin!(l.read_async());
    assert!(poll(read.as_mut(), &reader_waker).is_pending());
    drop(write);
    assert_eq!(wakes(&reader_count), 1, "the withdrawal woke the reader");
    assert_eq!(poll(read.as_mut(), &reader_waker), Poll::Ready(Ok(())));
    read_unlock(&l);
    read_unlock(&l);
    assert!(!l.is_locked());
}

#[test]
fn a_woken_writer_future_dropped_passes_the_wake_to_the_next_writer() {
    let l: RawRwLock = RawRwLock::new();
    let (_, waker) = counting();
    let (next_count, next_waker) = counting();
    l.write();
    let mut first = Box::pin(l.write_async());
    let mut next = pin!(l.write_async());
    assert!(poll(first.as_mut(), &waker).is_pending());
    assert!(poll(next.as_mut(), &next_waker).is_pending());
    write_unlock(&l); // wakes `first`
    assert_eq!(wakes(&next_count), 0);
    drop(first);
    assert_eq!(wakes(&next_count), 1);
    assert_eq!(poll(next.as_mut(), &next_waker), Poll::Ready(Ok(())));
    write_unlock(&l);
    assert!(l.try_read(), "no writer is counted any more");
    read_unlock(&l);
}

#[test]
fn an_interrupted_writer_future_withdraws() {
    let l: RawRwLock = RawRwLock::new();
    let (count, waker) = counting();
    l.read();
    let mut write = pin!(l.write_async());
    assert!(poll(write.as_mut(), &waker).is_pending());
    write.as_ref().node().interrupt();
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(write.as_mut(), &waker), Poll::Ready(Err(Interrupted)));
    assert!(l.try_read(), "the writer no longer stops readers");
    read_unlock(&l);
    read_unlock(&l);
}

#[test]
fn a_thread_writer_and_a_reader_future() {
    let l = Arc::new(RawRwLock::new());
    let (count, waker) = counting();
    l.write();
    let mut read = pin!(l.read_async());
    assert!(poll(read.as_mut(), &waker).is_pending());
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let l = l.clone();
        thread::spawn(move || {
            l.write();
            locked_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            write_unlock(&l);
        })
    };
    write_unlock(&l); // the thread writer and the reader race; writers first
    locked_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    // The reader may have been woken and lost, or not woken yet: either
    // way it waits while the thread writes.
    assert!(poll(read.as_mut(), &waker).is_pending());
    go_tx.send(()).unwrap();
    writer.join().unwrap();
    assert!(wakes(&count) >= 1, "the thread's unlock woke the reader");
    assert_eq!(poll(read.as_mut(), &waker), Poll::Ready(Ok(())));
    read_unlock(&l);
}

#[test]
fn a_leaked_writer_future_does_not_haunt_a_later_rwlock_at_its_address() {
    let mut slot = MaybeUninit::<RawRwLock>::uninit();
    let leaked = {
        let l = slot.write(RawRwLock::new());
        l.read();
        let mut fut = Box::pin(l.write_async());
        assert!(poll(fut.as_mut(), Waker::noop()).is_pending());
        leak(fut)
        // Dropped held: an unlock would wake (and unlink) the leaked node.
    };
    // SAFETY: initialised above, and nothing borrows it any more.
    unsafe { slot.assume_init_drop() };
    // SAFETY: as for the mutex.
    unsafe { free(leaked) };
    let l = slot.write(RawRwLock::new());
    let (count, waker) = counting();
    l.write();
    let mut fut = pin!(l.write_async());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    write_unlock(l);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(Ok(())));
    write_unlock(l);
}

/// A release that lets many readers in wakes them in rounds, so a waker
/// that polls another of those futures inline (the `Waker` contract
/// allows it) finds it still waiting, not held half woken by the very
/// thread that polls it.
#[test]
fn a_waker_polling_another_reader_inline_while_readers_are_woken() {
    use std::sync::Mutex;
    type Read = Pin<Box<concur_core::ReadFuture<'static, concur_core::DefaultPark>>>;
    struct PollsInline(Mutex<Option<Read>>, AtomicUsize);
    impl Wake for PollsInline {
        fn wake(self: Arc<Self>) {
            let mut other = self.0.lock().unwrap();
            let other = other.as_mut().unwrap();
            if poll(other.as_mut(), Waker::noop()).is_ready() {
                self.1.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    let l: &'static RawRwLock = Box::leak(Box::new(RawRwLock::new()));
    l.write();
    let inline = Arc::new(PollsInline(Mutex::new(None), AtomicUsize::new(0)));
    let inline_waker = Waker::from(inline.clone());
    let (count, waker) = counting();
    let mut first = Box::pin(l.read_async());
    assert!(poll(first.as_mut(), &inline_waker).is_pending());
    let mut middle: Vec<_> = (0..10).map(|_| Box::pin(l.read_async())).collect();
    for read in &mut middle {
        assert!(poll(read.as_mut(), &waker).is_pending());
    }
    let mut last = Box::pin(l.read_async());
    assert!(poll(last.as_mut(), &waker).is_pending());
    *inline.0.lock().unwrap() = Some(last);
    write_unlock(l);
    assert_eq!(wakes(&count), 10, "every reader was woken");
    assert_eq!(poll(first.as_mut(), &waker), Poll::Ready(Ok(())));
    for read in &mut middle {
        assert_eq!(poll(read.as_mut(), &waker), Poll::Ready(Ok(())));
    }
    let mut last = inline.0.lock().unwrap().take().unwrap();
    if inline.1.load(Ordering::SeqCst) == 0 {
        assert_eq!(poll(last.as_mut(), &waker), Poll::Ready(Ok(())));
    }
    for _ in 0..12 {
        read_unlock(l);
    }
    assert!(!l.is_locked());
}
