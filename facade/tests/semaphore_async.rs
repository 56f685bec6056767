//! `Semaphore::acquire_async` and `Context::done` under real executors
//! (tokio's two schedulers, smol, futures' `block_on`): one FIFO queue
//! shared with blocking threads, cancels and deadlines that wake tasks,
//! and a stress run of threads and tasks with random cancels and drops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use concur_sync::{Context, Error, Semaphore};

mod common;
use common::{random_ctx, Rng};

fn assert_send<T: Send>(_: &T) {}

#[test]
fn the_futures_are_send_and_run_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let sem = Arc::new(Semaphore::new(2));
    let ctx = Context::background();
    let fut = sem.acquire_async(&ctx, 1);
    assert_send(&fut);
    drop(fut);
    assert_send(&ctx.done());
    assert_send(&sem.clone().acquire_owned_async(&ctx, 1));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let sem = sem.clone();
            rt.spawn(async move {
                let ctx = Context::background();
                for _ in 0..100 {
                    // A permit held across an await point.
                    let permit = sem.acquire_async(&ctx, 1).await.unwrap();
                    tokio::task::yield_now().await;
                    drop(permit);
                }
            })
        })
        .collect();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(sem.available(), 2);
    assert_eq!(sem.waiters(), 0);
}

#[test]
fn runs_under_smol_and_futures_block_on() {
    let sem = Semaphore::new(1);
    let ctx = Context::background();
    let held = sem.try_acquire(1).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            // Bounded: a wait that never ends fails the test, not hangs it.
            let ctx = ctx.with_timeout(Duration::from_secs(60));
            drop(smol::block_on(sem.acquire_async(&ctx, 1)).unwrap());
        });
        while sem.waiters() == 0 {
            std::thread::yield_now();
        }
        drop(held);
    });
    let permit = futures::executor::block_on(sem.acquire_async(&ctx, 1)).unwrap();
    drop(permit);
    let owned =
        futures::executor::block_on(Arc::new(Semaphore::new(3)).acquire_owned_async(&ctx, 2))
            .unwrap();
    assert_eq!(owned.num_permits(), 2);
}

#[test]
fn a_thread_and_a_task_are_served_in_arrival_order() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire(1).unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ctx = Context::background().with_timeout(Duration::from_secs(60));
    std::thread::scope(|s| {
        let thread = {
            let (sem, order, ctx) = (&sem, &order, &ctx);
            s.spawn(move || {
                let p = sem.acquire(ctx, 1).unwrap();
                order.lock().unwrap().push("thread");
                drop(p);
            })
        };
        while sem.waiters() < 1 {
            std::thread::yield_now();
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let task = {
            let (sem, order, ctx) = (sem.clone(), order.clone(), ctx.clone());
            rt.spawn(async move {
                let p = sem.acquire_async(&ctx, 1).await.unwrap();
                order.lock().unwrap().push("task");
                drop(p);
            })
        };
        // Let the task queue behind the thread.
        rt.block_on(async {
            while sem.waiters() < 2 {
                tokio::task::yield_now().await;
            }
        });
        drop(held);
        thread.join().unwrap();
        rt.block_on(task).unwrap();
    });
    assert_eq!(*order.lock().unwrap(), ["thread", "task"]);
}

#[test]
fn a_cancel_wakes_a_waiting_task() {
    let sem = Semaphore::new(1);
    let _held = sem.try_acquire(1).unwrap();
    let (ctx, cancel) = Context::background().with_cancel();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let canceller = std::thread::spawn(move || {
        // Any time: before the task waits, while it waits.
        cancel.cancel();
    });
    let result = rt.block_on(sem.acquire_async(&ctx, 1));
    assert_eq!(result.err(), Some(Error::Cancelled));
    canceller.join().unwrap();
    assert_eq!(sem.waiters(), 0);
}

