//! One hammer operation each: a short critical section or hand-off under a
//! random context, with the counts `Hammered::check` adds up.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::Duration;

use concur_sync::{Context, Group, Once, WaitGroup};
use futures_lite::future;

use super::{Chore, Hammered, PERMITS};
use crate::harness::rng::Rng;

/// A few instructions to a few hundred inside a critical section.
fn busy(rng: &mut Rng) {
    for _ in 0..rng.below(64) {
        std::hint::spin_loop();
    }
}

/// The update the mutex and the rwlock guard: both fields by one, with
/// `between` in the middle (where a torn update would show), and the count
/// of updates that `Hammered::check` compares them with.
fn update(fields: &mut (u64, u64), updates: &AtomicU64, between: impl FnOnce()) {
    fields.0 += 1;
    between();
    fields.1 += 1;
    updates.fetch_add(1, Relaxed);
}

pub(super) fn mutex(h: &Hammered, ctx: &Context, rng: &mut Rng) {
    if let Ok(mut fields) = h.mutex.lock_ctx(ctx) {
        update(&mut fields, &h.mutex_ok, || busy(rng));
    }
}

pub(super) fn rwlock(h: &Hammered, ctx: &Context, rng: &mut Rng) {
    if rng.chance(30) {
        if let Ok(mut fields) = h.rwlock.write_ctx(ctx) {
            update(&mut fields, &h.rwlock_ok, || busy(rng));
        }
    } else if let Ok(fields) = h.rwlock.read_ctx(ctx) {
        busy(rng);
        if fields.0 != fields.1 {
            h.torn_reads.fetch_add(1, Relaxed);
        }
    }
}

/// Weighted acquires, split permits dropped in either order, owned permits
/// released on the helper thread, and forgotten permits added back.
pub(super) fn semaphore(h: &Hammered, ctx: &Context, rng: &mut Rng, chores: &mpsc::Sender<Chore>) {
    let n = 1 + rng.below(PERMITS);
    match rng.below(4) {
        0 => {
            if let Ok(mut permit) = h.semaphore.acquire(ctx, n) {
                busy(rng);
                let part = permit.split(rng.below(n + 1));
                if rng.chance(50) {
                    drop(permit);
                    drop(part);
                }
            }
        }
        1 => {
            if let Ok(permit) = h.semaphore.clone().acquire_owned(ctx, n) {
                let _ = chores.send(Chore::Drop(Box::new(permit)));
            }
        }
        2 => {
            if let Ok(permit) = h.semaphore.acquire(ctx, n) {
                permit.forget();
                h.semaphore.add_permits(n);
            }
        }
        _ => drop(h.semaphore.try_acquire(n)),
    }
}

/// A counted queue: producers add and notify one, consumers wait (for at
/// most 2 ms, or less if the context ends first) for something to take.
pub(super) fn condvar(h: &Hammered, ctx: &Context, rng: &mut Rng) {
    if rng.chance(50) {
        *h.queue.lock() += 1;
        h.produced.fetch_add(1, Relaxed);
        h.queue_ready.notify_one();
        return;
    }
    let ctx = ctx.with_timeout(Duration::from_millis(2));
    let Ok(queue) = h.queue.lock_ctx(&ctx) else {
        return;
    };
    let (mut queue, outcome) = h.queue_ready.wait_while_ctx(&ctx, queue, |q| *q == 0);
    if outcome.is_ok() {
        *queue -= 1;
        h.consumed.fetch_add(1, Relaxed);
    }
}

/// An awaiting wait raced against a few yields: when the yields win, the
/// wait's future is dropped mid-wait (or just after its grant).
pub(super) async fn dropped_futures(h: &Hammered, ctx: &Context, rng: &mut Rng) {
    let yields = rng.below(8);
    let give_up = async {
        for _ in 0..yields {
            future::yield_now().await;
        }
    };
    match rng.below(3) {
        0 => {
            let n = 1 + rng.below(PERMITS);
            future::or(
                async { drop(h.semaphore.acquire_async(ctx, n).await) },
                give_up,
            )
            .await
        }
        1 => {
            let lock = async {
                if let Ok(mut fields) = h.mutex.lock_async(ctx).await {
                    update(&mut fields, &h.mutex_ok, || {});
                }
            };
            future::or(lock, give_up).await
        }
        _ => {
            let write = async {
                if let Ok(mut fields) = h.rwlock.write_async(ctx).await {
                    update(&mut fields, &h.rwlock_ok, || {});
                }
            };
            future::or(write, give_up).await
        }
    }
}

pub(super) fn pool(h: &Hammered, rng: &mut Rng) {
    let mut first = h.pool.get();
    first.extend_from_slice(b"soak");
    let second = rng.chance(50).then(|| h.pool.get());
    if rng.chance(50) {
        drop(first);
        drop(second);
    }
}

/// Three scoped tasks race to initialise a `Once` (some inits fail), each
/// marking a `WaitGroup` done; the caller waits on the group under its
/// context. Every successful caller must see the one stored value.
pub(super) fn once_and_wait_group(h: &Hammered, ctx: &Context, rng: &mut Rng) {
    let once = Once::<u64>::new();
    let wait_group = WaitGroup::new();
    let fails: Vec<bool> = (0..3).map(|_| rng.chance(30)).collect();
    let seen = concur_sync::Mutex::new(Vec::new());
    let scoped = concur_sync::scope(|s| {
        for (i, &fail) in fails.iter().enumerate() {
            wait_group.add(1);
            let (once, wait_group, seen) = (&once, &wait_group, &seen);
            s.spawn(move || {
                let init = || if fail { Err(()) } else { Ok(i as u64) };
                if let Ok(v) = once.get_or_try_init(init) {
                    seen.lock().push(*v);
                }
                wait_group.done();
            });
        }
        let _ = wait_group.wait_ctx(ctx);
    });
    if let Err(e) = scoped {
        h.fail(format!("once scope failed: {e}"));
    }
    let stored = once.get().copied();
    if wait_group.count() != 0 || seen.lock().iter().any(|v| Some(*v) != stored) {
        h.fail(format!(
            "once/wait group: count {}, stored {stored:?}, seen {:?}",
            wait_group.count(),
            seen.lock()
        ));
    }
}

/// A group whose tasks succeed, fail or panic: the group must report each
/// failure, panics as panics.
pub(super) fn group(h: &Hammered, rng: &mut Rng) {
    let group = Group::builder().limit(2).build().expect("a valid limit");
    let (mut errors, mut panics) = (0, 0);
    for _ in 0..1 + rng.below(6) {
        match rng.below(3) {
            0 => group.go(|| Ok(())),
            1 => {
                errors += 1;
                group.go(|| Err("soak: injected task error".into()));
            }
            _ => {
                panics += 1;
                h.panics_injected.fetch_add(1, Relaxed);
                group.spawn(|| panic!("soak: injected task panic"));
            }
        }
    }
    let reported = match group.wait(&Context::background()) {
        Ok(()) => (0, 0),
        Err(e) => {
            let p = e.errors().iter().filter(|t| t.is_panic()).count() as u64;
            (e.failures() as u64, p)
        }
    };
    h.panics_reported.fetch_add(reported.1, Relaxed);
    if reported != (errors + panics, panics) {
        h.fail(format!(
            "group: injected {errors} errors and {panics} panics, reported {} failures, {} panics",
            reported.0, reported.1
        ));
    }
}
