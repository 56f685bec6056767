//! The async twins, uncontended (lower is better):
//!
//! * `semaphore_async_uncontended`: an `.await`ed acquire of one free
//!   permit and its release, many per iteration batch inside one
//!   `block_on` of a current-thread tokio runtime (a `block_on` per
//!   operation costs about 300 ns and would flatten every ratio); concur
//!   with the background context and with a live (cancellable) one, vs
//!   `tokio::sync::Semaphore` and `async_lock::Semaphore`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::Group;

/// The async groups.
pub fn groups() -> Vec<Group> {
    vec![semaphore_uncontended()]
}

/// A current-thread runtime for one case.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
}

/// Times `n` awaits of `op` inside one `block_on`.
fn awaited<F: std::future::Future<Output = ()>>(
    rt: &tokio::runtime::Runtime,
    n: u64,
    mut op: impl FnMut() -> F,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..n {
            op().await;
        }
        start.elapsed()
    })
}

fn semaphore_uncontended() -> Group {
    let (rt, concur) = (runtime(), concur_sync::Semaphore::new(1));
    let background = concur_sync::Context::background();
    let (rt_live, concur_live) = (runtime(), concur_sync::Semaphore::new(1));
    let (live, cancel) = concur_sync::Context::background().with_cancel();
    let (rt_tokio, tokio_sem) = (runtime(), tokio::sync::Semaphore::new(1));
    let (rt_async_lock, async_lock_sem) = (runtime(), async_lock::Semaphore::new(1));
    Group::new(
        "semaphore_async_uncontended",
        "an awaited acquire of a free permit + release",
    )
    .case("concur", move |n| {
        awaited(&rt, n, || async {
            drop(black_box(&concur).acquire_async(&background, 1).await);
        })
    })
    .case("concur_live_context", move |n| {
        let _cancel = &cancel;
        awaited(&rt_live, n, || async {
            drop(black_box(&concur_live).acquire_async(&live, 1).await);
        })
    })
    .case("tokio", move |n| {
        awaited(&rt_tokio, n, || async {
            drop(black_box(&tokio_sem).acquire().await);
        })
    })
    .case("async_lock", move |n| {
        awaited(&rt_async_lock, n, || async {
            drop(black_box(&async_lock_sem).acquire().await);
        })
    })
}
