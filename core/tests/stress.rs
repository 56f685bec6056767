//! Many threads, random operations, random interrupts; at the end no waiter
//! is left queued and exclusion never broke (the semaphore's are in
//! `stress_semaphore.rs`).
//!
//! Each test runs at least 100,000 operations over 8 workers plus a canceller
//! thread that interrupts random published waits.

mod common;

use std::cell::UnsafeCell;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::workers::{canceller, run_workers, WORKERS};
use common::{within, Rng, Slots};
use concur_core::{Begin, OnceState, RawMutex, RawRwLock, WaitCounter, Waiter};

const HANG: Duration = Duration::from_secs(240);

/// A counter only the lock holder may touch, to detect broken exclusion.
struct Guarded {
    inside: AtomicUsize,
    value: UnsafeCell<u64>,
}
// SAFETY: `value` is only touched by the holder of the lock under test; a
// broken lock is caught by `inside` before the data race matters.
unsafe impl Sync for Guarded {}

impl Guarded {
    fn new() -> Self {
        Self {
            inside: AtomicUsize::new(0),
            value: UnsafeCell::new(0),
        }
    }
    fn critical(&self) {
        assert_eq!(
            self.inside.fetch_add(1, Ordering::SeqCst),
            0,
            "two holders at once"
        );
        // SAFETY: exclusive, as just checked.
        unsafe { *self.value.get() += 1 };
        assert_eq!(
            self.inside.fetch_sub(1, Ordering::SeqCst),
            1,
            "two holders at once"
        );
    }
}

#[test]
fn mutex_excludes_under_interrupts() {
    within(HANG, || {
        let m = Arc::new(RawMutex::<concur_core::DefaultPark>::new());
        let data = Arc::new(Guarded::new());
        let locked = Arc::new(AtomicU64::new(0));
        run_workers(3, {
            let (m, data, locked) = (m.clone(), data.clone(), locked.clone());
            move |w, rng, slots| {
                let ok = match rng.below(3) {
                    0 => m.try_lock(),
                    1 => {
                        m.lock();
                        true
                    }
                    _ => {
                        let node = pin!(Waiter::new());
                        slots
                            .with_published(w, node.as_ref(), || {
                                m.lock_interruptible(node.as_ref())
                            })
                            .is_ok()
                    }
                };
                if ok {
                    data.critical();
                    if rng.chance(10) {
                        thread::yield_now();
                    }
                    locked.fetch_add(1, Ordering::Relaxed);
                    // SAFETY: locked above by this thread.
                    unsafe { m.unlock() };
                }
            }
        });
        assert!(!m.is_locked());
        // SAFETY: all workers joined.
        assert_eq!(unsafe { *data.value.get() }, locked.load(Ordering::Relaxed));
        assert!(m.try_lock(), "mutex not usable after the run");
    });
}

