//! Target `threads`: 2 to 4 real threads run small random schedules on one
//! [`RawSemaphore`] and one [`RawMutex`], interrupting each other's waits.
//!
//! Nondeterministic (the OS schedules the threads), so a failing input may
//! not fail again; its value is in the races it provokes. Checked: the mutex
//! excludes (a flag and a non-atomic-style counter), a wait fails only if its
//! node was interrupted, and at the end every permit is back (available =
//! capacity = initial + added, nothing pending or queued) and the counter
//! holds every locked increment. A hang aborts the process after a minute.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use concur_core::{AcquireError, RawMutex, RawSemaphore, Waiter};

const MAX_OPS: usize = 12;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    /// Acquire `n` permits, optionally take the mutex while holding them,
    /// release.
    Acquire {
        n: u8,
        then_lock: bool,
    },
    TryAcquire(u8),
    Lock,
    AddPermit,
    /// Interrupt thread `thread`'s wait number `op` (past, current or future).
    Interrupt {
        thread: u8,
        op: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    threads: u8,
    permits: u8,
    schedules: [Vec<Op>; 4],
}

struct Shared {
    sem: RawSemaphore,
    mutex: RawMutex,
    inside: AtomicBool,
    counter: AtomicU64,
    added: AtomicU64,
    locked: AtomicU64,
}

impl Shared {
    fn locked_increment(&self) {
        assert!(
            !self.inside.swap(true, Ordering::Acquire),
            "two threads inside the mutex"
        );
        // A load and a store, not an add: lost updates show if exclusion fails.
        let value = self.counter.load(Ordering::Relaxed);
        self.counter.store(value + 1, Ordering::Relaxed);
        self.locked.fetch_add(1, Ordering::Relaxed);
        self.inside.store(false, Ordering::Release);
        // SAFETY: the caller holds the mutex.
        unsafe { self.mutex.unlock() };
    }
}

/// Runs one input on real threads; panics on a broken guarantee.
pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let threads = usize::from(input.threads % 3) + 2;
    let initial = u64::from(input.permits % 4) + 1;
    let shared = Shared {
        sem: RawSemaphore::new(initial),
        mutex: RawMutex::new(),
        inside: AtomicBool::new(false),
        counter: AtomicU64::new(0),
        added: AtomicU64::new(0),
        locked: AtomicU64::new(0),
    };
    // One node per (thread, op), alive for the whole run, so any thread may
    // interrupt any wait at any time.
    let nodes: Vec<Vec<Pin<Box<Waiter>>>> = (0..threads)
        .map(|_| (0..MAX_OPS).map(|_| Box::pin(Waiter::new())).collect())
        .collect();

    let (done, finished) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(60)) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!("concur-fuzz threads: no progress for 60 s (a hang)");
            std::process::abort();
        }
    });
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for (t, schedule) in input.schedules.iter().take(threads).enumerate() {
            let (shared, nodes) = (&shared, &nodes);
            handles.push(scope.spawn(move || {
                for (j, op) in schedule.iter().take(MAX_OPS).enumerate() {
                    let node = nodes[t][j].as_ref();
                    match *op {
                        Op::Acquire { n, then_lock } => {
                            let n = u64::from(n) % initial + 1;
                            match shared.sem.acquire(node, n) {
                                Ok(()) => {
                                    if then_lock {
                                        shared.mutex.lock();
                                        shared.locked_increment();
                                    }
                                    shared.sem.release(n);
                                }
                                Err(AcquireError::Interrupted) => {
                                    assert!(
                                        node.is_interrupted(),
                                        "interrupted without an interrupt"
                                    );
                                }
                                Err(err) => panic!("acquire({n}) of {initial}: {err}"),
                            }
                        }
                        Op::TryAcquire(n) => {
                            let n = u64::from(n) % initial + 1;
                            if shared.sem.try_acquire(n).is_ok() {
                                shared.sem.release(n);
                            }
                        }
                        Op::Lock => match shared.mutex.lock_interruptible(node) {
                            Ok(()) => shared.locked_increment(),
                            Err(_) => {
                                assert!(node.is_interrupted(), "interrupted without an interrupt")
                            }
                        },
                        Op::AddPermit => {
                            shared.sem.add_permits(1);
                            shared.added.fetch_add(1, Ordering::Relaxed);
                        }
                        Op::Interrupt { thread, op } => {
                            nodes[usize::from(thread) % threads][usize::from(op) % MAX_OPS]
                                .interrupt();
                        }
                    }
                }
            }));
        }
        // Join explicitly: the scope itself returns when the closures are
        // done, possibly before the threads have exited and freed their
        // thread-local state, which a leak checker then reports.
        for handle in handles {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    drop(done);
    watchdog.join().expect("watchdog");

    let s = shared.sem.snapshot();
    let total = initial + shared.added.load(Ordering::Relaxed);
    assert_eq!(
        (s.available, s.capacity, s.pending, s.queued),
        (total, total, 0, 0),
        "permits not conserved"
    );
    assert_eq!(
        shared.counter.load(Ordering::Relaxed),
        shared.locked.load(Ordering::Relaxed),
        "lost increments"
    );
    assert!(!shared.mutex.is_locked());
}
