//! One debug lock's heap state ([`LockState`]) and the hooks the primitives
//! call on it ([`LockDebug`]): where each acquisition, wait and release
//! goes to the watchdog's record, the thread's held stack (lock order) and
//! the site statistics.
//!
//! # The words of a `LockState`
//!
//! | word | written by | meaning |
//! |---|---|---|
//! | `holder` | the exclusive holder, a first reader | site of the current hold |
//! | `held_since` | the exclusive holder | exclusive holds begun, mod 2^24 (high 24 bits: the hold's token); tick + 1 at acquisition (low 40), 0 while not held exclusively |
//! | `reads` | readers | read sessions begun, mod 2^8 (high 8 bits); the first reader's tick + 1, mod 2^32 (next 32); readers (low 24). A read's token is the high 40 bits, read from the same atomic step that counts it in |
//! | `shared` | permit guards | sessions begun (high 40 bits: a permit hold's token); permit guards alive (low 24: a semaphore's "held") |
//! | `reported_since`, `next_report` | the watchdog | the last hold reported held too long (its `held_since` or read stamp), and the tick before which it is not reported again |
//!
//! A token lets a thread tell, later, whether an entry of its held stack
//! still stands for a live hold (a guard that moved to another thread and
//! was dropped there leaves the entry behind): see `held`.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::task::Waker;
use std::time::Instant;

use super::{held, order, watch};

/// What kind of hold an acquisition starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A mutex lock.
    Mutex,
    /// A read lock of an rwlock.
    Read,
    /// A write lock of an rwlock.
    Write,
    /// A guard of semaphore permits.
    Permit,
    /// A `Once` initializer running (waiters wait for it).
    Once,
    /// A group task running (the group's `wait` waits for it).
    Group,
}

impl Mode {
    /// The name events use for the lock.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Mode::Mutex => "mutex",
            Mode::Read | Mode::Write => "rwlock",
            Mode::Permit => "semaphore",
            Mode::Once => "once",
            Mode::Group => "group",
        }
    }
}

/// How an acquisition came about, which decides the order edges it adds.
#[derive(Clone, Copy)]
pub(crate) enum How<'w> {
    /// A thread that may block (`lock`, `lock_ctx`, `try_lock_for`, ...).
    Thread,
    /// `RwLock::read_recursive`: as `Thread`, but a read while holding a
    /// read is what it is for.
    ThreadRecursive,
    /// A `try_*` call, which cannot block and so cannot deadlock.
    Try,
    /// A future, polled with this task's waker.
    Task(&'w Waker),
}

/// The reader-count bits of `LockState::reads`.
pub(super) const READERS: u64 = (1 << 24) - 1;
/// The tick bits of `LockState::held_since` (a tick wraps after 34 years).
const STAMP: u64 = (1 << 40) - 1;
/// The first reader's stamp in `LockState::reads`.
const STAMP_32: u64 = 0xffff_ffff << 24;

/// The heap state of one debug lock (see the module docs for its words).
pub(crate) struct LockState {
    pub(super) id: u64,
    pub(super) kind: &'static str,
    pub(super) holder: AtomicPtr<Location<'static>>,
    pub(super) held_since: AtomicU64,
    pub(super) reads: AtomicU64,
    pub(super) shared: AtomicU64,
    pub(super) reported_since: AtomicU64,
    pub(super) next_report: AtomicU64,
    pub(super) waiters: StdMutex<Vec<watch::Waiting>>,
}

impl LockState {
    /// Tick + 1 at which the current hold began (exclusive, else read); 0 if
    /// free.
    pub(super) fn since(&self) -> u64 {
        match self.held_since.load(Ordering::Acquire) & STAMP {
            0 => match self.reads.load(Ordering::Acquire) {
                reads if reads & READERS == 0 => 0,
                reads => read_stamp(reads),
            },
            since => since,
        }
    }

    pub(super) fn holder(&self) -> Option<&'static Location<'static>> {
        let site = self.holder.load(Ordering::Relaxed);
        // SAFETY: only ever set from `&'static Location`s.
        (!site.is_null()).then(|| unsafe { &*site })
    }

