//! The async twins, uncontended (lower is better):
//!
//! * `semaphore_async_uncontended`: an `.await`ed acquire of one free
//!   permit and its release, many per iteration batch inside one
//!   `block_on` of a current-thread tokio runtime (a `block_on` per
//!   operation costs about 300 ns and would flatten every ratio); concur
//!   with the background context and with a live (cancellable) one, vs
//!   `tokio::sync::Semaphore` and `async_lock::Semaphore`.
//! * `semaphore_async_contended_8`: 8 tasks on a 2-worker multi-thread
//!   tokio runtime take turns on one permit; one iteration is one
//!   acquire+release (the permit held across a yield), same anchors.
//! * `mutex_async_uncontended` and `mutex_async_contended_8`: the same
//!   two shapes for an awaited lock+unlock of a mutex, vs
//!   `tokio::sync::Mutex` and `async_lock::Mutex`.
//! * `semaphore_mixed`: 2 threads and 8 tasks (on 2 workers) take turns on
//!   one permit; an iteration is one acquire+release by either. concur's
//!   threads call the blocking `acquire`; tokio's semaphore has no blocking
//!   acquire, so its threads use `Handle::block_on(sem.acquire())`, the
//!   tokio way to call it from a plain thread.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Group;

/// The async groups.
pub fn groups() -> Vec<Group> {
    vec![
        semaphore_uncontended(),
        semaphore_contended(),
        mutex_uncontended(),
        mutex_contended(),
        semaphore_mixed(),
    ]
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

/// Tasks sharing one permit on the contended runtime.
const TASKS: u64 = 8;

/// A 2-worker multi-thread runtime for one case.
fn workers() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("a tokio runtime"),
    )
}

/// Runs `n` acquire+release turns split over `TASKS` tasks, each turn made
/// by `turn`, and returns the time until all are done.
fn turns<S, F>(
    rt: &tokio::runtime::Runtime,
    sem: &Arc<S>,
    n: u64,
    turn: fn(Arc<S>) -> F,
) -> Duration
where
    S: Send + Sync + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let per_task = n.div_ceil(TASKS);
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let sem = sem.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        turn(sem.clone()).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a bench task panicked");
        }
    });
    start.elapsed() * n as u32 / (per_task * TASKS) as u32
}

fn semaphore_contended() -> Group {
    let (rt, concur) = (workers(), Arc::new(concur_sync::Semaphore::new(1)));
    let (rt_tokio, tokio_sem) = (workers(), Arc::new(tokio::sync::Semaphore::new(1)));
    let (rt_async_lock, async_lock_sem) = (workers(), Arc::new(async_lock::Semaphore::new(1)));
    Group::new(
        "semaphore_async_contended_8",
        "an awaited acquire+release, 8 tasks on 2 workers, 1 permit",
    )
    .case("concur", move |n| {
        turns(&rt, &concur, n, |sem| async move {
            let ctx = concur_sync::Context::background();
            let _permit = sem.acquire_async(&ctx, 1).await;
            tokio::task::yield_now().await;
        })
    })
    .case("tokio", move |n| {
        turns(&rt_tokio, &tokio_sem, n, |sem| async move {
            let _permit = sem.acquire().await;
            tokio::task::yield_now().await;
        })
    })
    .case("async_lock", move |n| {
        turns(&rt_async_lock, &async_lock_sem, n, |sem| async move {
            let _permit = sem.acquire().await;
            tokio::task::yield_now().await;
        })
    })
}

fn mutex_uncontended() -> Group {
    let (rt, concur) = (runtime(), concur_sync::Mutex::new(0u64));
    let background = concur_sync::Context::background();
    let (rt_tokio, tokio_mutex) = (runtime(), tokio::sync::Mutex::new(0u64));
    let (rt_async_lock, async_lock_mutex) = (runtime(), async_lock::Mutex::new(0u64));
    Group::new(
        "mutex_async_uncontended",
        "an awaited lock of a free mutex + unlock",
    )
    .case("concur", move |n| {
        awaited(&rt, n, || async {
            if let Ok(mut guard) = black_box(&concur).lock_async(&background).await {
                *guard += 1;
            }
        })
    })
    .case("tokio", move |n| {
        awaited(&rt_tokio, n, || async {
            *black_box(&tokio_mutex).lock().await += 1;
        })
    })
    .case("async_lock", move |n| {
        awaited(&rt_async_lock, n, || async {
            *black_box(&async_lock_mutex).lock().await += 1;
        })
    })
}

