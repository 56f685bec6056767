//! `Condvar::wait_async` and `wait_while_async` under real executors: a
//! queue served by thread producers and task consumers (and the other way
//! round), cancels and deadlines that end a task's wait with its guard
//! back, and `notify_all` reaching threads and tasks.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use concur_sync::{Condvar, Context, Error, Mutex};

mod common;
use common::within;

fn assert_send<T: Send>(_: &T) {}

type Queue = Arc<(Mutex<VecDeque<u64>>, Condvar)>;

#[test]
fn task_consumers_and_thread_producers_share_a_queue() {
    within(Duration::from_secs(60), || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let q: Queue = Arc::new((Mutex::new(VecDeque::new()), Condvar::new()));
        const ITEMS: u64 = 2000;
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                rt.spawn(async move {
                    let ctx = Context::background();
                    let (mut sum, mut got) = (0, 0);
                    loop {
                        let guard = q.0.lock_async(&ctx).await.unwrap();
                        let (mut guard, outcome) =
                            q.1.wait_while_async(&ctx, guard, |items| items.is_empty())
                                .await;
                        outcome.unwrap();
                        let item = guard.pop_front().unwrap();
                        drop(guard);
                        if item == u64::MAX {
                            return (sum, got);
                        }
                        sum += item;
                        got += 1;
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..ITEMS / 2 {
                        q.0.lock().push_back(p * (ITEMS / 2) + i);
                        q.1.notify_one();
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        for _ in 0..4 {
            q.0.lock().push_back(u64::MAX);
            q.1.notify_one();
        }
        let (sum, got) = rt.block_on(async {
            let mut total = (0, 0);
            for c in consumers {
                let (s, g) = c.await.unwrap();
                total = (total.0 + s, total.1 + g);
            }
            total
        });
        assert_eq!(got, ITEMS, "every item consumed once");
        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
        assert_eq!(q.1.waiters(), 0);
        let ctx = Context::background();
        let guard = q.0.lock();
        let wait = q.1.wait_async(&ctx, guard);
        assert_send(&wait);
    });
}

#[test]
fn a_cancel_or_a_deadline_ends_a_tasks_wait_with_its_guard_back() {
    within(Duration::from_secs(60), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let state = Mutex::new(0);
        let cv = Condvar::new();
        rt.block_on(async {
            let ctx = Context::background().with_timeout(Duration::from_millis(5));
            let guard = state.lock_async(&ctx).await.unwrap();
            let (mut guard, outcome) = cv.wait_async(&ctx, guard).await;
            assert_eq!(outcome, Err(Error::DeadlineExceeded));
            *guard += 1; // held again
            drop(guard);
            let (ctx, cancel) = Context::background().with_cancel();
            cancel.cancel();
            let (guard, outcome) = cv.wait_async(&ctx, state.lock()).await;
            assert_eq!(outcome, Err(Error::Cancelled));
            assert_eq!(*guard, 1, "the guard came back without a wait");
        });
        assert_eq!(cv.waiters(), 0);
        assert!(!state.is_locked());
    });
}

#[test]
fn notify_all_reaches_waiting_threads_and_tasks() {
    within(Duration::from_secs(60), || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let shared = Arc::new((Mutex::new(false), Condvar::new()));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let shared = shared.clone();
                rt.spawn(async move {
                    let ctx = Context::background();
                    let guard = shared.0.lock_async(&ctx).await.unwrap();
                    let (go, outcome) = shared.1.wait_while_async(&ctx, guard, |go| !*go).await;
                    outcome.map(|()| *go)
                })
            })
            .collect();
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || *shared.1.wait_while(shared.0.lock(), |go| !*go))
            })
            .collect();
        common::eventually("all nine wait", || shared.1.waiters() == 9);
        *shared.0.lock() = true;
        assert_eq!(shared.1.notify_all(), 9);
        for t in threads {
            assert!(t.join().unwrap());
        }
        rt.block_on(async {
            for t in tasks {
                assert_eq!(t.await.unwrap(), Ok(true));
            }
        });
    });
}

#[test]
fn threads_and_tasks_meet_at_one_barrier() {
    use concur_sync::Barrier;
    within(Duration::from_secs(60), || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        const ROUNDS: usize = 200;
        let barrier = Arc::new(Barrier::new(4));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                rt.spawn(async move {
                    let ctx = Context::background();
                    let mut leads = 0;
                    for _ in 0..ROUNDS {
                        leads += usize::from(barrier.wait_async(&ctx).await.unwrap().is_leader());
                    }
                    leads
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    (0..ROUNDS).filter(|_| barrier.wait().is_leader()).count()
                })
            })
            .collect();
        let mut leads: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        leads += rt.block_on(async {
            let mut n = 0;
            for t in tasks {
                n += t.await.unwrap();
            }
            n
        });
        assert_eq!(leads, ROUNDS, "one leader a round");
        // A task whose deadline passes mid-round leaves it as it found it.
        rt.block_on(async {
            let ctx = Context::background().with_timeout(Duration::from_millis(5));
            assert_eq!(
                barrier.wait_async(&ctx).await.err(),
                Some(Error::DeadlineExceeded)
            );
        });
        assert_eq!(barrier.arrived(), 0);
    });
}
