//! Each thread's stack of the debug locks it holds, and the checks an
//! acquisition makes against it: order edges (handed to `order`) and
//! recursive reads.
//!
//! Rust has no hook that runs when a guard moves, so a hold is pushed on
//! the stack of the thread that acquires and popped by the thread that
//! releases, if it finds it there. A guard that moved to another thread
//! leaves its entry behind; the entry carries the hold's token, and a
//! stale one is dropped the next time the thread checks it (see
//! [`LockState::holds`]). Entries of a future's holds carry the task's
//! waker: they order only that task's later acquisitions (a thread runs
//! many tasks, and a library cannot see which one polls).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::panic::Location;
use std::sync::Mutex as StdMutex;
use std::task::Waker;
use std::time::Duration;

use super::order::{self, Inversion};
use super::stack::{HeldLock, Hold, Stack};
use super::state::{How, LockState, Mode};
use super::stats::{self, ShardHandle};
use super::watch;

/// Pairs (held id, acquired id) this thread already put in the graph.
type Seen = HashSet<(u64, u64), BuildHasherDefault<PairHasher>>;
/// A cache, cleared when it grows past this.
const SEEN_CAP: usize = 4096;
/// Deepest stack before stale entries are looked for (it then doubles).
const COMPACT_AT: usize = 16;

struct Thread {
    held: Stack,
    seen: RefCell<Option<Seen>>,
    compact_at: Cell<usize>,
    stats: ShardHandle,
}

thread_local! {
    static THREAD: Thread = const {
        Thread {
            held: Stack::new(),
            seen: RefCell::new(None),
            compact_at: Cell::new(COMPACT_AT),
            stats: ShardHandle::new(),
        }
    };
}

/// Whether a hold of `mode` counts in the site statistics (a run of an
/// initializer or a group task is not a lock).
#[inline]
fn counted(mode: Mode) -> bool {
    !matches!(mode, Mode::Once | Mode::Group)
}

/// A wait at `site` ended: counts it in this thread's statistics.
pub(super) fn waited(site: &'static Location<'static>, kind: &'static str, waited: Duration) {
    let counted = THREAD.try_with(|t| stats::waited(Some(&t.stats), site, kind, waited));
    if counted.is_err() {
        stats::waited(None, site, kind, waited);
    }
}

/// What a check found; emitted once every borrow and lock is let go, so a
/// subscriber may itself lock.
enum Report {
    Inversion(Inversion),
    RecursiveRead {
        held: &'static Location<'static>,
        site: &'static Location<'static>,
    },
}

/// A hold of `state` began: checks it (unless `how` cannot block) and
/// pushes it. (Its statistics are counted when it ends, in one place.)
/// Inlined: a thread's hold onto an empty stack is a few stores.
#[inline(always)]
pub(super) fn push(
    state: &LockState,
    mode: Mode,
    token: u64,
    site: &'static Location<'static>,
    now: u64,
    how: How<'_>,
) {
    let lock = HeldLock {
        id: state.id,
        token,
        site,
        since: now as u32,
        mode,
    };
    let checked = match how {
        How::Task(_) => return push_slow(state, lock, how),
        How::Try => false,
        How::Thread | How::ThreadRecursive => true,
    };
    let pushed = THREAD.try_with(|t| t.held.try_push(lock, checked, t.compact_at.get()));
    if pushed != Ok(true) {
        push_slow(state, lock, how);
    }
}

/// `push` with its checks, a task's waker, or a stack to grow or compact.
#[cold]
#[inline(never)]
fn push_slow(state: &LockState, lock: HeldLock, how: How<'_>) {
    // Cloned before the stack is touched: a waker's code runs outside it.
    let task = match how {
        How::Task(waker) => Some(Box::new(waker.clone())),
        _ => None,
    };
    let _ = THREAD.try_with(|t| {
        check(t, state, lock.mode, lock.site, how);
        if t.held.len() >= t.compact_at.get() {
            compact(t);
        }
        t.held.push(Hold { lock, task });
    });
}

/// Drops the entries of holds that have ended (on another thread), once
/// the stack is deeper than it should be.
#[cold]
fn compact(t: &Thread) {
    let ended = t.held.take_unless(|h| {
        watch::lookup(h.lock.id).is_some_and(|s| s.holds(h.lock.mode, h.lock.token))
    });
    t.compact_at.set((t.held.len() * 2).max(COMPACT_AT));
    drop(ended);
}

/// A wait for `state` is about to begin: the checks of an acquisition.
pub(super) fn before_wait(
    state: &LockState,
    mode: Mode,
    site: &'static Location<'static>,
    how: How<'_>,
) {
    let _ = THREAD.try_with(|t| check(t, state, mode, site, how));
}

