//! The benchmark workloads of concur, next to their anchors (std,
//! parking_lot, tokio, async-lock, crossbeam, rayon), in one registry that
//! both the criterion benches (`benches/`) and the report binary
//! (`src/bin/report.rs`, which writes `BENCHMARKS.md`) run.
//!
//! A [`Case`] is a closure in criterion's `iter_custom` shape: given an
//! iteration count, it runs that many iterations and returns the time they
//! took. A [`Group`] is the cases that answer one question, the first of
//! them concur's; ratios in the report are concur's time over each anchor's.

use std::time::{Duration, Instant};

pub mod anchors;
pub mod condvar;
pub mod contended;
pub mod deadlines;
pub mod debug_cost;
pub mod fanout;
pub mod latency;
pub mod measure;
pub mod pool;
pub mod previous;
pub mod render;
pub mod sizes;
pub mod soak_plot;
pub mod task_latency;
pub mod tasks;
pub mod uncontended;
pub mod waits;

/// One measured thing: `run(iters)` performs `iters` iterations and
/// returns how long they took.
pub struct Case {
    /// Short name, unique in its group (`concur`, `std`, `parking_lot`, ...).
    pub name: &'static str,
    /// The workload.
    pub run: Box<dyn FnMut(u64) -> Duration>,
}

/// Cases that answer one question, concur's first.
pub struct Group {
    /// The criterion group name (`mutex_uncontended`, ...).
    pub name: &'static str,
    /// What one iteration is, for the report.
    pub iteration: &'static str,
    /// The cases; `cases[0]` is concur's.
    pub cases: Vec<Case>,
}

impl Group {
    /// A group named `name` whose iteration is described by `iteration`.
    pub fn new(name: &'static str, iteration: &'static str) -> Self {
        Self {
            name,
            iteration,
            cases: Vec::new(),
        }
    }

    /// Adds a case.
    pub fn case(mut self, name: &'static str, run: impl FnMut(u64) -> Duration + 'static) -> Self {
        self.cases.push(Case {
            name,
            run: Box::new(run),
        });
        self
    }
}

/// Runs `op` `iters` times on this thread and returns the time taken.
#[inline]
pub fn time(iters: u64, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    start.elapsed()
}

/// The groups measured as time per iteration (all but the latencies).
pub fn throughput_groups() -> Vec<Group> {
    let mut groups = uncontended::groups();
    groups.extend(pool::groups());
    groups.extend(deadlines::groups());
    groups.extend(contended::groups());
    groups.extend(condvar::groups());
    groups.extend(fanout::groups());
    groups.extend(tasks::groups());
    groups
}

/// Every group.
pub fn all_groups() -> Vec<Group> {
    let mut groups = throughput_groups();
    groups.extend(latency::groups());
    groups
}

/// The groups whose name starts with `prefix` (for one criterion bench file).
pub fn groups_named(prefix: &str) -> Vec<Group> {
    all_groups()
        .into_iter()
        .filter(|g| g.name.starts_with(prefix))
        .collect()
}
