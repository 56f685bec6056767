//! Object pools on 1, 2 and 8 threads: concur's `Pool` vs a `Mutex<Vec>`
//! pool and a thread-local free list. The cases live in
//! `concur_benches::pool`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn pool(c: &mut Criterion) {
    common::bench_groups(c, concur_benches::pool::groups(), None);
}

criterion_group!(benches, pool);
criterion_main!(benches);
