//! Fairness under contention: how long each `lock()` of a contended mutex
//! waited, over every acquisition of every thread. The throughput benches
//! (`mutex_contended_*`) reward a lock that lets one thread keep it; these
//! distributions show what that costs the others (p99.9 and the longest
//! wait of any thread).
//!
//! Each of `threads` threads locks, increments and unlocks, until the first
//! of them has done so `ops` times,
//! reading the clock before the lock call and once it holds the lock (the
//! two clock reads, about 20 ns each, are the same for every anchor).
//!
//! The same for a semaphore of one permit at 8 threads (`permit_wait_*`):
//! concur's FIFO mode, its barging mode and a `Mutex` + `Condvar`
//! semaphore, next to the `semaphore_contended_8` throughput.

use std::hint::black_box;
use std::ops::DerefMut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use concur_sync::Context;

use crate::anchors::CondvarSemaphore;
use crate::measure::Distribution;

/// Every wait distribution of the report: each mutex at 2 and 8 threads
/// (`lock_ops` acquisitions of the first thread to finish), and each
/// semaphore at 8 (a twenty-fifth of that: its FIFO mode sleeps on every
/// acquire).
pub fn distributions(lock_ops: usize) -> Vec<Distribution> {
    let mut dists = Vec::new();
    for threads in [2, 8] {
        for lock in Lock::ALL {
            dists.push(Distribution::new(
                lock.series(threads),
                "each lock() of a contended mutex (every thread, all contending)",
                lock_waits(lock, threads, lock_ops),
            ));
        }
    }
    for permit in Permit::ALL {
        dists.push(Distribution::new(
            permit.series(),
            "each acquire of a 1-permit semaphore, 8 threads (every thread, all contending)",
            permit_waits(permit, 8, (lock_ops / 25).max(100)),
        ));
    }
    dists
}

/// A semaphore of one permit whose acquire waits are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// `concur_sync::Semaphore::new`: FIFO hand-off.
    Fifo,
    /// `concur_sync::Semaphore::new_barging`.
    Barging,
    /// A `Mutex` + `Condvar` semaphore (the releaser may barge back in).
    MutexCondvar,
}

impl Permit {
    /// Every semaphore, concur's first.
    pub const ALL: [Permit; 3] = [Permit::Fifo, Permit::Barging, Permit::MutexCondvar];

    /// The series name.
    pub fn series(self) -> &'static str {
        match self {
            Permit::Fifo => "permit_wait_concur_8",
            Permit::Barging => "permit_wait_concur_barging_8",
            Permit::MutexCondvar => "permit_wait_mutex_condvar_8",
        }
    }
}

/// The wait of every acquire of one permit (then released at once):
/// `threads` threads, until one has done `ops`.
pub fn permit_waits(permit: Permit, threads: usize, ops: usize) -> Vec<Duration> {
    let bg = Context::background();
    let concur = |sem: concur_sync::Semaphore| {
        collect(threads, ops, || {
            let asked = Instant::now();
            let held = black_box(&sem).acquire(&bg, 1).unwrap();
            let waited = asked.elapsed();
            drop(held);
            waited
        })
    };
    match permit {
        Permit::Fifo => concur(concur_sync::Semaphore::new(1)),
        Permit::Barging => concur(concur_sync::Semaphore::new_barging(1)),
        Permit::MutexCondvar => {
            let sem = CondvarSemaphore::new(1);
            collect(threads, ops, || {
                let asked = Instant::now();
                black_box(&sem).acquire();
                let waited = asked.elapsed();
                sem.release();
                waited
            })
        }
    }
}

/// A mutex whose waits are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// `concur_sync::Mutex`.
    Concur,
    /// `std::sync::Mutex`.
    Std,
    /// `parking_lot::Mutex`.
    ParkingLot,
}

impl Lock {
    /// Every lock, concur first.
    pub const ALL: [Lock; 3] = [Lock::Concur, Lock::Std, Lock::ParkingLot];

    /// The series name for `threads` threads (`lock_wait_<case>_<threads>`).
    pub fn series(self, threads: usize) -> &'static str {
        match (self, threads) {
            (Lock::Concur, 2) => "lock_wait_concur_2",
            (Lock::Std, 2) => "lock_wait_std_2",
            (Lock::ParkingLot, 2) => "lock_wait_parking_lot_2",
            (Lock::Concur, _) => "lock_wait_concur_8",
            (Lock::Std, _) => "lock_wait_std_8",
            (Lock::ParkingLot, _) => "lock_wait_parking_lot_8",
        }
    }
}

/// The wait of every acquisition: `threads` threads, until one has done `ops`.
pub fn lock_waits(lock: Lock, threads: usize, ops: usize) -> Vec<Duration> {
    match lock {
        Lock::Concur => {
            let m = concur_sync::Mutex::new(0u64);
            timed(threads, ops, || black_box(&m).lock())
        }
        Lock::Std => {
            let m = std::sync::Mutex::new(0u64);
            timed(threads, ops, || black_box(&m).lock().unwrap())
        }
        Lock::ParkingLot => {
            let m = parking_lot::Mutex::new(0u64);
            timed(threads, ops, || black_box(&m).lock())
        }
    }
}

/// Times each `lock()` (from the call to holding the guard), then
/// increments the counter behind it, on every thread.
fn timed<G: DerefMut<Target = u64>>(
    threads: usize,
    ops: usize,
    lock: impl Fn() -> G + Sync,
) -> Vec<Duration> {
    collect(threads, ops, || {
        let asked = Instant::now();
        let mut guard = lock();
        let waited = asked.elapsed();
        *guard += 1;
        waited
    })
}

/// Runs `op` (which returns one wait) on `threads` threads started
/// together until one of them has run it `ops` times, and returns every
/// wait: all of them were taken while every thread was still contending (a
/// thread that finishes early would leave the others a quieter lock).
fn collect(threads: usize, ops: usize, op: impl Fn() -> Duration + Sync) -> Vec<Duration> {
    let start = Barrier::new(threads);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut waits = Vec::with_capacity(ops);
                    start.wait();
                    while waits.len() < ops && !stop.load(Ordering::Relaxed) {
                        waits.push(op());
                    }
                    stop.store(true, Ordering::Relaxed);
                    waits
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a waits thread panicked"))
            .collect()
    })
}
