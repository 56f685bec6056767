//! Uncontended costs: one thread, nobody else touching the primitive.
//!
//! * `mutex_uncontended`: lock+unlock (with an increment) vs std,
//!   parking_lot and the floor (one compare-exchange, one release store);
//!   `lock_ctx` with a background and with a live context.
//! * `rwlock_read` / `rwlock_write`: vs std and parking_lot.
//! * `semaphore_uncontended`: acquire(1)+release vs tokio's and
//!   async-lock's `try_acquire` and a `Mutex` + `Condvar` semaphore.
//! * `wait_group_100`: 100 add/done then wait vs crossbeam's `WaitGroup`
//!   (a clone per task) and a bare atomic counter.
//! * `once_get_1024`: the initialized fast path, read through 1,024 cells
//!   per iteration, each read naming the next cell (one read per iteration,
//!   or an independent sum, measured where the loop landed in the binary),
//!   vs `std::sync::OnceLock` and `LazyLock`.
//! * `context_with_cancel`: `with_cancel` + `cancel` (no anchor).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex as StdMutex, OnceLock};

use concur_sync::Context;

use crate::anchors::CondvarSemaphore;
use crate::{time, Group};

/// The uncontended groups.
pub fn groups() -> Vec<Group> {
    vec![
        mutex(),
        rwlock_read(),
        rwlock_write(),
        semaphore(),
        wait_group(),
        once(),
        context(),
    ]
}

fn mutex() -> Group {
    let concur = concur_sync::Mutex::new(0u64);
    let ctx_bg = concur_sync::Mutex::new(0u64);
    let ctx_live = concur_sync::Mutex::new(0u64);
    let (live, cancel) = Context::background().with_cancel();
    let std = StdMutex::new(0u64);
    let pl = parking_lot::Mutex::new(0u64);
    let floor = AtomicU32::new(0);
    Group::new("mutex_uncontended", "lock, increment, unlock")
        .case("concur", move |n| {
            time(n, || *black_box(&concur).lock() += 1)
        })
        .case("std", move |n| {
            time(n, || *black_box(&std).lock().unwrap() += 1)
        })
        .case("parking_lot", move |n| {
            time(n, || *black_box(&pl).lock() += 1)
        })
        .case("concur_lock_ctx_background", move |n| {
            let bg = Context::background();
            time(n, || *black_box(&ctx_bg).lock_ctx(&bg).unwrap() += 1)
        })
        .case("concur_lock_ctx_live", move |n| {
            let _keep = &cancel;
            time(n, || *black_box(&ctx_live).lock_ctx(&live).unwrap() += 1)
        })
        .case("floor_cas_store", move |n| {
            time(n, || {
                let word = black_box(&floor);
                while word
                    .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {}
                word.store(0, Ordering::Release);
            })
        })
}

fn rwlock_read() -> Group {
    let concur = concur_sync::RwLock::new(0u64);
    let std = std::sync::RwLock::new(0u64);
    let pl = parking_lot::RwLock::new(0u64);
    Group::new("rwlock_read", "read lock, load, unlock")
        .case("concur", move |n| {
            time(n, || _ = *black_box(&concur).read())
        })
        .case("std", move |n| {
            time(n, || _ = *black_box(&std).read().unwrap())
        })
        .case("parking_lot", move |n| {
            time(n, || _ = *black_box(&pl).read())
        })
}

fn rwlock_write() -> Group {
    let concur = concur_sync::RwLock::new(0u64);
    let std = std::sync::RwLock::new(0u64);
    let pl = parking_lot::RwLock::new(0u64);
    Group::new("rwlock_write", "write lock, increment, unlock")
        .case("concur", move |n| {
            time(n, || *black_box(&concur).write() += 1)
        })
        .case("std", move |n| {
            time(n, || *black_box(&std).write().unwrap() += 1)
        })
        .case("parking_lot", move |n| {
            time(n, || *black_box(&pl).write() += 1)
        })
}

