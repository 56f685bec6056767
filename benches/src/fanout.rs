//! Fan-out: 10,000 tiny tasks, at most 2 at a time (the machine's cores),
//! waited for together. One iteration is the whole fan-out.
//!
//! * `concur_group`: a `Group` with `limit(2)` and `queue(1024)`, built
//!   once (its 2 workers are reused), `spawn` per task then `wait`.
//! * `concur_scope`: `GroupBuilder::scope` with `limit(2)` and
//!   `queue(1024)` per fan-out (starts its workers each time).
//! * `rayon_scope`: `rayon::scope` on rayon's global pool, a `spawn` per task.
//! * `thread_per_task`: `std::thread::scope`, one thread per task.
//! * `floor_atomic_index`: this thread and one helper pull task indices from
//!   one atomic counter: no queue, no per-task allocation.
//!
//! `fanout_100x10us`: 100 tasks of 10 µs of busy work each, at most 2 at a
//! time, on a group whose workers are already started, vs the floor (two
//! started threads doing 50 tasks each directly). Not next to rayon: its
//! idle workers yield in a loop for a while after a scope, and took half the
//! cores from whichever case ran next (the floor measured 2x its own).

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use concur_sync::{Context, Group as TaskGroup};

use crate::{time, Group};

/// Tasks per fan-out.
pub const TASKS: usize = 10_000;

/// The groups' queue beyond the running tasks (`GroupBuilder::queue`): the
/// submitter runs up to this far ahead of the workers.
pub const QUEUE: usize = 1024;

/// The work of one task: a few nanoseconds.
#[inline]
pub fn task(i: usize) {
    black_box(black_box(i).wrapping_mul(0x9E37_79B9));
}

/// Tasks in the `fanout_100x10us` fan-out, and the work of each.
pub const WORK_TASKS: usize = 100;
/// The work of one `fanout_100x10us` task.
pub const WORK: Duration = Duration::from_micros(10);

/// Busy for `WORK`: a task that keeps its core, like real work.
pub fn work() {
    let start = Instant::now();
    while start.elapsed() < WORK {
        std::hint::spin_loop();
    }
}

/// The fan-out groups.
pub fn groups() -> Vec<Group> {
    vec![tiny(), working()]
}

/// 100 tasks of 10 µs on a group whose 2 workers are already started, vs
/// the floor: 2 threads already running, each doing half the tasks
/// directly (total work ÷ 2, plus one wake-up).
fn working() -> Group {
    let group = TaskGroup::builder()
        .limit(2)
        .queue(QUEUE)
        .build()
        .expect("limit 2");
    // Start both workers.
    for _ in 0..2 {
        group.spawn(work);
    }
    group.wait(&Context::background()).unwrap();
    let floor = Floor::start();
    Group::new(
        "fanout_100x10us",
        "100 tasks of 10 µs, at most 2 at a time, workers already started",
    )
    .case("concur_group", move |n| {
        time(n, || {
            for _ in 0..WORK_TASKS {
                group.spawn(work);
            }
            group.wait(&Context::background()).unwrap();
        })
    })
    .case("floor_two_threads", move |n| {
        time(n, || floor.run(WORK_TASKS / 2))
    })
}

/// Two parked threads that each run `k` tasks of `WORK` when told to: the
/// floor of `fanout_100x10us`.
struct Floor {
    go: std::sync::Arc<[std::sync::Barrier; 2]>,
    tasks: std::sync::Arc<AtomicUsize>,
}

impl Floor {
    fn start() -> Self {
        let go = std::sync::Arc::new([std::sync::Barrier::new(3), std::sync::Barrier::new(3)]);
        let tasks = std::sync::Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let (go, tasks) = (go.clone(), tasks.clone());
            std::thread::spawn(move || loop {
                go[0].wait();
                for _ in 0..tasks.load(Ordering::Relaxed) {
                    work();
                }
                go[1].wait();
            });
        }
        Self { go, tasks }
    }

    /// Both threads run `k` tasks; returns when both are done.
    fn run(&self, k: usize) {
        self.tasks.store(k, Ordering::Relaxed);
        self.go[0].wait();
        self.go[1].wait();
    }
}

fn tiny() -> Group {
    let build = || {
        TaskGroup::builder()
            .limit(2)
            .queue(QUEUE)
            .build()
            .expect("limit 2")
    };
    let (group, batch) = (build(), build());
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
                    .queue(QUEUE)
                    .scope(|s| {
                        for i in 0..TASKS {
                            s.spawn(move || task(i));
                        }
                    })
                    .expect("limit 2")
                    .unwrap();
            })
        })
        .case("concur_group_spawn_all", move |n| {
            time(n, || {
                batch.spawn_all((0..TASKS).map(|i| move || task(i)));
                batch.wait(&Context::background()).unwrap();
            })
        })
        .case("concur_scope_spawn_all", |n| {
            time(n, || {
                TaskGroup::builder()
                    .limit(2)
                    .queue(QUEUE)
                    .scope(|s| {
                        s.spawn_all((0..TASKS).map(|i| move || task(i)));
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
                    let handles: Vec<_> = (0..TASKS).map(|i| s.spawn(move || task(i))).collect();
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
        })
}
