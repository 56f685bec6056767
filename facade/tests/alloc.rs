//! A counting global allocator proves the hot paths allocate nothing:
//! lock/unlock, acquire/release, wait, and the `*_ctx` forms with a live
//! context, both uncontended and when the call has to block.
//!
//! A production-build guarantee: debug mode (`--cfg concur_debug`) allocates
//! each lock's diagnostic state on first use and records blocked waiters.

#![cfg(not(concur_debug))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{mpsc, Arc};
use std::thread;

use concur_sync::{Context, Mutex, Once, Pool, RwLock, Semaphore, WaitGroup};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialized
// thread-local Cell, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while running `f`.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (ALLOCATIONS.with(Cell::get) - before, r)
}

#[test]
fn uncontended_paths_allocate_nothing() {
    let m = Mutex::new(0u64);
    let l = RwLock::new(0u64);
    let sem = Semaphore::new(4);
    let wg = WaitGroup::new();
    let once = Once::new();
    once.get_or_init(|| 1u8);
    let pool = Pool::new(|| 0u64);
    drop(pool.get()); // the first get makes the object and grows the shard
    let (live, _cancel) = Context::background().with_cancel();
    let bg = Context::background();
    let (n, ()) = allocations_in(|| {
        for _ in 0..1000 {
            *m.lock() += 1;
            *m.lock_ctx(&bg).unwrap() += 1;
            *m.lock_ctx(&live).unwrap() += 1;
            drop(m.try_lock());
            drop(l.read());
            drop(l.read_ctx(&live).unwrap());
            *l.write_ctx(&live).unwrap() += 1;
            drop(sem.acquire(&bg, 2).unwrap());
            drop(sem.acquire(&live, 2).unwrap());
            drop(sem.try_acquire(1));
            wg.add(1);
            wg.done();
            wg.wait();
            wg.wait_ctx(&live).unwrap();
            assert_eq!(once.get_or_init_ctx(&live, || 2), Ok(&1));
            drop(pool.get());
        }
    });
    assert_eq!(n, 0, "{n} allocations on uncontended paths");
}

#[test]
fn blocking_with_a_live_context_allocates_nothing() {
    let m = Arc::new(Mutex::new(()));
    let sem = Arc::new(Semaphore::new(1));
    let wg = Arc::new(WaitGroup::new());
    let (live, _cancel) = Context::background().with_cancel();
    for _ in 0..50 {
        let held = m.lock();
        let permit = sem.try_acquire(1).unwrap();
        wg.add(1);
        let (ready_tx, ready_rx) = mpsc::channel();
        let blocked = {
            let (m, sem, wg, live) = (m.clone(), sem.clone(), wg.clone(), live.clone());
            thread::spawn(move || {
                ready_tx.send(()).unwrap();
                allocations_in(|| {
                    drop(m.lock_ctx(&live).unwrap());
                    drop(sem.acquire(&live, 1).unwrap());
                    wg.wait_ctx(&live).unwrap();
                })
                .0
            })
        };
        ready_rx.recv().unwrap();
        // Let the thread block (it may or may not have yet; both are valid runs).
        thread::yield_now();
        drop(held);
        drop(permit);
        wg.done();
        assert_eq!(
            blocked.join().unwrap(),
            0,
            "a blocking *_ctx call allocated"
        );
    }
}

/// Deriving a deadline from `background()` (or from a cancellable context)
/// allocates nothing, and neither do the `*_ctx` calls given it nor the
/// per-call timeout forms, free or blocked until the deadline.
#[test]
fn deadlines_allocate_nothing() {
    use std::time::{Duration, Instant};
    let m = Mutex::new(0u64);
    let l = RwLock::new(0u64);
    let sem = Semaphore::new(1);
    let (live, _cancel) = Context::background().with_cancel();
    let (n, ()) = allocations_in(|| {
        for _ in 0..1000 {
            let ctx = Context::background().with_timeout(Duration::from_millis(5));
            *m.lock_ctx(&ctx).unwrap() += 1;
            let ctx = live.with_deadline(Instant::now() + Duration::from_secs(1));
            *m.lock_ctx(&ctx).unwrap() += 1;
            drop(l.read_ctx(&ctx).unwrap());
            drop(sem.acquire(&ctx, 1).unwrap());
            *m.try_lock_for(Duration::from_millis(5)).unwrap() += 1;
            drop(l.try_write_for(Duration::from_millis(5)).unwrap());
            drop(sem.try_acquire_for(1, Duration::from_millis(5)).unwrap());
        }
        // Blocked until the deadline: still nothing (the futex wait is timed;
        // where it is not, the fallback timer's entry is the one allocation).
        let _held = m.lock();
        let _permit = sem.try_acquire(1).unwrap();
        let short = Context::background().with_timeout(Duration::from_millis(2));
        assert!(m.lock_ctx(&short).is_err());
        assert!(sem.acquire(&short, 1).is_err());
        assert!(m.try_lock_for(Duration::from_millis(2)).is_none());
    });
    if cfg!(any(target_os = "linux", target_os = "android", windows)) {
        assert_eq!(n, 0, "{n} allocations with deadlines");
    }
}

/// A future's wait allocates nothing either: its node lives inside the
/// future, which here lives on the stack and is polled by hand.
#[test]
fn an_async_acquire_that_waits_allocates_nothing() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context as TaskContext;
    let sem = Semaphore::new(1);
    let (live, _cancel) = Context::background().with_cancel();
    let mut cx = TaskContext::from_waker(futures::task::noop_waker_ref());
    let (n, ()) = allocations_in(|| {
        for _ in 0..1000 {
            let held = sem.try_acquire(1).unwrap();
            let mut wait = pin!(sem.acquire_async(&live, 1));
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            drop(held);
            match wait.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(Ok(permit)) => drop(permit),
                other => panic!("{other:?}"),
            }
        }
    });
    assert_eq!(n, 0, "{n} allocations in async waits");
}
