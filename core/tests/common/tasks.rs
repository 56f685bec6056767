//! Helpers of the hand-polled future tests: wakers that count or panic,
//! one poll, and a leak that Miri can still account for.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A waker's wake count.
#[derive(Default)]
pub struct Count(pub AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that counts its wakes, and its count.
pub fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

pub fn wakes(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

/// Polls `fut` once with `waker`.
pub fn poll<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// A waker that panics when woken.
pub struct Panics;

impl Wake for Panics {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics");
    }
}

/// Leaks a pinned box as `mem::forget` would, but keeps its address and
/// layout (not its type, which borrows the primitive), so that [`free`]
/// can give the memory back: Miri checks for leaks.
pub fn leak<T>(fut: Pin<Box<T>>) -> (*mut u8, std::alloc::Layout) {
    // SAFETY: the contents are never moved; nothing of them is dropped.
    let raw = Box::into_raw(unsafe { Pin::into_inner_unchecked(fut) });
    (raw.cast(), std::alloc::Layout::new::<T>())
}

/// Frees what [`leak`] leaked, without running any drop.
///
/// # Safety
/// From `leak`, and nothing reaches the memory any more.
pub unsafe fn free((raw, layout): (*mut u8, std::alloc::Layout)) {
    // SAFETY: the caller's; a `Box<T>` was allocated with `T`'s layout by
    // the global allocator.
    unsafe { std::alloc::dealloc(raw, layout) };
}

/// Runs `fut` to the end on this thread, parking between polls (the core
/// has no executor dependency).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = poll(fut.as_mut(), &waker) {
            return out;
        }
        std::thread::park();
    }
}
