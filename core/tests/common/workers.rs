//! The stress tests' driver: `WORKERS` threads running random operations
//! while a canceller interrupts the waits they publish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use super::{Rng, Slots};

pub const WORKERS: usize = 8;
pub const OPS_PER_WORKER: u64 = 12_500; // 100,000 in total

/// Spawns the canceller: interrupts random slots until `stop`.
pub fn canceller(slots: Arc<Slots>, stop: Arc<AtomicBool>, seed: u64) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let mut interrupts = 0;
        while !stop.load(Ordering::Relaxed) {
            if slots.interrupt(rng.below(slots.len() as u64) as usize) {
                interrupts += 1;
            }
            thread::yield_now();
        }
        interrupts
    })
}

/// Runs `op(worker, rng, slots)` `OPS_PER_WORKER` times on each of `WORKERS`
/// threads while a canceller interrupts the waits they publish in `slots`.
/// Returns how many waits the canceller interrupted.
pub fn run_workers(seed: u64, op: impl Fn(usize, &mut Rng, &Slots) + Send + Sync + 'static) -> u64 {
    let op = Arc::new(op);
    let slots = Arc::new(Slots::new(WORKERS));
    let stop = Arc::new(AtomicBool::new(false));
    let cancel = canceller(slots.clone(), stop.clone(), seed);
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (op, slots) = (op.clone(), slots.clone());
            thread::spawn(move || {
                let mut rng = Rng::new(seed * 1000 + w as u64 + 1);
                for _ in 0..OPS_PER_WORKER {
                    op(w, &mut rng, &slots);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    cancel.join().unwrap()
}
