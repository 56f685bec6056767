//! Fan-out of 10,000 tiny tasks at most 2 at a time: concur's group and
//! scope vs rayon, a thread per task, and an atomic-index floor. The cases
//! live in `concur_benches::fanout`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn fanout(c: &mut Criterion) {
    common::bench_groups(c, concur_benches::fanout::groups(), Some(10));
}

criterion_group!(benches, fanout);
criterion_main!(benches);