    /// Whether the hold of `mode` with `token` is still the live one.
    pub(super) fn holds(&self, mode: Mode, token: u64) -> bool {
        match mode {
            Mode::Mutex | Mode::Write => {
                let word = self.held_since.load(Ordering::Acquire);
                word & STAMP != 0 && word >> 40 == token
            }
            Mode::Read => {
                let reads = self.reads.load(Ordering::Acquire);
                reads & READERS != 0 && reads >> 24 == token
            }
            Mode::Permit => {
                let shared = self.shared.load(Ordering::Acquire);
                shared & READERS != 0 && shared >> 24 == token
            }
            // Run holds end on the thread that began them, in a drop guard.
            Mode::Once | Mode::Group => true,
        }
    }
}

impl Drop for LockState {
    fn drop(&mut self) {
        watch::unregister(self.id);
        order::forget(self.id);
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

    #[inline]
    fn state(&self, mode: Mode) -> &LockState {
        match self.state.get() {
            Some(state) => state,
            None => self.first_use(mode),
        }
    }

    #[cold]
    fn first_use(&self, mode: Mode) -> &LockState {
        self.state.get_or_init(|| {
            static IDS: AtomicU64 = AtomicU64::new(1);
            let state = Arc::new(LockState {
                id: IDS.fetch_add(1, Ordering::Relaxed),
                kind: mode.kind(),
                holder: AtomicPtr::new(ptr::null_mut()),
                held_since: AtomicU64::new(0),
                reads: AtomicU64::new(0),
                shared: AtomicU64::new(0),
                reported_since: AtomicU64::new(0),
                next_report: AtomicU64::new(0),
                waiters: StdMutex::new(Vec::new()),
            });
            watch::register(&state);
            state
        })
    }

    /// A hold of `mode` began at `site`.
    #[inline]
    pub(crate) fn acquired(&self, mode: Mode, site: &'static Location<'static>, how: How<'_>) {
        let state = self.state(mode);
        let now = watch::now_tick();
        let token = match mode {
            Mode::Mutex | Mode::Write => {
                // Only the holder writes these while it holds the lock.
                let token = ((state.held_since.load(Ordering::Relaxed) >> 40) + 1) & 0xff_ffff;
                state
                    .holder
                    .store(site as *const _ as *mut _, Ordering::Relaxed);
                let stamp = (now + 1) & STAMP;
                state
                    .held_since
                    .store(token << 40 | stamp, Ordering::Release);
                token
            }
            Mode::Read => read_begun(state, site, now),
            Mode::Permit => {
                // A first guard begins a session; the token comes from the
                // same atomic step as the count.
                let count_in = |shared: u64| match shared & READERS {
                    0 => (((shared >> 24) + 1) << 24) | 1,
                    _ => shared + 1,
                };
                let prev = state
                    .shared
                    .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |s| Some(count_in(s)))
                    .unwrap_or_else(|prev| prev); // the closure never refuses
                count_in(prev) >> 24
            }
            Mode::Once | Mode::Group => 0,
        };
        held::push(state, mode, token, site, now, how);
    }

    /// The hold of `mode` that a guard stood for ended.
    #[inline]
    pub(crate) fn released(&self, mode: Mode) {
        let Some(state) = self.state.get() else {
            return;
        };
        // `held::pop` times a hold that began on another thread with the
        // site and tick the state has (the first reader's, for reads).
        let site_at = |stamp: u64| Some((state.holder()?, stamp.saturating_sub(1)));
        match mode {
            Mode::Mutex | Mode::Write => {
                // Only the holder writes it while it holds the lock; the
                // token stays.
                let word = state.held_since.load(Ordering::Relaxed);
                state.held_since.store(word & !STAMP, Ordering::Release);
                held::pop(state, mode, Some(word >> 40), || site_at(word & STAMP));
            }
            Mode::Read => {
                // The last reader out clears the stamp with the count.
                let prev = state
                    .reads
                    .fetch_update(Ordering::Release, Ordering::Relaxed, |reads| {
                        // The session stays; the stamp goes with the count.
                        Some(match reads & READERS {
                            0 | 1 => reads & !(STAMP_32 | READERS),
                            _ => reads - 1,
                        })
                    })
                    .unwrap_or_else(|prev| prev); // the closure never refuses
                held::pop(state, mode, None, || site_at(read_stamp(prev)));
            }
            Mode::Permit => {
                state.shared.fetch_sub(1, Ordering::AcqRel);
                held::pop(state, mode, None, || None);
            }
            Mode::Once | Mode::Group => held::pop(state, mode, None, || None),
        }
    }

