//! `ReadFuture` and `WriteFuture` polled by hand: writer preference for
//! futures, wakes of every reader, withdrawals, a thread writer beside
//! task readers, leaked futures and wakers that poll inline.

use std::mem::MaybeUninit;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use concur_core::{Interrupted, RawRwLock};

mod common;
use common::tasks::{counting, free, leak, poll, wakes};

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
    // 'static for the waker's future; freed at the end (Miri checks).
    let raw = Box::into_raw(Box::new(RawRwLock::new()));
    // SAFETY: from `Box::into_raw`; freed only after every borrow is gone.
    let l: &'static RawRwLock = unsafe { &*raw };
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
    drop((first, middle, last, inline, inline_waker));
    // SAFETY: every future that borrowed the lock is dropped above.
    drop(unsafe { Box::from_raw(raw) });
}

/// The table's wake of one writer walks past the lock's readers (their
/// keys differ in the low bit) to the writer behind them.
#[test]
fn a_reader_ahead_in_the_table_does_not_hide_a_writer() {
    let l: RawRwLock = RawRwLock::new();
    let (reader_count, reader_waker) = counting();
    let (writer_count, writer_waker) = counting();
    l.write();
    let mut read = pin!(l.read_async());
    let mut write = pin!(l.write_async());
    assert!(
        poll(read.as_mut(), &reader_waker).is_pending(),
        "linked first"
    );
    assert!(
        poll(write.as_mut(), &writer_waker).is_pending(),
        "linked behind it"
    );
    write_unlock(&l); // a writer waits: it goes first
    assert_eq!(
        wakes(&writer_count),
        1,
        "the writer behind the reader was woken"
    );
    assert_eq!(wakes(&reader_count), 0);
    assert_eq!(poll(write.as_mut(), &writer_waker), Poll::Ready(Ok(())));
    write_unlock(&l);
    assert_eq!(wakes(&reader_count), 1);
    assert_eq!(poll(read.as_mut(), &reader_waker), Poll::Ready(Ok(())));
    read_unlock(&l);
}
