//! Per-call timeouts and deadline-derived contexts on free resources
//! against parking_lot's `try_lock_for`, and the mutex after 1,000
//! interrupted waiters against a fresh one. The cases live in
//! `concur_benches::deadlines`; the overshoot of a blocked deadline is in
//! the `latency` bench.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn deadlines(c: &mut Criterion) {
    common::bench_groups(c, concur_benches::deadlines::groups(), None);
}

criterion_group!(benches, deadlines);
criterion_main!(benches);
