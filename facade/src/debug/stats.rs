//! Contention statistics per lock site (the `#[track_caller]` site of the
//! acquisition): acquisitions, waits and holds, with power-of-two
//! histograms.
//!
//! Each thread counts into a shard of its own, which only it writes (plain
//! loads and stores, no read-modify-write on a lock's path); a snapshot
//! sums the shards under the registry's lock. A thread that exits folds
//! its shard into the retired totals.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use super::state::Mode;
use super::watch;

/// Wait buckets, in microseconds: `[0, 1)`, then `[2^(b-1), 2^b)`, the last
/// open-ended (from about 4 s).
pub const WAIT_BUCKETS: usize = 24;
/// Hold buckets, in milliseconds (the watchdog's tick), likewise; the last
/// from about 16 s.
pub const HOLD_BUCKETS: usize = 16;
/// Sites one thread's shard has room for; more go to a shared table.
const SLOTS: usize = 256;

/// One site's counters in one shard, written by one thread at a time.
struct Slot {
    site: &'static Location<'static>,
    kind: &'static str,
    waits: AtomicU64,
    wait_ns: AtomicU64,
    wait_max_ns: AtomicU64,
    hold_ms: AtomicU64,
    hold_max_ms: AtomicU64,
    wait_hist: [AtomicU64; WAIT_BUCKETS],
    hold_hist: [AtomicU64; HOLD_BUCKETS],
}

/// Adds to a counter only its shard's thread writes: no atomic RMW.
#[inline]
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

#[inline]
fn raise(max: &AtomicU64, value: u64) {
    if value > max.load(Ordering::Relaxed) {
        max.store(value, Ordering::Relaxed);
    }
}

/// The bucket of `value` (in the histogram's unit).
#[inline]
fn bucket(value: u64, buckets: usize) -> usize {
    ((u64::BITS - value.leading_zeros()) as usize).min(buckets - 1)
}

