//! How the report binary measures: calibrated, round-robin samples of a
//! [`Group`](crate::Group)'s cases (each round starting with the next case;
//! median per iteration), and latency
//! distributions with quantiles.

use std::time::Duration;

use crate::Case;

/// How long and how often the report measures.
pub struct Settings {
    /// Samples per throughput case.
    pub samples: usize,
    /// The time one sample should take (the case is calibrated to it).
    pub target: Duration,
    /// Ping-pong round trips per wake-up distribution.
    pub pings: usize,
    /// Cancellations per cancel-latency distribution.
    pub cancels: usize,
    /// Blocked calls per deadline-overshoot distribution.
    pub deadlines: usize,
    /// Acquisitions per thread in a contended lock-wait distribution (the
    /// first thread to reach it stops them all).
    pub lock_waits: usize,
}

/// A measured case: median nanoseconds per iteration.
pub struct Measured {
    /// The case's name.
    pub name: &'static str,
    /// Median nanoseconds per iteration.
    pub ns: f64,
}

/// A measured group: its cases, in the group's order.
pub struct GroupResult {
    /// The group's name.
    pub name: &'static str,
    /// What one iteration is.
    pub iteration: &'static str,
    /// Its cases, measured.
    pub cases: Vec<Measured>,
}

impl GroupResult {
    /// The median nanoseconds of case `case`.
    pub fn ns(&self, case: &str) -> f64 {
        self.cases
            .iter()
            .find(|c| c.name == case)
            .unwrap_or_else(|| panic!("no case {case} in {}", self.name))
            .ns
    }
}

/// A latency distribution: single events, sorted.
pub struct Distribution {
    /// The series name in the report.
    pub name: &'static str,
    /// What one sample is.
    pub what: &'static str,
    /// The samples, smallest first.
    pub sorted: Vec<Duration>,
}

impl Distribution {
    /// A distribution of `samples`.
    pub fn new(name: &'static str, what: &'static str, mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self {
            name,
            what,
            sorted: samples,
        }
    }
    /// The sample at quantile `q` (0.5: the median).
    pub fn quantile(&self, q: f64) -> Duration {
        let i = ((self.sorted.len() - 1) as f64 * q).round() as usize;
        self.sorted[i]
    }
}

/// The median of `values` (sorts them).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Finds an iteration count whose run takes at least `target`.
pub fn calibrate(case: &mut Case, target: Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let took = (case.run)(iters);
        if took >= target || iters >= 1 << 40 {
            return iters;
        }
        let scale = if took.is_zero() {
            16.0
        } else {
            (target.as_secs_f64() / took.as_secs_f64() * 1.2).clamp(2.0, 16.0)
        };
        iters = ((iters as f64) * scale).ceil() as u64;
    }
}

/// Calibrates every case of `group`, then samples them round-robin, each
/// round starting one case later.
pub fn measure_group(group: crate::Group, settings: &Settings) -> GroupResult {
    let mut cases = group.cases;
    let iters: Vec<u64> = cases
        .iter_mut()
        .map(|c| calibrate(c, settings.target))
        .collect();
    let mut samples = vec![Vec::with_capacity(settings.samples); cases.len()];
    let n = cases.len();
    for round in 0..settings.samples {
        // Each round starts with the next case: no case always runs first
        // (after the previous group, or after the calibration) or always
        // right after the same neighbour.
        for k in 0..n {
            let i = (round + k) % n;
            let took = (cases[i].run)(iters[i]);
            samples[i].push(took.as_nanos() as f64 / iters[i] as f64);
        }
    }
    GroupResult {
        name: group.name,
        iteration: group.iteration,
        cases: cases
            .iter()
            .zip(samples.iter_mut())
            .map(|(case, s)| Measured {
                name: case.name,
                ns: median(s),
            })
            .collect(),
    }
}
