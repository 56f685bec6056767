//! Uncontended costs of everything but the mutex (see `mutex.rs`), each
//! next to what a user would pick instead, in the same run:
//!
//! * `rwlock_read` / `rwlock_write`: concur vs std and parking_lot;
//! * `semaphore`: acquire(1)+release via `try_acquire` and via
//!   `acquire(&background, 1)` vs tokio's and async-lock's `try_acquire`
//!   and a `Mutex<u64>` + `Condvar` semaphore;
//! * `wait_group`: 100 add/done then wait vs crossbeam's `WaitGroup` (clone
//!   per task) and a bare atomic counter (the floor);
//! * `pool`: get+put vs allocating a fresh `Vec` and vs a `Mutex<Vec<T>>`
//!   free list;
//! * `once`: the initialized fast path vs `std::sync::OnceLock`;
//! * `context`: `with_cancel` + `cancel`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex as StdMutex, OnceLock};

use criterion::{criterion_group, criterion_main, Criterion};

fn rwlock(c: &mut Criterion) {
    let mut g = c.benchmark_group("rwlock_read");
    let concur = concur::RwLock::new(0u64);
    let std = std::sync::RwLock::new(0u64);
    let pl = parking_lot::RwLock::new(0u64);
    g.bench_function("concur", |b| b.iter(|| *black_box(&concur).read()));
    g.bench_function("std", |b| b.iter(|| *black_box(&std).read().unwrap()));
    g.bench_function("parking_lot", |b| b.iter(|| *black_box(&pl).read()));
    g.finish();
    let mut g = c.benchmark_group("rwlock_write");
    g.bench_function("concur", |b| b.iter(|| *black_box(&concur).write() += 1));
    g.bench_function("std", |b| b.iter(|| *black_box(&std).write().unwrap() += 1));
    g.bench_function("parking_lot", |b| b.iter(|| *black_box(&pl).write() += 1));
    g.finish();
}

/// The classic semaphore from a mutex and a condition variable.
struct CondvarSemaphore {
    permits: StdMutex<u64>,
    freed: Condvar,
}

impl CondvarSemaphore {
    fn acquire(&self) {
        let mut permits = self.permits.lock().unwrap();
        while *permits == 0 {
            permits = self.freed.wait(permits).unwrap();
        }
        *permits -= 1;
    }
    fn release(&self) {
        *self.permits.lock().unwrap() += 1;
        self.freed.notify_one();
    }
}

fn semaphore(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore");
    let concur = concur::Semaphore::new(8);
    let bg = concur::Context::background();
    g.bench_function("concur_try_acquire", |b| {
        b.iter(|| drop(black_box(&concur).try_acquire(1).unwrap()))
    });
    g.bench_function("concur_acquire_background", |b| {
        b.iter(|| drop(black_box(&concur).acquire(&bg, 1).unwrap()))
    });
    let tokio = tokio::sync::Semaphore::new(8);
    g.bench_function("tokio_try_acquire", |b| {
        b.iter(|| drop(black_box(&tokio).try_acquire().unwrap()))
    });
    let al = async_lock::Semaphore::new(8);
    g.bench_function("async_lock_try_acquire", |b| {
        b.iter(|| drop(black_box(&al).try_acquire().unwrap()))
    });
    let cv = CondvarSemaphore {
        permits: StdMutex::new(8),
        freed: Condvar::new(),
    };
    g.bench_function("mutex_condvar", |b| {
        b.iter(|| {
            let s = black_box(&cv);
            s.acquire();
            s.release();
        })
    });
    g.finish();
}

fn wait_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("wait_group_100");
    g.bench_function("concur", |b| {
        b.iter(|| {
            let wg = concur::WaitGroup::new();
            for _ in 0..100 {
                wg.add(1);
                black_box(&wg).done();
            }
            wg.wait();
        })
    });
    g.bench_function("crossbeam", |b| {
        b.iter(|| {
            let wg = crossbeam_utils::sync::WaitGroup::new();
            for _ in 0..100 {
                drop(black_box(wg.clone()));
            }
            wg.wait();
        })
    });
    g.bench_function("floor_atomic", |b| {
        b.iter(|| {
            let n = AtomicU64::new(0);
            for _ in 0..100 {
                n.fetch_add(1, Ordering::Relaxed);
                black_box(&n).fetch_sub(1, Ordering::Release);
            }
            while n.load(Ordering::Acquire) != 0 {}
        })
    });
    g.finish();
}

fn pool(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool_get_put");
    let concur = concur::Pool::new(|| Vec::<u8>::with_capacity(4096)).with_reset(|v| v.clear());
    g.bench_function("concur", |b| b.iter(|| black_box(concur.get()).push(1)));
    g.bench_function("allocate", |b| {
        b.iter(|| black_box(Vec::<u8>::with_capacity(4096)).push(1))
    });
    let list: StdMutex<Vec<Vec<u8>>> = StdMutex::new(Vec::new());
    g.bench_function("mutex_vec", |b| {
        b.iter(|| {
            let mut v = list
                .lock()
                .unwrap()
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(4096));
            black_box(&mut v).push(1);
            v.clear();
            list.lock().unwrap().push(v);
        })
    });
    g.finish();
}

fn once(c: &mut Criterion) {
    let mut g = c.benchmark_group("once_get");
    let concur = concur::Once::new();
    concur.get_or_init(|| 7u64);
    let std = OnceLock::new();
    std.get_or_init(|| 7u64);
    g.bench_function("concur", |b| {
        b.iter(|| *black_box(&concur).get_or_init(|| 0))
    });
    g.bench_function("std_once_lock", |b| {
        b.iter(|| *black_box(&std).get_or_init(|| 0))
    });
    g.finish();
}

fn context(c: &mut Criterion) {
    let mut g = c.benchmark_group("context");
    let (parent, _keep) = concur::Context::background().with_cancel();
    g.bench_function("with_cancel_cancel", |b| {
        b.iter(|| {
            let (ctx, cancel) = black_box(&parent).with_cancel();
            cancel.cancel();
            black_box(ctx);
        })
    });
    g.finish();
}

criterion_group!(benches, rwlock, semaphore, wait_group, pool, once, context);
criterion_main!(benches);
