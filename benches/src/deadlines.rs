//! What a deadline costs where none is needed, and what interrupts leave
//! behind.
//!
//! * `timeout_free`: a per-call timeout on a free lock (and a free permit)
//!   against parking_lot's `try_lock_for`, which reads no clock until it
//!   must wait; and `with_timeout` + `lock_ctx`, whose only extra cost
//!   should be the one clock read, against `Instant::now()` plus
//!   parking_lot's `try_lock_for`.
//! * `mutex_after_interrupts`: uncontended lock+unlock on a mutex that has
//!   seen 1,000 interrupted waiters (its word carries the interrupt epoch)
//!   against a fresh one.
//!
//! The overshoot of a blocked call's deadline is a distribution, in
//! `latency`.

use std::hint::black_box;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::Context;

use crate::{time, Group};

/// The deadline groups.
pub fn groups() -> Vec<Group> {
    vec![timeout_free(), mutex_after_interrupts()]
}

fn timeout_free() -> Group {
    const D: Duration = Duration::from_millis(5);
    let concur = concur_sync::Mutex::new(0u64);
    let concur_ctx = concur_sync::Mutex::new(0u64);
    let sem = concur_sync::Semaphore::new(1);
    let pl = parking_lot::Mutex::new(0u64);
    let pl_now = parking_lot::Mutex::new(0u64);
    Group::new(
        "timeout_free",
        "lock with a 5 ms timeout on a free lock, increment, unlock",
    )
    .case("concur_try_lock_for", move |n| {
        time(n, || *black_box(&concur).try_lock_for(D).unwrap() += 1)
    })
    .case("parking_lot_try_lock_for", move |n| {
        time(n, || *black_box(&pl).try_lock_for(D).unwrap() += 1)
    })
    .case("concur_semaphore_try_acquire_for", move |n| {
        time(n, || drop(black_box(&sem).try_acquire_for(1, D).unwrap()))
    })
    .case("concur_with_timeout_lock_ctx", move |n| {
        time(n, || {
            let ctx = Context::background().with_timeout(black_box(D));
            *black_box(&concur_ctx).lock_ctx(&ctx).unwrap() += 1;
        })
    })
    .case("now_plus_parking_lot_try_lock_for", move |n| {
        time(n, || {
            black_box(Instant::now());
            *black_box(&pl_now).try_lock_for(D).unwrap() += 1;
        })
    })
}

/// A mutex whose waiters were interrupted `count` times while blocked:
/// each time a thread blocks in `lock_ctx` behind the held lock and its
/// context is cancelled.
fn interrupted_mutex(count: usize) -> concur_sync::Mutex<u64> {
    let m = concur_sync::Mutex::new(0u64);
    let held = m.lock();
    thread::scope(|s| {
        let (ctx_tx, ctx_rx) = mpsc::channel::<Context>();
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let m = &m;
        s.spawn(move || {
            for ctx in ctx_rx {
                ready_tx.send(()).unwrap();
                assert!(m.lock_ctx(&ctx).is_err());
                done_tx.send(()).unwrap();
            }
        });
        for _ in 0..count {
            let (ctx, cancel) = Context::background().with_cancel();
            ctx_tx.send(ctx).unwrap();
            ready_rx.recv().unwrap();
            // Let it reach its sleep (a cancel before that bumps no epoch,
            // and the measurement below only needs most of them to).
            let until = Instant::now() + Duration::from_micros(50);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            cancel.cancel();
            done_rx.recv().unwrap();
        }
    });
    drop(held);
    m
}

fn mutex_after_interrupts() -> Group {
    let fresh = concur_sync::Mutex::new(0u64);
    let interrupted = interrupted_mutex(1000);
    Group::new(
        "mutex_after_interrupts",
        "lock, increment, unlock, after 1,000 interrupted waiters",
    )
    .case("concur_after_1000_interrupts", move |n| {
        time(n, || *black_box(&interrupted).lock() += 1)
    })
    .case("concur_fresh", move |n| {
        time(n, || *black_box(&fresh).lock() += 1)
    })
}
