//! Each primitive: behaviour, cancellation and deadline while blocked (the
//! call fails with the right error and the resource is untouched), an
//! already-ended context, and bad input.

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::{
    Context, Error, Mutex, Once, Pool, RwLock, Semaphore, TryAcquireError, WaitGroup, MAX_PERMITS,
};

const HANG: Duration = Duration::from_secs(60);

/// Runs `blocked` on a thread with a cancellable context, cancels it once the
/// thread is (very likely) blocked, and returns what the call returned.
/// Correctness does not depend on the thread being blocked already: a call
/// that starts after the cancel fails the same way.
fn cancel_while_blocked<T: Send + 'static>(
    blocked: impl FnOnce(&Context) -> T + Send + 'static,
) -> T {
    let (ctx, cancel) = Context::background().with_cancel();
    let (started_tx, started_rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        started_tx.send(()).unwrap();
        blocked(&ctx)
    });
    started_rx.recv_timeout(HANG).unwrap();
    cancel.cancel();
    handle.join().unwrap()
}

fn ended() -> Context {
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    ctx
}

fn short_deadline() -> Context {
    Context::background().with_timeout(Duration::from_millis(20))
}

#[test]
fn mutex_lock_ctx() {
    let m = Arc::new(Mutex::new(0u64));
    *m.lock_ctx(&Context::background()).unwrap() += 1;
    assert!(
        m.lock_ctx(&ended()).is_err(),
        "an ended context fails even on a free lock"
    );
    assert_eq!(m.lock_ctx(&ended()).err(), Some(Error::Cancelled));

    let held = m.lock();
    let m2 = m.clone();
    let r = cancel_while_blocked(move |ctx| m2.lock_ctx(ctx).map(|_| ()));
    assert_eq!(r, Err(Error::Cancelled));
    let ctx = short_deadline();
    let start = Instant::now();
    assert_eq!(m.lock_ctx(&ctx).err(), Some(Error::DeadlineExceeded));
    assert!(start.elapsed() >= Duration::from_millis(19));
    drop(held);
    // Untouched: still usable, value intact.
    assert_eq!(*m.try_lock().expect("lock free after the failed waits"), 1);
    let mut m = Arc::try_unwrap(m).unwrap();
    *m.get_mut() += 1;
    assert_eq!(m.into_inner(), 2);
}

#[test]
fn mutex_no_poisoning() {
    let m = Arc::new(Mutex::new(vec![1]));
    let m2 = m.clone();
    let _ = thread::spawn(move || {
        let mut g = m2.lock();
        g.push(2);
        panic!("while holding the lock");
    })
    .join();
    assert_eq!(*m.lock(), [1, 2]);
}

#[test]
fn rwlock_ctx_forms() {
    let l = Arc::new(RwLock::new(1));
    assert_eq!(*l.read_ctx(&Context::background()).unwrap(), 1);
    assert!(l.read_ctx(&ended()).is_err());
    assert!(l.write_ctx(&ended()).is_err());
    {
        let w = l.write();
        let l2 = l.clone();
        assert_eq!(
            cancel_while_blocked(move |ctx| l2.read_ctx(ctx).map(|_| ())),
            Err(Error::Cancelled)
        );
        let ctx = short_deadline();
        assert_eq!(l.write_ctx(&ctx).err(), Some(Error::DeadlineExceeded));
        drop(w);
    }
    {
        let r = l.read();
        let l2 = l.clone();
        assert_eq!(
            cancel_while_blocked(move |ctx| l2.write_ctx(ctx).map(|_| ())),
            Err(Error::Cancelled)
        );
        // The cancelled writer left nothing behind: readers still get in.
        assert!(l.try_read().is_some());
        drop(r);
    }
    *l.write_ctx(&Context::background()).unwrap() = 2;
    assert_eq!(*l.read(), 2);
}

#[test]
fn semaphore_acquire_ctx() {
    let sem = Arc::new(Semaphore::new(3));
    let ctx = Context::background();
    let p = sem.acquire(&ctx, 2).unwrap();
    assert_eq!(p.num_permits(), 2);
    assert_eq!(
        sem.acquire(&ended(), 1).err(),
        Some(Error::Cancelled),
        "ended context, free permits"
    );
    let s2 = sem.clone();
    assert_eq!(
        cancel_while_blocked(move |ctx| s2.acquire(ctx, 3).map(|_| ())),
        Err(Error::Cancelled)
    );
    let dctx = short_deadline();
    assert_eq!(sem.acquire(&dctx, 2).err(), Some(Error::DeadlineExceeded));
    // The failed waits took nothing: the 1 free permit is still there.
    assert_eq!(sem.available(), 1);
    drop(p);
    assert_eq!(sem.available(), 3);
}

#[test]
fn semaphore_bad_input() {
    let sem = Semaphore::new(3);
    let ctx = Context::background();
    assert_eq!(
        sem.acquire(&ctx, MAX_PERMITS + 1).err(),
        Some(Error::TooLarge {
            requested: MAX_PERMITS + 1,
            capacity: 3
        }),
        "only what no semaphore can hold is refused at once"
    );
    // More than exist now waits (here until the deadline).
    let soon = ctx.with_timeout(Duration::from_millis(5));
    assert_eq!(sem.acquire(&soon, 4).err(), Some(Error::DeadlineExceeded));
    assert_eq!(sem.waiters(), 0, "the ended wait left");
    let zero = Semaphore::new(0);
    assert!(
        zero.acquire(&ctx, 0).is_ok(),
        "zero permits are granted when nobody is queued"
    );
    sem.close();
    assert_eq!(sem.acquire(&ctx, 1).err(), Some(Error::Closed));
    assert_eq!(sem.try_acquire(1).err(), Some(TryAcquireError::Closed));
}