fn mutex_contended() -> Group {
    let (rt, concur) = (workers(), Arc::new(concur_sync::Mutex::new(0u64)));
    let (rt_tokio, tokio_mutex) = (workers(), Arc::new(tokio::sync::Mutex::new(0u64)));
    let (rt_async_lock, async_lock_mutex) = (workers(), Arc::new(async_lock::Mutex::new(0u64)));
    Group::new(
        "mutex_async_contended_8",
        "an awaited lock+unlock, 8 tasks on 2 workers, held across a yield",
    )
    .case("concur", move |n| {
        turns(&rt, &concur, n, |m| async move {
            let ctx = concur_sync::Context::background();
            if let Ok(mut guard) = m.lock_async(&ctx).await {
                tokio::task::yield_now().await;
                *guard += 1;
            }
        })
    })
    .case("tokio", move |n| {
        turns(&rt_tokio, &tokio_mutex, n, |m| async move {
            let mut guard = m.lock().await;
            tokio::task::yield_now().await;
            *guard += 1;
        })
    })
    .case("async_lock", move |n| {
        turns(&rt_async_lock, &async_lock_mutex, n, |m| async move {
            let mut guard = m.lock().await;
            tokio::task::yield_now().await;
            *guard += 1;
        })
    })
}

/// Threads beside the tasks of `semaphore_mixed`.
const THREADS: u64 = 2;

/// Runs `n` turns: `TASKS` tasks on `rt` running `task_turn`, and
/// `THREADS` threads running `thread_turn`, each an equal share.
fn mixed_turns<S, F>(
    rt: &tokio::runtime::Runtime,
    sem: &Arc<S>,
    n: u64,
    task_turn: fn(Arc<S>) -> F,
    thread_turn: fn(&S, &tokio::runtime::Handle),
) -> Duration
where
    S: Send + Sync + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let share = n.div_ceil(TASKS + THREADS);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let (sem, handle) = (sem.clone(), rt.handle().clone());
            s.spawn(move || {
                for _ in 0..share {
                    thread_turn(&sem, &handle);
                }
            });
        }
        rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let sem = sem.clone();
                    tokio::spawn(async move {
                        for _ in 0..share {
                            task_turn(sem.clone()).await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("a bench task panicked");
            }
        });
    });
    start.elapsed() * n as u32 / (share * (TASKS + THREADS)) as u32
}

fn semaphore_mixed() -> Group {
    let (rt, concur) = (workers(), Arc::new(concur_sync::Semaphore::new(1)));
    let (rt_tokio, tokio_sem) = (workers(), Arc::new(tokio::sync::Semaphore::new(1)));
    Group::new(
        "semaphore_mixed",
        "an acquire+release of 1 permit, 2 threads and 8 tasks (2 workers)",
    )
    .case("concur", move |n| {
        mixed_turns(
            &rt,
            &concur,
            n,
            |sem| async move {
                let ctx = concur_sync::Context::background();
                let _permit = sem.acquire_async(&ctx, 1).await;
                tokio::task::yield_now().await;
            },
            |sem, _| {
                drop(black_box(
                    sem.acquire(&concur_sync::Context::background(), 1),
                ))
            },
        )
    })
    .case("tokio", move |n| {
        mixed_turns(
            &rt_tokio,
            &tokio_sem,
            n,
            |sem| async move {
                let _permit = sem.acquire().await;
                tokio::task::yield_now().await;
            },
            |sem, handle| drop(black_box(handle.block_on(sem.acquire()))),
        )
    })
}
