//! `Mutex::lock_async`, `RwLock::read_async` and `RwLock::write_async`
//! under real executors (tokio's two schedulers, smol, futures'
//! `block_on`): guards held across awaits on a multi-thread runtime,
//! cancels and deadlines that wake tasks, threads and tasks on one lock,
//! and stress runs with random cancels and drops that check exclusion.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concur_sync::{Context, Error, Mutex, RwLock};

mod common;
use common::{random_ctx, within, Rng};

fn assert_send<T: Send>(_: &T) {}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn guards_held_across_awaits_on_a_multi_thread_runtime() {
    let rt = runtime();
    let m = Arc::new(Mutex::new(0u64));
    let l = Arc::new(RwLock::new(0u64));
    let ctx = Context::background();
    assert_send(&m.lock_async(&ctx));
    assert_send(&l.read_async(&ctx));
    assert_send(&l.write_async(&ctx));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (m, l) = (m.clone(), l.clone());
            rt.spawn(async move {
                let ctx = Context::background();
                for i in 0..100 {
                    let mut n = m.lock_async(&ctx).await.unwrap();
                    tokio::task::yield_now().await;
                    *n += 1;
                    drop(n);
                    if i % 4 == 0 {
                        *l.write_async(&ctx).await.unwrap() += 1;
                    } else {
                        let seen = *l.read_async(&ctx).await.unwrap();
                        tokio::task::yield_now().await;
                        assert!(seen <= 400);
                    }
                }
            })
        })
        .collect();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(*m.lock(), 1600);
    assert_eq!(*l.read(), 400);
    assert!(!m.is_locked() && !l.is_locked());
}

#[test]
fn runs_under_smol_and_futures_block_on() {
    let m = Mutex::new(1);
    let l = RwLock::new(1);
    let ctx = Context::background();
    std::thread::scope(|s| {
        let held = m.lock();
        let writing = l.write();
        let smol = s.spawn(|| smol::block_on(async { *m.lock_async(&ctx).await.unwrap() }));
        let futures =
            s.spawn(|| futures::executor::block_on(async { *l.read_async(&ctx).await.unwrap() }));
        common::eventually("the tasks wait", || m.is_locked() && l.is_locked());
        drop((held, writing));
        assert_eq!(smol.join().unwrap(), 1);
        assert_eq!(futures.join().unwrap(), 1);
    });
}

#[test]
fn a_cancel_or_a_deadline_wakes_a_task_waiting_for_a_lock() {
    within(Duration::from_secs(60), || {
        let rt = runtime();
        let m = Mutex::new(());
        let l = RwLock::new(());
        let _held = m.lock();
        let _reading = l.read();
        rt.block_on(async {
            let (ctx, cancel) = Context::background().with_cancel();
            let canceller = std::thread::spawn(move || cancel.cancel());
            assert_eq!(m.lock_async(&ctx).await.err(), Some(Error::Cancelled));
            canceller.join().unwrap();
            let ctx = Context::background().with_timeout(Duration::from_millis(5));
            assert_eq!(
                l.write_async(&ctx).await.err(),
                Some(Error::DeadlineExceeded)
            );
            let ctx = Context::background().with_timeout(Duration::from_millis(5));
            assert_eq!(
                m.lock_async(&ctx).await.err(),
                Some(Error::DeadlineExceeded)
            );
        });
        // The withdrawn writer keeps no reader out.
        assert!(l.try_read().is_some());
    });
}

#[test]
fn a_cancelled_context_fails_even_a_free_lock_and_a_background_one_never_ends() {
    let m = Mutex::new(());
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    futures::executor::block_on(async {
        assert_eq!(m.lock_async(&ctx).await.err(), Some(Error::Cancelled));
        assert!(m.lock_async(&Context::background()).await.is_ok());
    });
}