#[test]
fn a_deadline_ends_a_waiting_task() {
    let sem = Semaphore::new(1);
    let _held = sem.try_acquire(1).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let start = Instant::now();
    let ctx = Context::background().with_timeout(Duration::from_millis(20));
    let result = rt.block_on(sem.acquire_async(&ctx, 1));
    assert_eq!(result.err(), Some(Error::DeadlineExceeded));
    assert!(start.elapsed() >= Duration::from_millis(20), "ended early");
    assert_eq!(sem.waiters(), 0);
    // A call that need not wait still succeeds past the deadline.
    drop(_held);
    assert!(rt.block_on(sem.acquire_async(&ctx, 1)).is_ok());
}

#[test]
fn done_resolves_when_the_context_ends() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (ctx, cancel) = Context::background().with_cancel();
    let child = ctx.with_timeout(Duration::from_secs(3600));
    let canceller = std::thread::spawn(move || cancel.cancel());
    assert_eq!(rt.block_on(child.done()), Error::Cancelled);
    assert_eq!(
        rt.block_on(ctx.done()),
        Error::Cancelled,
        "at once once ended"
    );
    canceller.join().unwrap();
    let soon = Context::background().with_timeout(Duration::from_millis(10));
    assert_eq!(rt.block_on(soon.done()), Error::DeadlineExceeded);
}

#[test]
fn a_dropped_future_gives_back_what_it_was_granted() {
    let sem = Semaphore::new(3);
    let held = sem.try_acquire(3).unwrap();
    let ctx = Context::background();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        // Waits for 3, gets 2 of them, then its timeout drops it.
        let big = sem.acquire_async(&ctx, 3);
        let mut one = held;
        let two = one.split(2).unwrap();
        let released = async {
            tokio::task::yield_now().await;
            drop(two);
        };
        let (timed_out, ()) = tokio::join!(
            tokio::time::timeout(Duration::from_millis(10), big),
            released
        );
        assert!(timed_out.is_err());
        drop(one);
    });
    assert_eq!(sem.available(), 3);
    assert_eq!(sem.waiters(), 0);
}

/// 8 threads and 64 tasks on a 2-worker tokio runtime share a semaphore
/// of 5 permits, asking for 1 to 3, with random cancels, deadlines and
/// dropped futures; every permit is back at the end, and at no time were
/// more than 5 held.
#[test]
fn threads_and_tasks_with_random_cancels_conserve_permits() {
    const CAPACITY: u64 = 5;
    let sem = Arc::new(Semaphore::new(CAPACITY));
    let held = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let check = |held: &AtomicU64, n: u64| {
        let now = held.fetch_add(n, Ordering::SeqCst) + n;
        assert!(now <= CAPACITY, "{now} permits held at once");
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let (sem, held, done) = (sem.clone(), held.clone(), done.clone());
            rt.spawn(async move {
                let mut rng = Rng(i + 1);
                for _ in 0..200 {
                    let n = 1 + rng.below(3);
                    let (ctx, cancel) = random_ctx(&mut rng);
                    let wait = sem.acquire_async(&ctx, n);
                    let permit = if rng.below(100) < 15 {
                        // Dropped at a random point of its wait.
                        match tokio::time::timeout(Duration::from_micros(rng.below(100)), wait)
                            .await
                        {
                            Ok(r) => r,
                            Err(_) => continue,
                        }
                    } else {
                        wait.await
                    };
                    if let Ok(permit) = permit {
                        check(&held, n);
                        tokio::task::yield_now().await;
                        held.fetch_sub(n, Ordering::SeqCst);
                        drop(permit);
                    }
                    drop(cancel);
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (sem, held, done) = (&sem, &held, &done);
            s.spawn(move || {
                let mut rng = Rng(1000 + t);
                for _ in 0..200 {
                    let n = 1 + rng.below(3);
                    let ctx =
                        Context::background().with_timeout(Duration::from_micros(rng.below(500)));
                    if let Ok(permit) = sem.acquire(&ctx, n) {
                        check(held, n);
                        std::thread::yield_now();
                        held.fetch_sub(n, Ordering::SeqCst);
                        drop(permit);
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), 72);
    assert_eq!(sem.available(), CAPACITY);
    assert_eq!(sem.waiters(), 0);
}
