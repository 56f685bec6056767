//! `Group::go_async`, `spawn_async` and `wait_async`: a full group makes a
//! submitting task wait without blocking its executor's thread, errors are
//! collected as by `wait`, a context ends a task's wait, and a dropped
//! submission counts nothing.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use concur_sync::{Context, Error, Group};

mod common;
use common::within;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// One worker, no queue: the second `go_async` waits for room while the
/// first task waits for a message that another task on the same
/// single-threaded runtime sends. A blocking admission would stop that
/// runtime's only thread and never see the message.
#[test]
fn a_full_group_makes_a_task_wait_without_blocking_its_thread() {
    within(Duration::from_secs(60), || {
        let rt = current_thread();
        let group: Arc<Group> = Arc::new(Group::builder().limit(1).build().unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        rt.block_on(async {
            let submitter = {
                let (group, ran) = (group.clone(), ran.clone());
                tokio::spawn(async move {
                    let first = ran.clone();
                    group
                        .spawn_async(move || {
                            release_rx.recv().unwrap();
                            first.fetch_add(1, Ordering::SeqCst);
                        })
                        .await;
                    let second = ran.clone();
                    // Full: waits (as a task) for the first to finish.
                    group
                        .spawn_async(move || {
                            second.fetch_add(1, Ordering::SeqCst);
                        })
                        .await;
                })
            };
            let releaser = tokio::spawn(async move {
                tokio::task::yield_now().await;
                release_tx.send(()).unwrap();
            });
            releaser.await.unwrap();
            submitter.await.unwrap();
            group.wait_async(&Context::background()).await.unwrap();
        });
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn wait_async_collects_every_error() {
    let rt = current_thread();
    let group = Group::builder().limit(2).queue(8).build().unwrap();
    rt.block_on(async {
        for i in 0..10 {
            group
                .go_async(move || match i % 3 {
                    0 => Err(format!("task {i}").into()),
                    _ => Ok(()),
                })
                .await;
        }
        let err = group.wait_async(&Context::background()).await.unwrap_err();
        assert_eq!(err.errors().len(), 4);
        assert_eq!(err.to_string(), "4 of 10 tasks failed");
        // Collected: the next wait is clean.
        assert!(group.wait_async(&Context::background()).await.is_ok());
    });
}

#[test]
fn a_context_ends_a_tasks_wait_for_the_group() {
    within(Duration::from_secs(60), || {
        let rt = current_thread();
        let group = Group::builder().limit(1).build().unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        group.spawn(move || release_rx.recv().unwrap());
        rt.block_on(async {
            let ctx = Context::background().with_timeout(Duration::from_millis(5));
            let err = group.wait_async(&ctx).await.unwrap_err();
            assert_eq!(err.interrupted(), Some(Error::DeadlineExceeded));
            assert_eq!(err.unfinished(), 1);
        });
        release_tx.send(()).unwrap();
        group.wait(&Context::background()).unwrap();
    });
}

#[test]
fn a_dropped_submission_counts_nothing() {
    let group = Group::builder().limit(1).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    group.spawn(move || release_rx.recv().unwrap());
    let dropped = Arc::new(AtomicUsize::new(0));
    {
        struct Dropped(Arc<AtomicUsize>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let witness = Dropped(dropped.clone());
        let fut = group.spawn_async(move || drop(witness));
        let mut fut = Box::pin(fut);
        let waker = std::task::Waker::noop();
        let polled = fut
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(polled.is_pending(), "full: it waits");
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the task went with the future"
    );
    release_tx.send(()).unwrap();
    group.wait(&Context::background()).unwrap();
}
