//! Condvar ping-pong and `notify_all` of 8 waiters vs std and parking_lot
//! (and concur's own stampede), barriers of 2 and 8 threads vs std's. The
//! cases live in `concur_benches::condvar`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn condvar(c: &mut Criterion) {
    common::bench_groups(c, concur_benches::condvar::groups(), None);
}

criterion_group!(benches, condvar);
criterion_main!(benches);
