//! Many threads, random contexts (cancelled by another thread or by short
//! deadlines), every primitive: at the end every permit is back, the locks
//! are free, exclusion never broke, and counts match.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::Duration;

use concur_sync::{CancelHandle, Context, Error, Mutex, RwLock, Semaphore};

mod common;
use common::{within, Rng};

const HANG: Duration = Duration::from_secs(240);

const WORKERS: u64 = 8;
const OPS: u64 = 3_000;
const CAPACITY: u64 = 6;

#[test]
fn conservation_under_random_cancellation() {
    within(HANG, || {
        let sem = Arc::new(Semaphore::new(CAPACITY));
        let held = Arc::new(AtomicU64::new(0));
        let counter = Arc::new(Mutex::new(0u64));
        let increments = Arc::new(AtomicU64::new(0));
        let table = Arc::new(RwLock::new((0u64, 0u64)));
        // Handles a canceller thread cancels at random.
        let handles: Arc<StdMutex<Vec<CancelHandle>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let canceller = {
            let (handles, stop) = (handles.clone(), stop.clone());
            thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9);
                let mut cancelled = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let handle = {
                        let mut hs = handles.lock().unwrap();
                        let n = hs.len() as u64;
                        (n > 0).then(|| hs.swap_remove(rng.below(n) as usize))
                    };
                    if let Some(h) = handle {
                        h.cancel();
                        cancelled += 1;
                    }
                    thread::yield_now();
                }
                cancelled
            })
        };
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (sem, held, counter, increments, table, handles) = (
                    sem.clone(),
                    held.clone(),
                    counter.clone(),
                    increments.clone(),
                    table.clone(),
                    handles.clone(),
                );
                thread::spawn(move || {
                    let mut rng = Rng(w * 7919 + 1);
                    let mut errors = [0u64; 2];
                    for _ in 0..OPS {
                        let ctx = match rng.below(3) {
                            0 => Context::background(),
                            1 => {
                                let (ctx, handle) = Context::background().with_cancel();
                                handles.lock().unwrap().push(handle);
                                ctx
                            }
                            _ => {
                                // A deadline and a cancel racing it: the
                                // canceller may cancel first.
                                let (ctx, handle) = Context::background()
                                    .with_timeout(Duration::from_micros(rng.below(500)))
                                    .with_cancel();
                                handles.lock().unwrap().push(handle);
                                ctx
                            }
                        };
                        let result = match rng.below(3) {
                            0 => {
                                let n = 1 + rng.below(3);
                                sem.acquire(&ctx, n).map(|permit| {
                                    let now = held.fetch_add(n, Ordering::SeqCst) + n;
                                    assert!(now <= CAPACITY, "{now} permits held");
                                    thread::yield_now();
                                    held.fetch_sub(n, Ordering::SeqCst);
                                    drop(permit);
                                })
                            }
                            1 => counter.lock_ctx(&ctx).map(|mut g| {
                                *g += 1;
                                increments.fetch_add(1, Ordering::Relaxed);
                            }),
                            _ => {
                                if rng.below(4) == 0 {
                                    table.write_ctx(&ctx).map(|mut t| {
                                        t.0 += 1;
                                        t.1 += 1;
                                    })
                                } else {
                                    table
                                        .read_ctx(&ctx)
                                        .map(|t| assert_eq!(t.0, t.1, "torn read"))
                                }
                            }
                        };
                        match result {
                            Ok(()) => {}
                            Err(Error::Cancelled) => errors[0] += 1,
                            Err(Error::DeadlineExceeded) => errors[1] += 1,
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                    errors
                })
            })
            .collect();
        let mut errors = [0u64; 2];
        for w in workers {
            let e = w.join().unwrap();
            errors[0] += e[0];
            errors[1] += e[1];
        }
        stop.store(true, Ordering::Relaxed);
        let cancelled = canceller.join().unwrap();
        handles.lock().unwrap().clear();
        assert_eq!(sem.available(), CAPACITY, "a permit was lost");
        assert_eq!(sem.capacity(), CAPACITY);
        assert_eq!(
            *counter.try_lock().expect("mutex left locked"),
            increments.load(Ordering::Relaxed)
        );
        let t = table.try_write().expect("rwlock left locked");
        assert_eq!(t.0, t.1);
        assert!(
            cancelled > 0 && errors[0] + errors[1] > 0,
            "no cancellation happened: {errors:?}"
        );
    });
}

#[test]
fn wait_group_once_and_pool_under_contention() {
    use concur_sync::{Once, Pool, WaitGroup};
    within(HANG, || {
        let created = Arc::new(AtomicU64::new(0));
        let pool = {
            let created = created.clone();
            Arc::new(
                Pool::new(move || {
                    created.fetch_add(1, Ordering::Relaxed);
                    Vec::<u64>::new()
                })
                .with_reset(|v| v.clear()),
            )
        };
        for round in 0..200u64 {
            let wg = Arc::new(WaitGroup::new());
            let once = Arc::new(Once::new());
            let inits = Arc::new(AtomicU64::new(0));
            wg.add(WORKERS as u32);
            let workers: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let (wg, once, inits, pool) =
                        (wg.clone(), once.clone(), inits.clone(), pool.clone());
                    thread::spawn(move || {
                        let v = once.get_or_init(|| {
                            inits.fetch_add(1, Ordering::SeqCst);
                            round
                        });
                        assert_eq!(*v, round);
                        let mut obj = pool.get();
                        assert!(obj.is_empty(), "pool object not reset");
                        obj.push(w);
                        drop(obj);
                        wg.done();
                    })
                })
                .collect();
            let ctx = Context::background().with_timeout(Duration::from_secs(120));
            wg.wait_ctx(&ctx).expect("wait group never reached zero");
            assert_eq!(inits.load(Ordering::SeqCst), 1, "Once ran twice");
            for w in workers {
                w.join().unwrap();
            }
        }
        // Every object made is back in the pool (none are held now, and the
        // per-shard bound is far above what 8 threads can have out at once).
        assert_eq!(pool.idle() as u64, created.load(Ordering::Relaxed));
    });
}
