//! The async twins next to tokio's and async-lock's semaphores, in the
//! same run. The cases live in `concur_benches::tasks`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn tasks(c: &mut Criterion) {
    common::bench_groups(c, concur_benches::tasks::groups(), None);
}

criterion_group!(benches, tasks);
criterion_main!(benches);
