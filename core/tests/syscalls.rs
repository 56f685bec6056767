//! No system call on any uncontended path, and none on a release when
//! nobody is parked.
//!
//! The core blocks and wakes only through its [`Park`] (the futex by
//! default), so a `Park` that counts its calls shows exactly when a syscall
//! would be made. Counters are per thread: each test counts only its own.
//! (Not under loom, where `Park` takes loom's atomics.)
#![cfg(not(loom))]

use std::cell::Cell;
use std::pin::pin;
use std::sync::atomic::AtomicU32;

use concur_core::{
    Begin, OnceState, Park, RawMutex, RawRwLock, RawSemaphore, TimedOut, WaitCounter, Waiter,
};

thread_local! {
    static CALLS: Cell<u32> = const { Cell::new(0) };
}

/// Counts calls; never sleeps (an uncontended path must not reach it).
struct CountingPark;

// SAFETY: `wait` never returns (it aborts, failing the test: a parker must
// not unwind), the wakes and the yield only count, and nothing dereferences a pointer.
unsafe impl Park for CountingPark {
    /// An abstract tick: no test here may reach a timed wait either.
    type Deadline = u64;

    fn wait(_word: &AtomicU32, _expected: u32) {
        eprintln!("syscalls test: an uncontended path tried to sleep");
        std::process::abort();
    }
    fn wait_until(_: &AtomicU32, _: u32, _: u64) -> Result<(), TimedOut> {
        eprintln!("syscalls test: an uncontended path tried a timed sleep");
        std::process::abort();
    }
    fn wake_one(_word: *const AtomicU32) {
        CALLS.with(|c| c.set(c.get() + 1));
    }
    fn wake_all(_word: *const AtomicU32) {
        CALLS.with(|c| c.set(c.get() + 1));
    }
    /// A yield is a system call too (`sched_yield` on the futex parker).
    fn yield_now() {
        CALLS.with(|c| c.set(c.get() + 1));
    }
}

fn park_calls(f: impl FnOnce()) -> u32 {
    CALLS.with(|c| c.set(0));
    f();
    CALLS.with(Cell::get)
}

#[test]
fn mutex_paths_make_no_park_calls() {
    let m: RawMutex<CountingPark> = RawMutex::new();
    let node = pin!(Waiter::<CountingPark>::new());
    let calls = park_calls(|| {
        for _ in 0..3 {
            m.lock();
            // SAFETY: locked just above.
            unsafe { m.unlock() };
            assert!(m.try_lock());
            // SAFETY: locked just above.
            unsafe { m.unlock() };
            m.lock_interruptible(node.as_ref()).unwrap();
            // SAFETY: locked just above.
            unsafe { m.unlock() };
        }
    });
    assert_eq!(calls, 0);
}

#[test]
fn rwlock_paths_make_no_park_calls() {
    let l: RawRwLock<CountingPark> = RawRwLock::new();
    let node = pin!(Waiter::<CountingPark>::new());
    let calls = park_calls(|| {
        for _ in 0..3 {
            l.read();
            l.read_interruptible(node.as_ref()).unwrap();
            // SAFETY: two read locks are held.
            unsafe {
                l.read_unlock();
                l.read_unlock();
            }
            l.write();
            // SAFETY: the write lock is held.
            unsafe { l.write_unlock() };
            l.write_interruptible(node.as_ref()).unwrap();
            // SAFETY: the write lock is held.
            unsafe { l.write_unlock() };
        }
    });
    assert_eq!(calls, 0);
}

#[test]
fn semaphore_paths_make_no_park_calls() {
    let sem: RawSemaphore<CountingPark> = RawSemaphore::new(4);
    let node = pin!(Waiter::<CountingPark>::new());
    let calls = park_calls(|| {
        for _ in 0..3 {
            sem.try_acquire(3).unwrap();
            sem.release(3);
            sem.acquire(node.as_ref(), 4).unwrap();
            sem.release(4);
            sem.add_permits(2);
            assert_eq!(sem.forget_permits(2), 2);
        }
    });
    assert_eq!(calls, 0);
}

#[test]
fn counter_and_once_paths_make_no_park_calls() {
    let counter: WaitCounter<CountingPark> = WaitCounter::new();
    let once: OnceState<CountingPark> = OnceState::new();
    let calls = park_calls(|| {
        counter.add(2);
        counter.done();
        counter.done();
        counter.wait();
        match once.begin() {
            Begin::Run(guard) => guard.complete(),
            Begin::Complete => panic!("a new OnceState is not complete"),
        }
        assert!(matches!(once.begin(), Begin::Complete));
    });
    assert_eq!(calls, 0);
}

/// A node with a deadline costs nothing where no wait is needed: a free
/// lock, a free permit, a zero count, a completed once (the per-call
/// timeouts of the facade rest on this).
#[test]
fn deadline_nodes_on_free_resources_make_no_park_calls() {
    let m: RawMutex<CountingPark> = RawMutex::new();
    let rw: RawRwLock<CountingPark> = RawRwLock::new();
    let sem: RawSemaphore<CountingPark> = RawSemaphore::new(1);
    let counter: WaitCounter<CountingPark> = WaitCounter::new();
    let calls = park_calls(|| {
        let node = pin!(Waiter::<CountingPark>::with_deadline(0));
        m.lock_interruptible(node.as_ref()).unwrap();
        // SAFETY: locked just above.
        unsafe { m.unlock() };
        rw.write_interruptible(node.as_ref()).unwrap();
        // SAFETY: write-locked just above.
        unsafe { rw.write_unlock() };
        rw.read_interruptible(node.as_ref()).unwrap();
        // SAFETY: read-locked just above.
        unsafe { rw.read_unlock() };
        sem.acquire(node.as_ref(), 1).unwrap();
        sem.release(1);
        counter.wait_interruptible(node.as_ref()).unwrap();
        assert!(!node.timed_out());
    });
    assert_eq!(calls, 0);
}
