//! The debug-mode machinery (built only with `--cfg concur_debug`): each
//! lock's lazily created heap state, the registry of those states, and the
//! watchdog thread that scans them and emits the events described in the
//! [module docs](super).

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

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

#[inline]
fn now_tick() -> u64 {
    TICK_MS.load(Ordering::Relaxed)
}

/// The heap state of one debug lock.
pub(crate) struct LockState {
    kind: &'static str,
    holder: AtomicPtr<Location<'static>>,
    /// Tick at acquisition + 1; 0 while free.
    held_since: AtomicU64,
    /// Read holds (rwlock only): the first reader's tick + 1 in the high
    /// 40 bits and the number of readers in the low 24, in one word so that
    /// a last reader leaving cannot clear a new first reader's stamp.
    reads: AtomicU64,
    /// Tick before which no new "held too long" event is sent.
    next_report: AtomicU64,
    waiters: StdMutex<Vec<Waiting>>,
}

struct Waiting {
    id: u64,
    site: &'static Location<'static>,
    since: u64,
    next_report: u64,
}

/// The reader-count bits of `LockState::reads`.
const READERS: u64 = (1 << 24) - 1;

impl LockState {
    /// Tick + 1 at which the current hold began (exclusive, else read); 0 if
    /// free.
    fn since(&self) -> u64 {
        match self.held_since.load(Ordering::Acquire) {
            0 => self.reads.load(Ordering::Acquire) >> 24,
            since => since,
        }
    }
    /// Records a new holder at `site`, held from the current tick.
    #[inline]
    fn stamp(&self, site: &'static Location<'static>) {
        self.holder
            .store(site as *const _ as *mut _, Ordering::Relaxed);
        self.next_report.store(0, Ordering::Relaxed);
        self.held_since.store(now_tick() + 1, Ordering::Release);
    }
}

/// The per-lock debug field: empty until the lock is first used.
pub(crate) struct LockDebug {
    state: OnceLock<Arc<LockState>>,
}

impl LockDebug {
    pub(crate) const fn new() -> Self {
        Self {
            state: OnceLock::new(),
        }
    }

    fn state(&self, kind: &'static str) -> &LockState {
        self.state.get_or_init(|| {
            let state = Arc::new(LockState {
                kind,
                holder: AtomicPtr::new(ptr::null_mut()),
                held_since: AtomicU64::new(0),
                reads: AtomicU64::new(0),
                next_report: AtomicU64::new(0),
                waiters: StdMutex::new(Vec::new()),
            });
            register(&state);
            state
        })
    }

    /// The lock was taken exclusively (mutex, write lock) at `site`.
    #[inline]
    pub(crate) fn acquired(&self, kind: &'static str, site: &'static Location<'static>) {
        self.state(kind).stamp(site);
    }

    /// The exclusive holder released the lock.
    #[inline]
    pub(crate) fn released(&self) {
        if let Some(state) = self.state.get() {
            state.held_since.store(0, Ordering::Release);
        }
    }

    /// A read lock was taken at `site`; the first reader stands for all.
    #[inline]
    pub(crate) fn read_acquired(&self, site: &'static Location<'static>) {
        let state = self.state("rwlock");
        let reads = state
            .reads
            .fetch_update(Ordering::Release, Ordering::Relaxed, |reads| {
                Some(match reads & READERS {
                    0 => ((now_tick() + 1) << 24) | 1,
                    _ => reads + 1,
                })
            })
            .unwrap_or_else(|prev| prev); // the closure never refuses
        if reads & READERS == 0 {
            state
                .holder
                .store(site as *const _ as *mut _, Ordering::Relaxed);
            state.next_report.store(0, Ordering::Relaxed);
        }
    }

    /// A read lock was released.
    #[inline]
    pub(crate) fn read_released(&self) {
        if let Some(state) = self.state.get() {
            // The last reader out clears the stamp with the count.
            let _ = state
                .reads
                .fetch_update(Ordering::Release, Ordering::Relaxed, |reads| {
                    Some(if reads & READERS <= 1 { 0 } else { reads - 1 })
                });
        }
    }

    /// A thread at `site` is about to wait; it stops counting when the
    /// returned guard drops.
    pub(crate) fn waiting(
        &self,
        kind: &'static str,
        site: &'static Location<'static>,
    ) -> WaitingGuard<'_> {
        static IDS: AtomicU64 = AtomicU64::new(0);
        let state = self.state(kind);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        lock(&state.waiters).push(Waiting {
            id,
            site,
            since: now_tick(),
            next_report: 0,
        });
        WaitingGuard { state, id }
    }
}

/// A registered waiter; deregisters on drop.
pub(crate) struct WaitingGuard<'a> {
    state: &'a LockState,
    id: u64,
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.state.waiters).retain(|w| w.id != self.id);
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn registry() -> &'static StdMutex<Vec<Weak<LockState>>> {
    static REGISTRY: OnceLock<StdMutex<Vec<Weak<LockState>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn register(state: &Arc<LockState>) {
    start();
    threshold();
    lock(registry()).push(Arc::downgrade(state));
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
    loop {
        let threshold = threshold().as_millis() as u64;
        // A tick fine enough for the threshold, coarse enough to cost nothing.
        let tick = (threshold / 10).clamp(1, 100);
        thread::sleep(Duration::from_millis(tick));
        let now = start().elapsed().as_millis() as u64;
        TICK_MS.store(now, Ordering::Relaxed);
        let states: Vec<Arc<LockState>> = {
            let mut registry = lock(registry());
            registry.retain(|w| w.strong_count() > 0);
            registry.iter().filter_map(Weak::upgrade).collect()
        };
        for state in &states {
            for report in scan(state, now, threshold, tick) {
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

fn holder_of(state: &LockState) -> Option<&'static Location<'static>> {
    let site = state.holder.load(Ordering::Relaxed);
    // SAFETY: only ever set from `&'static Location`s.
    (!site.is_null()).then(|| unsafe { &*site })
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

fn scan(state: &LockState, now: u64, threshold: u64, tick: u64) -> Vec<Report> {
    let mut reports = Vec::new();
    let since = state.since();
    let holder = holder_of(state);
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
        let held = now.saturating_sub(since - 1).saturating_sub(tick);
        let due = state.next_report.load(Ordering::Relaxed);
        if held >= threshold
            && now >= due
            && state
                .next_report
                .compare_exchange(due, now + held, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // Repeats only once the duration has doubled.
            reports.push(Report::Held {
                holder: Site(holder),
                held,
                waiters: waiters.len(),
            });
        }
    }
    for w in waiters.iter_mut() {
        let waited = now.saturating_sub(w.since).saturating_sub(tick);
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