#[test]
#[should_panic(expected = "released more permits than were acquired")]
fn semaphore_release_more_than_held_panics() {
    let sem = Semaphore::new(2);
    let p = sem.try_acquire(1).unwrap();
    sem.release(2);
    drop(p);
}

#[test]
fn semaphore_close_wakes_waiters() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire(1).unwrap();
    let (tx, rx) = mpsc::channel();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let (sem, tx) = (sem.clone(), tx.clone());
            thread::spawn(move || {
                tx.send(sem.acquire(&Context::background(), 1).err())
                    .unwrap()
            })
        })
        .collect();
    // Whether a waiter queued before the close or arrives after it, it must
    // end with Closed: the close wakes the queue and refuses newcomers.
    sem.close();
    for _ in 0..4 {
        assert_eq!(rx.recv_timeout(HANG).unwrap(), Some(Error::Closed));
    }
    for w in waiters {
        w.join().unwrap();
    }
    drop(held);
    assert_eq!(sem.available(), 1);
}

#[test]
fn semaphore_permits_forget_leak_and_owned() {
    let sem = Arc::new(Semaphore::new(4));
    let ctx = Context::background();
    sem.acquire(&ctx, 1).unwrap().forget();
    assert_eq!((sem.available(), sem.capacity()), (3, 3));
    let n = sem.acquire(&ctx, 2).unwrap().leak();
    assert_eq!(sem.available(), 1);
    sem.release(n);
    let owned = sem.clone().acquire_owned(&ctx, 3).unwrap();
    assert_eq!(
        sem.clone().try_acquire_owned(1).err(),
        Some(TryAcquireError::NoPermits)
    );
    thread::spawn(move || drop(owned)).join().unwrap();
    assert_eq!(sem.available(), 3);
    sem.add_permits(2);
    assert_eq!(sem.forget_permits(10), 5);
    assert_eq!(sem.capacity(), 0);
}

#[test]
fn wait_group_wait_ctx() {
    let wg = Arc::new(WaitGroup::new());
    assert!(wg.wait_ctx(&Context::background()).is_ok());
    assert_eq!(
        wg.wait_ctx(&ended()),
        Err(Error::Cancelled),
        "ended context fails even at zero"
    );
    wg.add(2);
    let w2 = wg.clone();
    assert_eq!(
        cancel_while_blocked(move |ctx| w2.wait_ctx(ctx)),
        Err(Error::Cancelled)
    );
    let ctx = short_deadline();
    assert_eq!(wg.wait_ctx(&ctx), Err(Error::DeadlineExceeded));
    assert_eq!(wg.count(), 2, "failed waits change nothing");
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let wg = wg.clone();
            thread::spawn(move || wg.done())
        })
        .collect();
    wg.wait_ctx(&Context::background()).unwrap();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
#[should_panic(expected = "concur-sync: WaitGroup::done() with the count already at zero")]
fn wait_group_negative_count_panics() {
    WaitGroup::new().done();
}

#[test]
fn once_init_forms() {
    let once: Once<u32> = Once::new();
    assert_eq!(once.get(), None);
    assert_eq!(once.get_or_try_init(|| Err::<u32, _>("nope")), Err("nope"));
    assert_eq!(once.get(), None, "a failed init leaves it empty");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        once.get_or_init(|| panic!("init panics"));
    }));
    assert!(panicked.is_err());
    assert_eq!(once.get(), None, "a panicking init leaves it empty");
    assert_eq!(*once.get_or_init(|| 7), 7);
    assert_eq!(*once.get_or_init(|| 8), 7);
    assert_eq!(
        once.get_or_init_ctx(&ended(), || 9),
        Ok(&7),
        "a set value ignores the context"
    );
    assert_eq!(once.into_inner(), Some(7));
}

#[test]
fn once_ctx_gives_up_waiting_for_a_slow_initializer() {
    let once = Arc::new(Once::<u32>::new());
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (running_tx, running_rx) = mpsc::channel::<()>();
    let runner = {
        let once = once.clone();
        thread::spawn(move || {
            *once.get_or_init(|| {
                running_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                1
            })
        })
    };
    running_rx.recv_timeout(HANG).unwrap();
    let ctx = short_deadline();
    assert_eq!(
        once.get_or_init_ctx(&ctx, || 2),
        Err(Error::DeadlineExceeded)
    );
    release_tx.send(()).unwrap();
    assert_eq!(runner.join().unwrap(), 1);
    assert_eq!(once.get(), Some(&1));
}

#[test]
fn pool_reuses_resets_and_bounds() {
    let pool = Pool::new(|| Vec::<u32>::with_capacity(16))
        .with_reset(|v| v.clear())
        .with_max_idle(2);
    {
        let mut a = pool.get();
        a.push(1);
        let _b = pool.get();
        let _c = pool.get();
    }
    assert_eq!(
        pool.idle(),
        2,
        "3 objects came back to one shard that keeps 2"
    );
    let again = pool.get();
    assert!(again.is_empty(), "reset ran");
    assert_eq!(again.capacity(), 16, "an object was reused");
    let kept = again.into_inner();
    assert_eq!(kept.capacity(), 16);
    let none = Pool::new(|| 0u8).with_max_idle(0);
    drop(none.get());
    assert_eq!(none.idle(), 0);
}
