//! The watchdog (built only with `--cfg concur_debug`): the registry of
//! every live lock's debug state, the coarse tick locks stamp their holds
//! with, and the thread that scans the states and emits the "held too
//! long" / "waiting too long" events described in the [module docs](super).

use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::state::LockState;
use crate::background::Background;

/// The environment variable that sets the threshold, in milliseconds.
pub const THRESHOLD_ENV: &str = "CONCUR_HOLD_THRESHOLD_MS";
const DEFAULT_THRESHOLD_MS: u64 = 5_000;

/// 0 until first read; then the threshold in ms.
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(0);
/// Milliseconds since `START`, published by the watchdog.
static TICK_MS: AtomicU64 = AtomicU64::new(0);
/// Completed watchdog scans (for tests that must see time pass).
static SCANS: AtomicU64 = AtomicU64::new(0);

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// The hold / wait threshold in force.
pub fn threshold() -> Duration {
    let mut ms = THRESHOLD_MS.load(Ordering::Relaxed);
    if ms == 0 {
        ms = std::env::var(THRESHOLD_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .unwrap_or(DEFAULT_THRESHOLD_MS);
        // Keep a value set from code in the meantime.
        ms = match THRESHOLD_MS.compare_exchange(0, ms, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => ms,
            Err(set) => set,
        };
    }
    Duration::from_millis(ms)
}

/// Sets the threshold (at least 1 ms) for every lock, from now on.
pub fn set_threshold(threshold: Duration) {
    let ms = u64::try_from(threshold.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    THRESHOLD_MS.store(ms, Ordering::Relaxed);
}

/// How many times the watchdog has scanned the locks. A test that must
/// see "a threshold passed with no event" waits for scans, not for a clock.
pub fn scans() -> u64 {
    SCANS.load(Ordering::Relaxed)
}

/// How often the tick is published, in ms (the resolution of hold times).
const TICK_MS_PERIOD: u64 = 1;

#[inline]
pub(super) fn now_tick() -> u64 {
    TICK_MS.load(Ordering::Relaxed)
}

/// A waiter registered with its lock's state.
pub(super) struct Waiting {
    pub(super) id: u64,
    pub(super) site: &'static Location<'static>,
    pub(super) since: u64,
    pub(super) next_report: u64,
}

pub(super) fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every live debug lock, by id (a lock's state leaves it when dropped).
fn registry() -> &'static StdMutex<HashMap<u64, Weak<LockState>>> {
    static REGISTRY: OnceLock<StdMutex<HashMap<u64, Weak<LockState>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The state of the live lock `id`, if it still lives.
pub(super) fn lookup(id: u64) -> Option<Arc<LockState>> {
    lock(registry()).get(&id).and_then(Weak::upgrade)
}

pub(super) fn unregister(id: u64) {
    lock(registry()).remove(&id);
}

pub(super) fn register(state: &Arc<LockState>) {
    start();
    threshold();
    lock(registry()).insert(state.id, Arc::downgrade(state));
    // A refused start is reported and retried by the next lock's first use;
    // until then nothing is reported as stuck (see `background`).
    static WATCHDOG: Background = Background::new();
    WATCHDOG.ensure("debug watchdog", || {
        thread::Builder::new()
            .name("concur-watchdog".into())
            .spawn(watchdog)
            .map(drop)
    });
}

/// Publishes the tick and reports stuck locks, forever.
fn watchdog() {
    let mut next_scan = 0;
    loop {
        // The tick every millisecond (the resolution of hold times); the
        // scan every tenth of the threshold, at most 100 ms.
        thread::sleep(Duration::from_millis(TICK_MS_PERIOD));
        let now = start().elapsed().as_millis() as u64;
        TICK_MS.store(now, Ordering::Relaxed);
        if now < next_scan {
            continue;
        }
        let threshold = threshold().as_millis() as u64;
        next_scan = now + (threshold / 10).clamp(1, 100);
        let states: Vec<Arc<LockState>> = lock(registry())
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for state in &states {
            for report in scan(state, now, threshold) {
                emit(state.kind, report);
            }
        }
        SCANS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A site as `file:line`, the form the events use.
#[derive(Clone, Copy)]
struct Site(&'static Location<'static>);

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0.file(), self.0.line())
    }
}

/// What a scan found; emitted after every lock is released, so a
/// subscriber that itself locks (even this very lock) cannot deadlock the
/// watchdog or the lock's waiters.
enum Report {
    Held {
        holder: Site,
        held: u64,
        waiters: usize,
    },
    Waiting {
        waiter: Site,
        holder: Option<Site>,
        waited: u64,
    },
}

fn scan(state: &LockState, now: u64, threshold: u64) -> Vec<Report> {
    let mut reports = Vec::new();
    let since = state.since();
    let holder = state.holder();
    // The holder may have changed between the two loads: skip this round
    // rather than pin one holder's time on another.
    let holder = if since != 0 && state.since() == since {
        holder
    } else {
        None
    };
    let mut waiters = lock(&state.waiters);
    if let Some(holder) = holder {
        // A lock stamps the last published tick: subtract one tick so a
        // duration is never overstated.
        let held = now.saturating_sub(since - 1).saturating_sub(TICK_MS_PERIOD);
        // Only this thread writes the report words. A hold that began
        // after the one last reported is due at once.
        let due = match state.reported_since.load(Ordering::Relaxed) == since {
            true => state.next_report.load(Ordering::Relaxed),
            false => 0,
        };
        if held >= threshold && now >= due {
            state.reported_since.store(since, Ordering::Relaxed);
            state.next_report.store(now + held, Ordering::Relaxed);
            // Repeats only once the duration has doubled.
            reports.push(Report::Held {
                holder: Site(holder),
                held,
                waiters: waiters.len(),
            });
        }
    }
    for w in waiters.iter_mut() {
        let waited = now.saturating_sub(w.since).saturating_sub(TICK_MS_PERIOD);
        if waited >= threshold && now >= w.next_report {
            w.next_report = now + waited;
            reports.push(Report::Waiting {
                waiter: Site(w.site),
                holder: holder.map(Site),
                waited,
            });
        }
    }
    reports
}

fn emit(kind: &str, report: Report) {
    let secs = |ms: u64| format!("{:.3}s", ms as f64 / 1000.0);
    match report {
        Report::Held {
            holder,
            held,
            waiters,
        } => tracing::warn!(
            holder = %holder,
            duration = %secs(held),
            waiters,
            "{kind} held too long"
        ),
        Report::Waiting {
            waiter,
            holder,
            waited,
        } => {
            let holder = holder.map_or_else(|| "none".to_string(), |h| h.to_string());
            tracing::warn!(
                waiter = %waiter,
                holder = %holder,
                duration = %secs(waited),
                "{kind} waiting too long"
            )
        }
    }
}
