//! Contended throughput with 2 and 8 threads: the mutex vs std and
//! parking_lot, a semaphore of 1 vs tokio's and a `Mutex` + `Condvar` one.
//! The cases live in `concur_benches::contended`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn contended(c: &mut Criterion) {
    common::bench_groups(c, concur_benches::contended::groups(), None);
}

criterion_group!(benches, contended);
criterion_main!(benches);