fn semaphore() -> Group {
    let concur = concur_sync::Semaphore::new(8);
    let concur_ctx = concur_sync::Semaphore::new(8);
    let tokio = tokio::sync::Semaphore::new(8);
    let al = async_lock::Semaphore::new(8);
    let cv = CondvarSemaphore::new(8);
    Group::new("semaphore_uncontended", "acquire 1 permit, release it")
        .case("concur_try_acquire", move |n| {
            time(n, || drop(black_box(&concur).try_acquire(1).unwrap()))
        })
        .case("concur_acquire_background", move |n| {
            let bg = Context::background();
            time(n, || drop(black_box(&concur_ctx).acquire(&bg, 1).unwrap()))
        })
        .case("tokio_try_acquire", move |n| {
            time(n, || drop(black_box(&tokio).try_acquire().unwrap()))
        })
        .case("async_lock_try_acquire", move |n| {
            time(n, || drop(black_box(&al).try_acquire().unwrap()))
        })
        .case("mutex_condvar", move |n| {
            time(n, || {
                let s = black_box(&cv);
                s.acquire();
                s.release();
            })
        })
}

fn wait_group() -> Group {
    Group::new("wait_group_100", "100 add/done, then wait")
        .case("concur", |n| {
            time(n, || {
                let wg = concur_sync::WaitGroup::new();
                for _ in 0..100 {
                    wg.add(1);
                    black_box(&wg).done();
                }
                wg.wait();
            })
        })
        .case("crossbeam", |n| {
            time(n, || {
                let wg = crossbeam_utils::sync::WaitGroup::new();
                for _ in 0..100 {
                    drop(black_box(wg.clone()));
                }
                wg.wait();
            })
        })
        .case("floor_atomic", |n| {
            time(n, || {
                let count = AtomicU64::new(0);
                for _ in 0..100 {
                    count.fetch_add(1, Ordering::Relaxed);
                    black_box(&count).fetch_sub(1, Ordering::Release);
                }
                while count.load(Ordering::Acquire) != 0 {}
            })
        })
}

/// Cells read per `once_get_1024` iteration.
const CELLS: usize = 1024;

/// Where each cell of `once_get_1024` points: a fixed permutation of the
/// cells in one cycle (stride 389, coprime with 1,024).
fn next_cell(i: usize) -> u64 {
    ((i + 389) % CELLS) as u64
}

/// Follows the cells' chain for one round: each read decides the next, so
/// the time is the reads' latency, not where the loop landed in the binary
/// (an independent sum over the cells moved 2x with the loop's alignment).
#[inline(always)]
fn chase(cells: usize, read: impl Fn(usize) -> u64) {
    let mut at = 0;
    for _ in 0..cells {
        at = read(at) as usize;
    }
    black_box(at);
}

fn once() -> Group {
    let concur: Box<[concur_sync::Once<u64>]> = (0..CELLS)
        .map(|i| concur_sync::Once::from(next_cell(i)))
        .collect();
    let std: Box<[OnceLock<u64>]> = (0..CELLS).map(|i| OnceLock::from(next_cell(i))).collect();
    // A `LazyLock`'s initializer is a plain `fn` here (as in a `static`), so
    // the cells are the same size as the others: each is forced as it is
    // made, and the initializer numbers them in that order.
    static FORCED: AtomicUsize = AtomicUsize::new(0);
    fn in_order() -> u64 {
        next_cell(FORCED.fetch_add(1, Ordering::Relaxed) % CELLS)
    }
    let lazy: Box<[LazyLock<u64>]> = (0..CELLS)
        .map(|_| {
            let cell = LazyLock::new(in_order as fn() -> u64);
            LazyLock::force(&cell);
            cell
        })
        .collect();
    Group::new(
        "once_get_1024",
        "read 1,024 initialized cells, each read naming the next",
    )
    .case("concur", move |n| {
        let cells = black_box(&concur[..]);
        time(n, || chase(CELLS, |i| *cells[i].get_or_init(|| 0)))
    })
    .case("std_once_lock", move |n| {
        let cells = black_box(&std[..]);
        time(n, || chase(CELLS, |i| *cells[i].get_or_init(|| 0)))
    })
    .case("std_lazy_lock", move |n| {
        let cells = black_box(&lazy[..]);
        time(n, || chase(CELLS, |i| *LazyLock::force(&cells[i])))
    })
}

fn context() -> Group {
    let (parent, keep) = Context::background().with_cancel();
    Group::new(
        "context_with_cancel",
        "derive a cancellable child, cancel it",
    )
    .case("concur", move |n| {
        let _keep = &keep;
        time(n, || {
            let (ctx, cancel) = black_box(&parent).with_cancel();
            cancel.cancel();
            black_box(ctx);
        })
    })
}
