//! Debug mode's lock order for futures: run with
//! `RUSTFLAGS="--cfg concur_debug" cargo test`.
//!
//! A future's hold orders the later acquisitions of the same task (told
//! apart by its waker), not those of other tasks the thread polls.

#![cfg(concur_debug)]

mod debug_events;

use std::sync::Arc;

use concur_sync::{Context, Mutex, RwLock, Semaphore};
use debug_events::{capture, Event};
use futures::channel::oneshot;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;

fn inversions_naming(lines: &[u32]) -> Vec<Event> {
    debug_events::inversions_naming(file!(), lines)
}

#[test]
fn a_task_taking_two_locks_is_ordered_like_a_thread() {
    capture();
    let a = Mutex::new(());
    let b = RwLock::new(());
    let ctx = Context::background();
    let (a_line, b_line) = futures::executor::block_on(async {
        let (_a, a_line) = (a.lock_async(&ctx).await.unwrap(), line!());
        let (_b, b_line) = (b.write_async(&ctx).await.unwrap(), line!());
        (a_line, b_line)
    });
    // A thread the other way round closes the cycle.
    let _b = b.write();
    let (_a, line) = (a.lock(), line!());
    let found = inversions_naming(&[a_line, b_line, line]);
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn another_task_on_the_same_thread_is_not_ordered_after_a_held_lock() {
    capture();
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Semaphore::new(1));
    let mut pool = LocalPool::new();
    let (release, released) = oneshot::channel::<()>();
    let (a1, b2) = (a.clone(), b.clone());
    // Task one holds `a` across an await...
    pool.spawner()
        .spawn_local(async move {
            let held = a1.lock_async(&Context::background()).await.unwrap();
            released.await.unwrap();
            drop(held);
        })
        .unwrap();
    // ...while task two, polled by the same thread, takes `b`.
    let b_line = line!() + 4;
    pool.spawner()
        .spawn_local(async move {
            let ctx = Context::background();
            let permit = b2.acquire_async(&ctx, 1).await.unwrap();
            drop(permit);
            release.send(()).unwrap();
        })
        .unwrap();
    pool.run();
    // Had task two's permit been ordered after task one's lock, this
    // would close a cycle.
    let _p = b.try_acquire(1).unwrap();
    let _a = a.lock();
    assert!(inversions_naming(&[b_line]).is_empty());
}
