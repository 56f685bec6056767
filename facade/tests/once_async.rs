//! `Once::get_or_init_async` under real executors: one initializer among
//! many tasks and threads, an initializer dropped mid-way (the next caller
//! runs its own), and a context that ends the wait for a slow one.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concur_sync::{Context, Error, Once};

mod common;
use common::within;

fn assert_send<T: Send>(_: &T) {}

#[test]
fn one_initializer_runs_among_tasks_and_threads() {
    within(Duration::from_secs(60), || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                rt.spawn(async move {
                    let ctx = Context::background();
                    let value = once
                        .get_or_init_async(&ctx, || async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            // Others come while it runs.
                            tokio::task::yield_now().await;
                            7
                        })
                        .await;
                    *value.unwrap()
                })
            })
            .collect();
        let thread = {
            let once = once.clone();
            std::thread::spawn(move || *once.get_or_init(|| 7))
        };
        rt.block_on(async {
            for t in tasks {
                assert_eq!(t.await.unwrap(), 7);
            }
        });
        assert_eq!(thread.join().unwrap(), 7);
        assert!(runs.load(Ordering::SeqCst) <= 1, "one initializer ran");
        let ctx = Context::background();
        assert_send(&once.get_or_init_async(&ctx, || async { 1 }));
    });
}

#[test]
fn an_initializer_dropped_mid_way_leaves_the_cell_to_the_next_caller() {
    let once = Once::new();
    let ctx = Context::background();
    futures::executor::block_on(async {
        // The first initializer never finishes: its future is dropped.
        {
            let stuck = once.get_or_init_async(&ctx, std::future::pending::<u32>);
            let mut stuck = Box::pin(stuck);
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            assert!(stuck.as_mut().poll(&mut cx).is_pending());
            // Another caller waits for it now.
            let mut waiting = Box::pin(once.get_or_init_async(&ctx, || async { 2 }));
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
            drop(stuck);
            // The waiter was woken and runs its own initializer.
            assert_eq!(waiting.as_mut().await, Ok(&2));
        }
        assert_eq!(once.get(), Some(&2));
    });
}

#[test]
fn a_context_ends_the_wait_for_a_slow_initializer() {
    within(Duration::from_secs(60), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let once = Once::new();
        rt.block_on(async {
            let ctx = Context::background();
            let slow = once.get_or_init_async(&ctx, || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                1
            });
            let waiter_ctx = Context::background().with_timeout(Duration::from_millis(10));
            let waiting = once.get_or_init_async(&waiter_ctx, || async { 2 });
            // Biased: the slow one is polled first, so it is the runner.
            tokio::select! {
                biased;
                _ = slow => panic!("the slow initializer finished"),
                got = waiting => assert_eq!(got, Err(Error::DeadlineExceeded)),
            }
        });
        assert_eq!(once.get(), None, "the slow one was dropped with the select");
    });
}
