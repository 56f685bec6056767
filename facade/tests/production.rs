//! Production builds (no `concur_debug`): no watchdog thread, whatever is used.

#![cfg(not(concur_debug))]

mod common;

use std::time::Duration;

use concur_sync::{Context, Group, Mutex, Once, Pool, RwLock, Semaphore, WaitGroup};

#[test]
#[cfg(target_os = "linux")]
fn no_watchdog_thread_after_using_every_primitive() {
    let ctx = Context::background().with_timeout(Duration::from_secs(60));
    let m = Mutex::new(0);
    *m.lock_ctx(&ctx).unwrap() += 1;
    let l = RwLock::new(0);
    *l.write_ctx(&ctx).unwrap() += 1;
    drop(l.read_ctx(&ctx).unwrap());
    let sem = Semaphore::new(2);
    drop(sem.acquire(&ctx, 2).unwrap());
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.wait_ctx(&ctx).unwrap();
    let once = Once::new();
    once.get_or_init_ctx(&ctx, || 1).unwrap();
    let pool = Pool::new(|| 0u8);
    drop(pool.get());
    let group = Group::builder().limit(2).build().unwrap();
    group.go(|| Ok(()));
    group.wait(&ctx).unwrap();
    let names = common::thread_names();
    assert!(
        names.iter().any(|n| n.starts_with("concur-group")),
        "sanity: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("concur-watchdog")),
        "watchdog in a production build: {names:?}"
    );
    assert_eq!(std::mem::size_of::<Mutex<()>>(), 4);
}
