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

use std::hint::black_box;
use std::ops::DerefMut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

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
