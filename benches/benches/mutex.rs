//! Uncontended mutex lock+unlock: concur against std, parking_lot, and the
//! floor (one compare-exchange to lock, one release store to unlock).
//!
//! Also run it under `RUSTFLAGS="--cfg concur_debug"` to price debug mode:
//! the `concur` row then includes recording the holder's site and the tick.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex_uncontended");
    let concur = concur::Mutex::new(0u64);
    g.bench_function("concur", |b| b.iter(|| *black_box(&concur).lock() += 1));
    let bg = concur::Context::background();
    g.bench_function("concur_lock_ctx_background", |b| {
        b.iter(|| *black_box(&concur).lock_ctx(&bg).unwrap() += 1)
    });
    let (live, _cancel) = concur::Context::background().with_cancel();
    g.bench_function("concur_lock_ctx_live", |b| {
        b.iter(|| *black_box(&concur).lock_ctx(&live).unwrap() += 1)
    });
    let std = std::sync::Mutex::new(0u64);
    g.bench_function("std", |b| b.iter(|| *black_box(&std).lock().unwrap() += 1));
    let pl = parking_lot::Mutex::new(0u64);
    g.bench_function("parking_lot", |b| b.iter(|| *black_box(&pl).lock() += 1));
    let floor = AtomicU32::new(0);
    g.bench_function("floor_cas_store", |b| {
        b.iter(|| {
            let word = black_box(&floor);
            while word
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {}
            word.store(0, Ordering::Release);
        })
    });
    g.finish();
}

criterion_group!(benches, uncontended);
criterion_main!(benches);