/// Threads and tasks increment one counter under a mutex with a
/// read-yield-write that a second holder would break, while contexts are
/// cancelled, deadlines pass and futures are dropped at random points; the
/// count is the number of successful locks, and the lock ends free.
#[test]
fn threads_and_tasks_with_random_cancels_keep_mutual_exclusion() {
    let m = Arc::new(Mutex::new(0u64));
    let locked = Arc::new(AtomicU64::new(0));
    let rt = runtime();
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let (m, locked) = (m.clone(), locked.clone());
            rt.spawn(async move {
                let mut rng = Rng(i + 1);
                for _ in 0..200 {
                    let (ctx, _cancel) = random_ctx(&mut rng);
                    let wait = m.lock_async(&ctx);
                    let guard = if rng.below(100) < 15 {
                        // Dropped at a random point of its wait.
                        let limit = Duration::from_micros(rng.below(100));
                        match tokio::time::timeout(limit, wait).await {
                            Ok(r) => r,
                            Err(_) => continue,
                        }
                    } else {
                        wait.await
                    };
                    if let Ok(mut n) = guard {
                        let seen = *n;
                        tokio::task::yield_now().await;
                        *n = seen + 1;
                        locked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (m, locked) = (&m, &locked);
            s.spawn(move || {
                let mut rng = Rng(1000 + t);
                for _ in 0..200 {
                    let ctx =
                        Context::background().with_timeout(Duration::from_micros(rng.below(500)));
                    if let Ok(mut n) = m.lock_ctx(&ctx) {
                        let seen = *n;
                        std::thread::yield_now();
                        *n = seen + 1;
                        locked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    within(Duration::from_secs(120), move || {
        rt.block_on(async {
            for t in tasks {
                t.await.unwrap();
            }
        })
    });
    assert_eq!(*m.lock(), locked.load(Ordering::Relaxed));
    assert!(!m.is_locked());
}

/// Writers (threads and tasks) keep two fields equal, readers (threads and
/// tasks) check them, with random cancels and drops; writer preference
/// must not strand anyone: every task and thread finishes, and the lock
/// ends free with no writer counted.
#[test]
fn readers_and_writers_of_both_kinds_with_random_cancels() {
    let l = Arc::new(RwLock::new((0u64, 0u64)));
    let rt = runtime();
    let tasks: Vec<_> = (0..32u64)
        .map(|i| {
            let l = l.clone();
            rt.spawn(async move {
                let mut rng = Rng(i + 7);
                for _ in 0..200 {
                    let (ctx, cancel) = Context::background().with_cancel();
                    let ctx = ctx.with_timeout(Duration::from_micros(rng.below(300)));
                    if rng.below(100) < 10 {
                        cancel.cancel();
                    }
                    if rng.below(100) < 30 {
                        if let Ok(mut w) = l.write_async(&ctx).await {
                            w.0 += 1;
                            tokio::task::yield_now().await;
                            w.1 += 1;
                        }
                    } else if let Ok(r) = l.read_async(&ctx).await {
                        tokio::task::yield_now().await;
                        assert_eq!(r.0, r.1, "a reader saw a writer's half-done work");
                    }
                }
            })
        })
        .collect();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let l = &l;
            s.spawn(move || {
                let mut rng = Rng(500 + t);
                for _ in 0..200 {
                    let ctx =
                        Context::background().with_timeout(Duration::from_micros(rng.below(500)));
                    if rng.below(100) < 30 {
                        if let Ok(mut w) = l.write_ctx(&ctx) {
                            w.0 += 1;
                            std::thread::yield_now();
                            w.1 += 1;
                        }
                    } else if let Ok(r) = l.read_ctx(&ctx) {
                        assert_eq!(r.0, r.1);
                    }
                }
            });
        }
    });
    within(Duration::from_secs(120), move || {
        rt.block_on(async {
            for t in tasks {
                t.await.unwrap();
            }
        })
    });
    let end = *l.read();
    assert_eq!(end.0, end.1);
    assert!(
        l.try_write().is_some(),
        "no writer left counted, no reader held"
    );
}

/// A guard or permit borrows its lock, not the context it was awaited
/// with: it may outlive a context made for the one call.
#[test]
fn guards_and_permits_outlive_the_context_they_were_awaited_with() {
    let m = Mutex::new(1);
    let l = RwLock::new(2);
    let sem = concur_sync::Semaphore::new(1);
    futures::executor::block_on(async {
        let (guard, read, permit) = {
            let ctx = Context::background().with_timeout(Duration::from_secs(60));
            let guard = m.lock_async(&ctx).await.unwrap();
            let read = l.read_async(&ctx).await.unwrap();
            let permit = sem.acquire_async(&ctx, 1).await.unwrap();
            (guard, read, permit)
        };
        assert_eq!((*guard, *read, permit.num_permits()), (1, 2, 1));
    });
}

/// Tasks and a thread wait for one wait group; the thread workers' last
/// `done` wakes all of them, and a cancel ends one task's wait alone.
#[test]
fn tasks_and_threads_wait_for_one_wait_group() {
    use concur_sync::WaitGroup;
    within(Duration::from_secs(60), || {
        let rt = runtime();
        let wg = Arc::new(WaitGroup::new());
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        wg.add(1);
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let wg = wg.clone();
                rt.spawn(async move { wg.wait_async(&Context::background()).await })
            })
            .collect();
        let (ctx, cancel) = Context::background().with_cancel();
        let cancelled = {
            let wg = wg.clone();
            rt.spawn(async move { wg.wait_async(&ctx).await })
        };
        let thread = {
            let wg = wg.clone();
            std::thread::spawn(move || wg.wait())
        };
        cancel.cancel();
        assert_eq!(rt.block_on(cancelled).unwrap(), Err(Error::Cancelled));
        let worker = std::thread::spawn(move || {
            release_rx.recv().unwrap();
            wg.done();
        });
        release_tx.send(()).unwrap();
        worker.join().unwrap();
        thread.join().unwrap();
        rt.block_on(async {
            for w in waiters {
                assert_eq!(w.await.unwrap(), Ok(()));
            }
        });
    });
}
