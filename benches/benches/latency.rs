//! Wake-up (ping-pong), cancel latency and deadline overshoot, as means; the report binary
//! prints their medians and p99s. The cases live in
//! `concur_benches::latency`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn latency(c: &mut Criterion) {
    common::bench_groups(c, concur_benches::latency::groups(), Some(20));
}

criterion_group!(benches, latency);
criterion_main!(benches);