    /// A wait for a hold of `mode` at `site` is about to begin: adds the
    /// order edges (before blocking, so a deadlock that does happen was
    /// reported first), registers the waiter with the watchdog, and times
    /// the wait for the site's statistics, until the guard drops.
    pub(crate) fn waiting(
        &self,
        mode: Mode,
        site: &'static Location<'static>,
        how: How<'_>,
    ) -> WaitingGuard<'_> {
        let state = self.state(mode);
        held::before_wait(state, mode, site, how);
        static IDS: AtomicU64 = AtomicU64::new(0);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        watch::lock(&state.waiters).push(watch::Waiting {
            id,
            site,
            since: watch::now_tick(),
            next_report: 0,
        });
        WaitingGuard {
            state,
            id,
            mode,
            site,
            started: Instant::now(),
        }
    }

    /// The order edges of a wait, alone: for the waits of `Once` and
    /// `Group`, which the watchdog does not time, and a condvar wait's
    /// re-lock of its mutex (ordered after what the waiter holds).
    pub(crate) fn before_wait(&self, mode: Mode, site: &'static Location<'static>, how: How<'_>) {
        held::before_wait(self.state(mode), mode, site, how);
    }

    /// A run hold (a `Once` initializer, a group task) at `site`, until the
    /// returned guard drops.
    pub(crate) fn running(&self, mode: Mode, site: &'static Location<'static>) -> RunGuard<'_> {
        self.acquired(mode, site, How::Try);
        RunGuard { debug: self, mode }
    }
}

/// A read lock was taken at `site`; the first reader stands for all in the
/// watchdog's record, and begins a session. Returns the hold's token (the
/// session and stamp), from the same atomic step that counts it in.
fn read_begun(state: &LockState, site: &'static Location<'static>, now: u64) -> u64 {
    let stamp = (now + 1) & 0xffff_ffff;
    let count_in = |reads: u64| match reads & READERS {
        0 => {
            let session = ((reads >> 56) + 1) & 0xff;
            (session << 56) | (stamp << 24) | 1
        }
        _ => reads + 1,
    };
    let prev = state
        .reads
        .fetch_update(Ordering::Release, Ordering::Relaxed, |r| Some(count_in(r)))
        .unwrap_or_else(|prev| prev); // the closure never refuses
    if prev & READERS == 0 {
        state
            .holder
            .store(site as *const _ as *mut _, Ordering::Relaxed);
    }
    count_in(prev) >> 24
}

/// The first reader's tick + 1, as a full tick, from a `reads` word (its
/// 32-bit stamp, widened against the tick now).
fn read_stamp(reads: u64) -> u64 {
    let stamp = ((reads & STAMP_32) >> 24) as u32;
    let now = watch::now_tick() + 1;
    let age = (now as u32).wrapping_sub(stamp);
    now.saturating_sub(u64::from(age)).max(1)
}

/// A registered waiter; deregisters on drop and adds its wait to the
/// site's statistics.
pub(crate) struct WaitingGuard<'a> {
    state: &'a LockState,
    id: u64,
    mode: Mode,
    site: &'static Location<'static>,
    started: Instant,
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        watch::lock(&self.state.waiters).retain(|w| w.id != self.id);
        held::waited(self.site, self.mode.kind(), self.started.elapsed());
    }
}

/// A run hold; ends on drop (also when the initializer or task panics).
pub(crate) struct RunGuard<'a> {
    debug: &'a LockDebug,
    mode: Mode,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.debug.released(self.mode);
    }
}
