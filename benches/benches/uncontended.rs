//! Uncontended costs of everything but the mutex (see `mutex.rs`), each
//! next to what a user would pick instead, in the same run. The cases live
//! in `concur_benches::uncontended`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn uncontended(c: &mut Criterion) {
    let groups = concur_benches::uncontended::groups()
        .into_iter()
        .filter(|g| g.name != "mutex_uncontended")
        .collect();
    common::bench_groups(c, groups, None);
}

criterion_group!(benches, uncontended);
criterion_main!(benches);