impl Slot {
    fn new(site: &'static Location<'static>, kind: &'static str) -> Self {
        Self {
            site,
            kind,
            waits: AtomicU64::new(0),
            wait_ns: AtomicU64::new(0),
            wait_max_ns: AtomicU64::new(0),
            hold_ms: AtomicU64::new(0),
            hold_max_ms: AtomicU64::new(0),
            wait_hist: std::array::from_fn(|_| AtomicU64::new(0)),
            hold_hist: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// One thread's counters: an open-addressed table keyed by site address.
struct Shard {
    slots: Box<[AtomicPtr<Slot>]>,
}

impl Shard {
    fn slot(&self, site: &'static Location<'static>, kind: &'static str) -> Option<&Slot> {
        let key = site as *const Location<'static> as usize;
        let home = (key >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
        for probe in 0..SLOTS {
            let slot = &self.slots[(home + probe) % SLOTS];
            let p = slot.load(Ordering::Acquire);
            if p.is_null() {
                let new = Box::into_raw(Box::new(Slot::new(site, kind)));
                slot.store(new, Ordering::Release);
                // SAFETY: just made; freed only with the shard.
                return Some(unsafe { &*new });
            }
            // SAFETY: a slot pointer, once stored, lives as long as the shard.
            let found = unsafe { &*p };
            if ptr::eq(found.site, site) {
                return Some(found);
            }
        }
        None
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter_map(|p| {
            // SAFETY: as in `slot`.
            unsafe { p.load(Ordering::Acquire).as_ref() }
        })
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        for p in self.slots.iter() {
            let p = p.load(Ordering::Acquire);
            if !p.is_null() {
                // SAFETY: made by `Box::into_raw` in `slot`, freed once here.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// Shards of running threads, and the sums of exited threads' (and of
/// sites that did not fit in a shard).
#[derive(Default)]
struct Registry {
    shards: Vec<Arc<Shard>>,
    retired: HashMap<usize, Totals>,
}

static REGISTRY: StdMutex<Option<Registry>> = StdMutex::new(None);

/// A thread's shard (made on its first count), with the last site it
/// counted (a lock's acquisition and release count at the same site).
pub(super) struct ShardHandle {
    shard: OnceCell<Arc<Shard>>,
    last: Cell<(*const Location<'static>, *const Slot)>,
}

impl ShardHandle {
    pub(super) const fn new() -> Self {
        Self {
            shard: OnceCell::new(),
            last: Cell::new((ptr::null(), ptr::null())),
        }
    }

    #[inline]
    fn slot(&self, site: &'static Location<'static>, kind: &'static str) -> Option<&Slot> {
        let (last_site, last_slot) = self.last.get();
        if ptr::eq(last_site, site) {
            // SAFETY: a slot of this thread's shard, which lives as long as
            // the handle.
            return Some(unsafe { &*last_slot });
        }
        self.look_up(site, kind)
    }

    /// `slot` past its one-entry cache.
    #[cold]
    #[inline(never)]
    fn look_up(&self, site: &'static Location<'static>, kind: &'static str) -> Option<&Slot> {
        let shard = self.shard.get_or_init(|| {
            let shard = Arc::new(Shard {
                slots: (0..SLOTS)
                    .map(|_| AtomicPtr::new(ptr::null_mut()))
                    .collect(),
            });
            let mut registry = watch::lock(&REGISTRY);
            let registry = registry.get_or_insert_with(Registry::default);
            registry.shards.push(shard.clone());
            shard
        });
        let slot = shard.slot(site, kind)?;
        self.last.set((site, slot));
        Some(slot)
    }
}

impl Drop for ShardHandle {
    fn drop(&mut self) {
        let Some(shard) = self.shard.take() else {
            return;
        };
        let mut registry = watch::lock(&REGISTRY);
        let registry = registry.get_or_insert_with(Registry::default);
        registry.shards.retain(|s| !Arc::ptr_eq(s, &shard));
        for slot in shard.slots() {
            registry.total(slot.site, slot.kind).add(slot);
        }
    }
}

/// Counts into the thread's slot for `site`: through `handle`, or (a full
/// shard, a thread being torn down) under the registry's lock.
#[inline]
fn with_slot(
    handle: Option<&ShardHandle>,
    site: &'static Location<'static>,
    kind: &'static str,
    count: impl Fn(&Slot),
) {
    match handle.and_then(|h| h.slot(site, kind)) {
        Some(slot) => count(slot),
        None => count_shared(site, kind, &count),
    }
}

#[cold]
fn count_shared(site: &'static Location<'static>, kind: &'static str, count: &dyn Fn(&Slot)) {
    let slot = Slot::new(site, kind);
    count(&slot);
    let mut registry = watch::lock(&REGISTRY);
    let registry = registry.get_or_insert_with(Registry::default);
    registry.total(site, kind).add(&slot);
}

pub(super) fn waited(
    h: Option<&ShardHandle>,
    site: &'static Location<'static>,
    kind: &'static str,
    waited: Duration,
) {
    let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
    with_slot(h, site, kind, |s| {
        bump(&s.waits, 1);
        bump(&s.wait_ns, ns);
        raise(&s.wait_max_ns, ns);
        bump(&s.wait_hist[bucket(ns / 1000, WAIT_BUCKETS)], 1);
    });
}

#[inline]
/// A hold begun at `site` ended after `ms` ticks: counts it, in its
/// histogram bucket (the acquisitions of a site are its ended holds:
/// counting them here, at the end, keeps the acquisition's path free of
/// statistics).
pub(super) fn held(h: Option<&ShardHandle>, site: &'static Location<'static>, mode: Mode, ms: u64) {
    match h.and_then(|h| h.slot(site, mode.kind())) {
        Some(slot) => held_in(slot, ms),
        None => count_shared(site, mode.kind(), &|slot| held_in(slot, ms)),
    }
}

#[inline]
fn held_in(s: &Slot, ms: u64) {
    if ms == 0 {
        bump(&s.hold_hist[0], 1);
    } else {
        bump(&s.hold_hist[bucket(ms, HOLD_BUCKETS)], 1);
        bump(&s.hold_ms, ms);
        raise(&s.hold_max_ms, ms);
    }
}

/// Plain sums of slots.
#[derive(Clone)]
struct Totals {
    site: &'static Location<'static>,
    kind: &'static str,
    counts: [u64; 6],
    wait_hist: [u64; WAIT_BUCKETS],
    hold_hist: [u64; HOLD_BUCKETS],
}

impl Totals {
    fn new(site: &'static Location<'static>, kind: &'static str) -> Self {
        Self {
            site,
            kind,
            counts: [0; 6],
            wait_hist: [0; WAIT_BUCKETS],
            hold_hist: [0; HOLD_BUCKETS],
        }
    }

    fn add(&mut self, s: &Slot) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let [acq, waits, wait_ns, wait_max, hold_ms, hold_max] = &mut self.counts;
        // Every ended hold is in one bucket: the acquisitions are their sum.
        *acq += s.hold_hist.iter().map(load).sum::<u64>();
        *waits += load(&s.waits);
        *wait_ns = wait_ns.saturating_add(load(&s.wait_ns));
        *wait_max = (*wait_max).max(load(&s.wait_max_ns));
        *hold_ms += load(&s.hold_ms);
        *hold_max = (*hold_max).max(load(&s.hold_max_ms));
        for (t, c) in self.wait_hist.iter_mut().zip(&s.wait_hist) {
            *t += load(c);
        }
        for (t, c) in self.hold_hist.iter_mut().zip(&s.hold_hist) {
            *t += load(c);
        }
    }
}

impl Registry {
    fn total(&mut self, site: &'static Location<'static>, kind: &'static str) -> &mut Totals {
        self.retired
            .entry(site as *const _ as usize)
            .or_insert_with(|| Totals::new(site, kind))
    }
}

mod snapshot;
pub use snapshot::{report, stats, Histogram, SiteStats};

/// Every site's totals now, one per site address.
fn totals() -> Vec<Totals> {
    let mut registry = watch::lock(&REGISTRY);
    let registry = registry.get_or_insert_with(Registry::default);
    let mut sums = registry.retired.clone();
    for shard in &registry.shards {
        for slot in shard.slots() {
            sums.entry(slot.site as *const _ as usize)
                .or_insert_with(|| Totals::new(slot.site, slot.kind))
                .add(slot);
        }
    }
    sums.into_values().collect()
}
