//! Contended throughput: `T` threads (2, the machine's cores, and 8) all
//! hammering one primitive; the time is per operation over all threads
//! (lower is better).
//!
//! * `mutex_contended_T`: lock, increment, unlock vs std and parking_lot.
//! * `rwlock_write_contended_T`: the same through the write lock of an
//!   `RwLock` (its writers spin and yield like the mutex).
//! * `semaphore_contended_T`: a semaphore of 1 permit, blocking acquire then
//!   release, in FIFO and barging mode, vs tokio's (through a parking
//!   `block_on`) and a `Mutex` + `Condvar` semaphore.

use std::hint::black_box;
use std::sync::{Barrier, Mutex as StdMutex};
use std::time::{Duration, Instant};

use concur_sync::Context;

use crate::anchors::{block_on, CondvarSemaphore};
use crate::Group;

/// Runs `op` `iters` times in total, split over `threads` threads started
/// together; returns the time from the start to the last thread's end.
pub fn run_threads(threads: usize, iters: u64, op: impl Fn() + Sync) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let start = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                start.wait();
                for _ in 0..per_thread {
                    op();
                }
            });
        }
        start.wait();
        let began = Instant::now();
        // Leaving the scope joins every thread.
        began
    })
    .elapsed()
}

/// The contended groups, for 2 and 8 threads.
pub fn groups() -> Vec<Group> {
    [2, 8]
        .into_iter()
        .flat_map(|t| [mutex(t), rwlock_write(t), semaphore(t)])
        .collect()
}

fn mutex(threads: usize) -> Group {
    let name = if threads == 2 {
        "mutex_contended_2"
    } else {
        "mutex_contended_8"
    };
    Group::new(name, "lock, increment, unlock (per operation, all threads)")
        .case("concur", move |n| {
            let m = concur_sync::Mutex::new(0u64);
            run_threads(threads, n, || *black_box(&m).lock() += 1)
        })
        .case("std", move |n| {
            let m = StdMutex::new(0u64);
            run_threads(threads, n, || *black_box(&m).lock().unwrap() += 1)
        })
        .case("parking_lot", move |n| {
            let m = parking_lot::Mutex::new(0u64);
            run_threads(threads, n, || *black_box(&m).lock() += 1)
        })
}

fn rwlock_write(threads: usize) -> Group {
    let name = if threads == 2 {
        "rwlock_write_contended_2"
    } else {
        "rwlock_write_contended_8"
    };
    Group::new(
        name,
        "write lock, increment, unlock (per operation, all threads)",
    )
    .case("concur", move |n| {
        let l = concur_sync::RwLock::new(0u64);
        run_threads(threads, n, || *black_box(&l).write() += 1)
    })
    .case("std", move |n| {
        let l = std::sync::RwLock::new(0u64);
        run_threads(threads, n, || *black_box(&l).write().unwrap() += 1)
    })
    .case("parking_lot", move |n| {
        let l = parking_lot::RwLock::new(0u64);
        run_threads(threads, n, || *black_box(&l).write() += 1)
    })
}

fn semaphore(threads: usize) -> Group {
    let name = if threads == 2 {
        "semaphore_contended_2"
    } else {
        "semaphore_contended_8"
    };
    Group::new(name, "acquire the one permit (blocking), release it")
        .case("concur", move |n| {
            let sem = concur_sync::Semaphore::new(1);
            let bg = Context::background();
            run_threads(threads, n, || {
                drop(black_box(&sem).acquire(&bg, 1).unwrap())
            })
        })
        .case("concur_barging", move |n| {
            let sem = concur_sync::Semaphore::new_barging(1);
            let bg = Context::background();
            run_threads(threads, n, || {
                drop(black_box(&sem).acquire(&bg, 1).unwrap())
            })
        })
        .case("tokio", move |n| {
            let sem = tokio::sync::Semaphore::new(1);
            run_threads(threads, n, || {
                drop(block_on(black_box(&sem).acquire()).unwrap())
            })
        })
        .case("mutex_condvar", move |n| {
            let sem = CondvarSemaphore::new(1);
            run_threads(threads, n, || {
                let s = black_box(&sem);
                s.acquire();
                s.release();
            })
        })
}
