//! Fan-out: 10,000 tiny tasks, at most 2 at a time (the machine's cores),
//! waited for together. One iteration is the whole fan-out.
//!
//! * `concur_group`: a `Group` with `limit(2)`, built once (its 2 workers are
//!   reused), `go` per task then `wait`.
//! * `concur_scope`: `GroupBuilder::scope` with `limit(2)` per fan-out
//!   (starts its workers each time).
//! * `rayon_scope`: `rayon::scope` on rayon's global pool, a `spawn` per task.
//! * `thread_per_task`: `std::thread::scope`, one thread per task.
//! * `floor_atomic_index`: this thread and one helper pull task indices from
//!   one atomic counter: no queue, no per-task allocation.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use concur_sync::{Context, Group as TaskGroup};

use crate::{time, Group};

/// Tasks per fan-out.
pub const TASKS: usize = 10_000;

/// The work of one task: a few nanoseconds.
#[inline]
pub fn task(i: usize) {
    black_box(black_box(i).wrapping_mul(0x9E37_79B9));
}

/// The fan-out group.
pub fn groups() -> Vec<Group> {
    let group = TaskGroup::builder().limit(2).build().expect("limit 2");
    vec![
        Group::new("fanout_10000", "10,000 tiny tasks, at most 2 at a time")
            .case("concur_group", move |n| {
                time(n, || {
                    for i in 0..TASKS {
                        group.spawn(move || task(i));
                    }
                    group.wait(&Context::background()).unwrap();
                })
            })
            .case("concur_scope", |n| {
                time(n, || {
                    TaskGroup::builder()
                        .limit(2)
                        .scope(|s| {
                            for i in 0..TASKS {
                                s.spawn(move || task(i));
                            }
                        })
                        .expect("limit 2")
                        .unwrap();
                })
            })
            .case("rayon_scope", |n| {
                time(n, || {
                    rayon::scope(|s| {
                        for i in 0..TASKS {
                            s.spawn(move |_| task(i));
                        }
                    })
                })
            })
            .case("thread_per_task", |n| {
                time(n, || {
                    std::thread::scope(|s| {
                        // Joined, not dropped: dropping a handle detaches
                        // the thread, and glibc 2.36's pthread_detach can
                        // read the descriptor of a thread that is exiting
                        // and freeing it at that moment (a report run
                        // segfaulted there; oneTBB#1758 saw the same).
                        let handles: Vec<_> =
                            (0..TASKS).map(|i| s.spawn(move || task(i))).collect();
                        for handle in handles {
                            handle.join().unwrap();
                        }
                    })
                })
            })
            .case("floor_atomic_index", |n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    let next = AtomicUsize::new(0);
                    let work = || loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= TASKS {
                            break;
                        }
                        task(i);
                    };
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        s.spawn(work);
                        work();
                    });
                    total += start.elapsed();
                }
                total
            }),
    ]
}
