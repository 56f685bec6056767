//! The public face of the statistics: [`stats`], a sorted snapshot of
//! [`SiteStats`], and [`report`], which emits it through `tracing`.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::time::Duration;

use super::{totals, Totals, HOLD_BUCKETS, WAIT_BUCKETS};

/// The contention statistics of one lock site: every acquisition made at
/// that `file:line:column`, of whichever lock.
///
/// Waits are timed with the clock, and only when the acquisition had to
/// wait (an uncontended one reads no clock); they include waits that ended
/// with the context (cancelled, deadline) rather than with the lock. Holds
/// are timed with the watchdog's tick, so they have a millisecond's
/// resolution: a hold under a tick counts in the first bucket and adds
/// nothing to the totals.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SiteStats {
    /// Where the lock was acquired.
    pub site: &'static Location<'static>,
    /// `"mutex"`, `"rwlock"` or `"semaphore"`.
    pub kind: &'static str,
    /// Acquisitions made here (of every kind: `lock`, `try_lock`,
    /// `*_async`, ...; a condvar wait's re-lock, a downgrade and a permit
    /// `split` each begin a hold too), counted when their hold ends: a
    /// hold in progress is not counted yet, nor a permit guard dropped on
    /// another thread than the one that took it. Each is in
    /// [`hold_histogram`](Self::hold_histogram).
    pub acquisitions: u64,
    /// Waits: acquisitions that found the lock taken and blocked (or
    /// awaited), whatever the outcome.
    pub waits: u64,
    /// Time spent in those waits.
    pub wait_total: Duration,
    /// The longest of them.
    pub wait_max: Duration,
    /// Their total duration, in whole ticks (ms).
    pub hold_total: Duration,
    /// The longest of them.
    pub hold_max: Duration,
    /// Waits by duration, in microseconds.
    pub wait_histogram: Histogram,
    /// Holds by duration, in milliseconds.
    pub hold_histogram: Histogram,
}

/// Counts by duration in power-of-two buckets: `[0, 1)` units, then
/// `[1, 2)`, `[2, 4)`, ... and a last, open-ended bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    unit: Duration,
    counts: Vec<u64>,
}

impl Histogram {
    /// The count in each bucket.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Bucket `i`'s bounds: from the first, up to the second (excluded;
    /// `None` for the last bucket).
    pub fn bounds(&self, i: usize) -> (Duration, Option<Duration>) {
        let low = if i == 0 { 0 } else { 1u32 << (i - 1) };
        let high = (i + 1 < self.counts.len()).then(|| self.unit * (1u32 << i));
        (self.unit * low, high)
    }

    /// The sum of the counts.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The non-empty buckets, as `<1µs:120 1µs-2µs:3 ... >=4.19s:1`.
impl fmt::Display for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (i, &count) in self.counts.iter().enumerate().filter(|(_, &c)| c > 0) {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            match self.bounds(i) {
                (low, Some(high)) if low.is_zero() => write!(f, "<{high:?}:{count}")?,
                (low, Some(high)) => write!(f, "{low:?}-{high:?}:{count}")?,
                (low, None) => write!(f, ">={low:?}:{count}")?,
            }
        }
        Ok(())
    }
}

/// A snapshot of every lock site's statistics since the process started,
/// the sites with the most time spent waiting first (then the most
/// acquired).
///
/// ```
/// # #[cfg(concur_debug)] {
/// use concur_sync::{debug, Mutex};
///
/// let m = Mutex::new(0);
/// *m.lock() += 1;
/// let line = line!() - 1;
/// let site = debug::stats().into_iter().find(|s| s.site.line() == line).unwrap();
/// assert_eq!((site.kind, site.acquisitions, site.waits), ("mutex", 1, 0));
/// # }
/// ```
pub fn stats() -> Vec<SiteStats> {
    // Sites that are the same place (generic code can make several
    // `Location`s of one call) add up.
    let mut merged: HashMap<(&str, u32, u32), Totals> = HashMap::new();
    for t in totals() {
        let key = (t.site.file(), t.site.line(), t.site.column());
        match merged.get_mut(&key) {
            Some(sum) => sum.merge(&t),
            None => {
                merged.insert(key, t);
            }
        }
    }
    let mut sites: Vec<SiteStats> = merged.into_values().map(SiteStats::from).collect();
    sites.sort_by(|a, b| {
        (b.wait_total, b.acquisitions, a.site.file(), a.site.line()).cmp(&(
            a.wait_total,
            a.acquisitions,
            b.site.file(),
            b.site.line(),
        ))
    });
    sites
}

/// Emits [`stats`] as one `tracing` INFO event per site
/// ("lock site contention"), in the same order.
pub fn report() {
    for s in stats() {
        tracing::info!(
            site = %format_args!("{}:{}", s.site.file(), s.site.line()),
            kind = s.kind,
            acquisitions = s.acquisitions,
            waits = s.waits,
            wait_total = ?s.wait_total,
            wait_max = ?s.wait_max,
            hold_total = ?s.hold_total,
            hold_max = ?s.hold_max,
            wait_hist = %s.wait_histogram,
            hold_hist = %s.hold_histogram,
            "lock site contention"
        );
    }
}

impl Totals {
    fn merge(&mut self, other: &Totals) {
        let [acq, waits, wait_ns, wait_max, hold_ms, hold_max] = &mut self.counts;
        let [o_acq, o_waits, o_wait_ns, o_wait_max, o_hold_ms, o_hold_max] = other.counts;
        *acq += o_acq;
        *waits += o_waits;
        *wait_ns = wait_ns.saturating_add(o_wait_ns);
        *wait_max = (*wait_max).max(o_wait_max);
        *hold_ms += o_hold_ms;
        *hold_max = (*hold_max).max(o_hold_max);
        for (t, o) in self.wait_hist.iter_mut().zip(other.wait_hist) {
            *t += o;
        }
        for (t, o) in self.hold_hist.iter_mut().zip(other.hold_hist) {
            *t += o;
        }
    }
}

impl From<Totals> for SiteStats {
    fn from(t: Totals) -> Self {
        let [acquisitions, waits, wait_ns, wait_max, hold_ms, hold_max] = t.counts;
        Self {
            site: t.site,
            kind: t.kind,
            acquisitions,
            waits,
            wait_total: Duration::from_nanos(wait_ns),
            wait_max: Duration::from_nanos(wait_max),
            hold_total: Duration::from_millis(hold_ms),
            hold_max: Duration::from_millis(hold_max),
            wait_histogram: Histogram {
                unit: Duration::from_micros(1),
                counts: t.wait_hist[..WAIT_BUCKETS].to_vec(),
            },
            hold_histogram: Histogram {
                unit: Duration::from_millis(1),
                counts: t.hold_hist[..HOLD_BUCKETS].to_vec(),
            },
        }
    }
}