#[test]
fn rwlock_excludes_under_interrupts() {
    within(HANG, || {
        let l = Arc::new(RawRwLock::<concur_core::DefaultPark>::new());
        // Readers inside, or WRITER while a writer is inside.
        let inside = Arc::new(AtomicUsize::new(0));
        const WRITER: usize = usize::MAX / 2;
        run_workers(11, {
            let (l, inside) = (l.clone(), inside.clone());
            move |w, rng, slots| {
                let write = rng.chance(30);
                let node = pin!(Waiter::new());
                let ok = match (write, rng.below(3)) {
                    (true, 0) => l.try_write(),
                    (true, 1) => {
                        l.write();
                        true
                    }
                    (true, _) => slots
                        .with_published(w, node.as_ref(), || l.write_interruptible(node.as_ref()))
                        .is_ok(),
                    (false, 0) => l.try_read(),
                    (false, 1) => {
                        l.read();
                        true
                    }
                    (false, _) => slots
                        .with_published(w, node.as_ref(), || l.read_interruptible(node.as_ref()))
                        .is_ok(),
                };
                if !ok {
                    return;
                }
                if write {
                    assert_eq!(
                        inside.fetch_add(WRITER, Ordering::SeqCst),
                        0,
                        "writer overlapped"
                    );
                    inside.fetch_sub(WRITER, Ordering::SeqCst);
                    // SAFETY: write-locked above.
                    unsafe { l.write_unlock() };
                } else {
                    let before = inside.fetch_add(1, Ordering::SeqCst);
                    assert!(before < WRITER, "reader overlapped a writer");
                    if rng.chance(10) {
                        thread::yield_now();
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                    // SAFETY: read-locked above.
                    unsafe { l.read_unlock() };
                }
            }
        });
        assert!(!l.is_locked());
        assert!(l.try_write(), "rwlock not usable after the run");
    });
}

#[test]
fn wait_counter_rounds_with_interrupted_waiters() {
    within(HANG, || {
        const ROUNDS: usize = 2_000;
        let counter = Arc::new(WaitCounter::<concur_core::DefaultPark>::new());
        let finished = Arc::new(AtomicUsize::new(0));
        let slots = Arc::new(Slots::new(WORKERS));
        let stop = Arc::new(AtomicBool::new(false));
        let cancel = canceller(slots.clone(), stop.clone(), 5);
        let barrier = Arc::new(Barrier::new(WORKERS + 1));
        let waiters: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (counter, finished, slots, barrier) = (
                    counter.clone(),
                    finished.clone(),
                    slots.clone(),
                    barrier.clone(),
                );
                thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        barrier.wait();
                        let node = pin!(Waiter::new());
                        let r = slots.with_published(w, node.as_ref(), || {
                            counter.wait_interruptible(node.as_ref())
                        });
                        if r.is_err() {
                            counter.wait(); // interrupted: now wait for real
                        }
                        // Every task of the round is done once wait returns.
                        assert_eq!(finished.load(Ordering::SeqCst) % WORKERS, 0);
                        barrier.wait();
                    }
                })
            })
            .collect();
        let mut rng = Rng::new(1);
        for _ in 0..ROUNDS {
            counter.add(WORKERS as u32);
            barrier.wait();
            for _ in 0..WORKERS {
                if rng.chance(20) {
                    thread::yield_now();
                }
                finished.fetch_add(1, Ordering::SeqCst);
                counter.done();
            }
            barrier.wait();
        }
        for w in waiters {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        cancel.join().unwrap();
        assert_eq!(counter.count(), 0);
        assert_eq!(finished.load(Ordering::SeqCst), ROUNDS * WORKERS);
    });
}

#[test]
fn once_runs_exactly_once_despite_failures_and_interrupts() {
    within(HANG, || {
        for round in 0..500u64 {
            let once = Arc::new(OnceState::<concur_core::DefaultPark>::new());
            let runs = Arc::new(AtomicUsize::new(0));
            let completions = Arc::new(AtomicUsize::new(0));
            let slots = Arc::new(Slots::new(WORKERS));
            let barrier = Arc::new(Barrier::new(WORKERS + 1));
            let threads: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let (once, runs, completions, slots, barrier) = (
                        once.clone(),
                        runs.clone(),
                        completions.clone(),
                        slots.clone(),
                        barrier.clone(),
                    );
                    thread::spawn(move || {
                        let mut rng = Rng::new(round * 100 + w as u64);
                        barrier.wait();
                        loop {
                            let node = pin!(Waiter::new());
                            let begin = slots.with_published(w, node.as_ref(), || {
                                once.begin_interruptible(node.as_ref())
                            });
                            match begin {
                                Ok(Begin::Complete) => return,
                                Ok(Begin::Run(guard)) => {
                                    runs.fetch_add(1, Ordering::SeqCst);
                                    if rng.chance(40) {
                                        drop(guard); // a failed initializer
                                    } else {
                                        completions.fetch_add(1, Ordering::SeqCst);
                                        guard.complete();
                                        return;
                                    }
                                }
                                Err(_) => {} // interrupted: try again
                            }
                        }
                    })
                })
                .collect();
            barrier.wait();
            for i in 0..WORKERS {
                slots.interrupt(i);
            }
            for t in threads {
                t.join().unwrap();
            }
            assert!(once.is_complete());
            assert_eq!(
                completions.load(Ordering::SeqCst),
                1,
                "initializer completed more than once"
            );
            assert!(runs.load(Ordering::SeqCst) >= 1);
        }
    });
}