/// A hold of `state` ended: pops this thread's entry for it (the most
/// recent, if several) and times the hold for its site. `fallback` gives
/// (site, tick) of a hold that began on another thread, where the state
/// knows it (called only then). Inlined: the release of the top entry is
/// a few loads, a store and a count.
#[inline(always)]
pub(super) fn pop(
    state: &LockState,
    mode: Mode,
    token: Option<u64>,
    fallback: impl Fn() -> Option<(&'static Location<'static>, u64)>,
) {
    let now = watch::now_tick();
    let popped = THREAD.try_with(|t| match t.held.try_pop(state.id, mode, token) {
        Some((site, since)) => {
            count_hold(t, site, since, mode, now);
            true
        }
        None => false,
    });
    if popped != Ok(true) {
        pop_slow(state, mode, token, &fallback, now);
    }
}

/// Counts in the thread's statistics a hold of its own that began at
/// `since` and ends at `now`.
#[inline(always)]
fn count_hold(t: &Thread, site: &'static Location<'static>, since: u32, mode: Mode, now: u64) {
    if counted(mode) {
        let ms = u64::from((now as u32).wrapping_sub(since));
        stats::held(Some(&t.stats), site, mode, ms);
    }
}

/// `pop` of anything but the thread's own top entry.
#[cold]
#[inline(never)]
fn pop_slow(
    state: &LockState,
    mode: Mode,
    token: Option<u64>,
    fallback: &dyn Fn() -> Option<(&'static Location<'static>, u64)>,
    now: u64,
) {
    let mut also = Vec::new();
    let popped = THREAD.try_with(|t| match t.held.pop(state.id, mode, token, &mut also) {
        Some(h) => {
            count_hold(t, h.lock.site, h.lock.since, mode, now);
            h.task
        }
        None => {
            if let (true, Some((site, since))) = (counted(mode), fallback()) {
                stats::held(Some(&t.stats), site, mode, now.saturating_sub(since));
            }
            None
        }
    });
    drop(also);
    match popped {
        // (The holds' wakers, if any, drop here, outside the stack.)
        Ok(taken) => drop(taken),
        Err(_) => {
            if let (true, Some((site, since))) = (counted(mode), fallback()) {
                stats::held(None, site, mode, now.saturating_sub(since));
            }
        }
    }
}

/// The order edges and the recursive read an acquisition of `state` makes
/// against the thread's holds, reported once every borrow is let go.
#[inline]
fn check(
    t: &Thread,
    state: &LockState,
    mode: Mode,
    site: &'static Location<'static>,
    how: How<'_>,
) {
    let task = match how {
        How::Try => return,
        How::Task(waker) => Some(waker),
        How::Thread | How::ThreadRecursive => None,
    };
    if t.held.len() != 0 {
        emit(check_held(t, state, mode, site, how, task));
    }
}

/// `check` against a stack that is not empty.
#[cold]
#[inline(never)]
fn check_held(
    t: &Thread,
    state: &LockState,
    mode: Mode,
    site: &'static Location<'static>,
    how: How<'_>,
    task: Option<&Waker>,
) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut new = Vec::new();
    {
        let mut seen = t.seen.borrow_mut();
        let seen = seen.get_or_insert_with(Seen::default);
        for h in t.held.ordering(task) {
            if h.id == state.id {
                let recursive = mode == Mode::Read
                    && h.mode == Mode::Read
                    && !matches!(how, How::ThreadRecursive)
                    && state.holds(h.mode, h.token);
                if recursive && first_time(h.site, site) {
                    reports.push(Report::RecursiveRead { held: h.site, site });
                }
                continue;
            }
            if !seen.contains(&(h.id, state.id)) {
                new.push(h);
            }
        }
    }
    if new.is_empty() {
        return reports;
    }
    let outcome = order::record(&new, state, site);
    {
        let mut seen = t.seen.borrow_mut();
        let seen = seen.get_or_insert_with(Seen::default);
        if seen.len() + outcome.recorded.len() > SEEN_CAP {
            seen.clear();
        }
        seen.extend(outcome.recorded);
    }
    let stale = outcome.stale;
    let ended = t.held.take_unless(|h| !stale.contains(&h.lock));
    drop(ended);
    reports.extend(outcome.inversions.into_iter().map(Report::Inversion));
    reports
}

/// Whether this pair of read sites has not been reported yet.
fn first_time(held: &'static Location<'static>, site: &'static Location<'static>) -> bool {
    static REPORTED: StdMutex<Vec<(usize, usize)>> = StdMutex::new(Vec::new());
    let key = (held as *const _ as usize, site as *const _ as usize);
    let mut reported = watch::lock(&REPORTED);
    !reported.contains(&key) && {
        reported.push(key);
        true
    }
}

fn emit(reports: Vec<Report>) {
    for report in reports {
        match report {
            Report::Inversion(inversion) => inversion.emit(),
            Report::RecursiveRead { held, site } => tracing::warn!(
                held = %format_args!("{}:{}", held.file(), held.line()),
                site = %format_args!("{}:{}", site.file(), site.line()),
                "recursive read can deadlock behind a waiting writer"
            ),
        }
    }
}

/// A hasher for pairs of lock ids (small, unique integers): a multiply
/// and a rotate, no SipHash on a debug lock's path.
#[derive(Default)]
pub(super) struct PairHasher(u64);

impl std::hash::Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
