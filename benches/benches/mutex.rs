//! Uncontended mutex lock+unlock: concur against std, parking_lot, and the
//! floor (one compare-exchange to lock, one release store to unlock), and
//! `lock_ctx` with a background and a live context. The cases live in
//! `concur_benches::uncontended`.
//!
//! Also run it under `RUSTFLAGS="--cfg concur_debug"` to price debug mode:
//! the `concur` row then includes recording the holder's site and the tick.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn mutex(c: &mut Criterion) {
    common::bench_groups(c, concur_benches::groups_named("mutex_uncontended"), None);
}

criterion_group!(benches, mutex);
criterion_main!(benches);
