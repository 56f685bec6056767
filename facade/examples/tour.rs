//! A guided tour of concur. Run it with
//!
//! ```sh
//! cargo run --release --example tour
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use concur::{Context, Error, Mutex, Semaphore, WaitGroup};

fn main() -> Result<(), Error> {
    println!("concur tour\n===========\n");
    store_with_lock_ctx()?;
    bounded_fetches()?;
    deadline_ends_a_blocked_acquire();
    cancel_reaches_every_waiter();
    println!("\nDone.");
    Ok(())
}

/// A store guarded by a mutex: `lock_ctx` gives up when the caller's
/// context ends instead of waiting forever behind a stuck holder.
fn store_with_lock_ctx() -> Result<(), Error> {
    println!("1. A store guarded by a Mutex, locked with a context");
    let store = Mutex::new(HashMap::new());
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
    store.lock_ctx(&ctx)?.insert("user:42", "ada");
    println!("   inserted user:42 under lock_ctx (1 s budget)");

    let held = store.lock();
    let (short, _c) = Context::background().with_timeout(Duration::from_millis(50));
    let start = Instant::now();
    let err = store.lock_ctx(&short).unwrap_err();
    println!(
        "   while another holder keeps the lock, lock_ctx with a 50 ms budget returns \
         `{err}` after {:.0?}",
        start.elapsed()
    );
    drop(held);
    println!("   the store still has {} entry\n", store.lock().len());
    Ok(())
}

/// A weighted semaphore bounds how many fetches run at once; a wait group
/// waits for all of them.
fn bounded_fetches() -> Result<(), Error> {
    println!("2. A Semaphore bounding parallel fetches, with a WaitGroup");
    let limit = Arc::new(Semaphore::new(3));
    let wg = Arc::new(WaitGroup::new());
    let running = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ctx = Context::background();
    for url in 0..12 {
        let permit = limit.clone().acquire_owned(&ctx, 1)?;
        wg.add(1);
        let (wg, running, peak) = (wg.clone(), running.clone(), peak.clone());
        thread::spawn(move || {
            use std::sync::atomic::Ordering::SeqCst;
            let now = running.fetch_add(1, SeqCst) + 1;
            peak.fetch_max(now, SeqCst);
            thread::sleep(Duration::from_millis(5 + url % 4)); // the "fetch"
            running.fetch_sub(1, SeqCst);
            drop(permit);
            wg.done();
        });
    }
    wg.wait_ctx(&ctx)?;
    println!(
        "   12 fetches done, at most {} at a time (limit 3)\n",
        peak.load(std::sync::atomic::Ordering::SeqCst)
    );
    Ok(())
}

/// A deadline delivered to a thread blocked in `acquire`.
fn deadline_ends_a_blocked_acquire() {
    println!("3. A deadline that ends a blocked acquire");
    let sem = Semaphore::new(1);
    let _held = sem.try_acquire(1).expect("free");
    let (ctx, _c) = Context::background().with_timeout(Duration::from_millis(30));
    let start = Instant::now();
    let err = sem.acquire(&ctx, 1).unwrap_err();
    println!(
        "   acquire returned `{err}` after {:.1?} (deadline 30 ms)",
        start.elapsed()
    );
    println!(
        "   asking for more permits than exist fails at once: `{}`\n",
        sem.acquire(&Context::background(), 5).unwrap_err()
    );
}

/// One cancel wakes every thread blocked with the context, on any primitive.
fn cancel_reaches_every_waiter() {
    println!("4. One cancel reaches every waiter");
    let m = Arc::new(Mutex::new(()));
    let sem = Arc::new(Semaphore::new(1));
    let _permit = sem.try_acquire(1).expect("free");
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let _held = m.lock();
    let (ctx, cancel) = Context::background().with_cancel();
    let waiters = vec![
        ("mutex", {
            let (m, ctx) = (m.clone(), ctx.clone());
            thread::spawn(move || m.lock_ctx(&ctx).map(drop))
        }),
        ("semaphore", {
            let (s, ctx) = (sem.clone(), ctx.clone());
            thread::spawn(move || s.acquire(&ctx, 1).map(drop))
        }),
        ("wait group", {
            let (w, ctx) = (wg.clone(), ctx.clone());
            thread::spawn(move || w.wait_ctx(&ctx))
        }),
    ];
    cancel.cancel();
    for (name, waiter) in waiters {
        println!(
            "   {name:<10} -> {:?}",
            waiter.join().expect("waiter panicked")
        );
    }
    wg.done();
}
