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
//! | `reads` | readers | first reader's tick + 1 (high 40 bits), readers (low 24) |
//! | `shared` | permit guards | permit guards alive (a semaphore's "held") |
//! | `session` | first reader, first permit guard | shared sessions begun: a shared hold's token |
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

/// The heap state of one debug lock (see the module docs for its words).
pub(crate) struct LockState {
    pub(super) id: u64,
    pub(super) kind: &'static str,
    pub(super) holder: AtomicPtr<Location<'static>>,
    pub(super) held_since: AtomicU64,
    pub(super) reads: AtomicU64,
    pub(super) shared: AtomicU64,
    pub(super) session: AtomicU64,
    pub(super) reported_since: AtomicU64,
    pub(super) next_report: AtomicU64,
    pub(super) waiters: StdMutex<Vec<watch::Waiting>>,
}

impl LockState {
    /// Tick + 1 at which the current hold began (exclusive, else read); 0 if
    /// free.
    pub(super) fn since(&self) -> u64 {
        match self.held_since.load(Ordering::Acquire) & STAMP {
            0 => self.reads.load(Ordering::Acquire) >> 24,
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
                self.reads.load(Ordering::Acquire) & READERS != 0
                    && self.session.load(Ordering::Relaxed) == token
            }
            Mode::Permit => {
                self.shared.load(Ordering::Acquire) != 0
                    && self.session.load(Ordering::Relaxed) == token
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
                session: AtomicU64::new(0),
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
        let token = match mode {
            Mode::Mutex | Mode::Write => {
                // Only the holder writes these while it holds the lock.
                let token = ((state.held_since.load(Ordering::Relaxed) >> 40) + 1) & 0xff_ffff;
                state
                    .holder
                    .store(site as *const _ as *mut _, Ordering::Relaxed);
                let stamp = (watch::now_tick() + 1) & STAMP;
                state
                    .held_since
                    .store(token << 40 | stamp, Ordering::Release);
                token
            }
            Mode::Read => read_begun(state, site),
            Mode::Permit => {
                if state.shared.fetch_add(1, Ordering::AcqRel) == 0 {
                    state.session.fetch_add(1, Ordering::Relaxed);
                }
                state.session.load(Ordering::Relaxed)
            }
            Mode::Once | Mode::Group => 0,
        };
        held::push(state, mode, token, site, how);
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
                held::pop(state, mode, || site_at(word & STAMP));
            }
            Mode::Read => {
                // The last reader out clears the stamp with the count.
                let prev = state
                    .reads
                    .fetch_update(Ordering::Release, Ordering::Relaxed, |reads| {
                        Some(if reads & READERS <= 1 { 0 } else { reads - 1 })
                    })
                    .unwrap_or_else(|prev| prev); // the closure never refuses
                held::pop(state, mode, || site_at(prev >> 24));
            }
            Mode::Permit => {
                state.shared.fetch_sub(1, Ordering::AcqRel);
                held::pop(state, mode, || None);
            }
            Mode::Once | Mode::Group => held::pop(state, mode, || None),
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
    /// `Group`, which the watchdog does not time.
    pub(crate) fn before_wait(&self, mode: Mode, site: &'static Location<'static>) {
        held::before_wait(self.state(mode), mode, site, How::Thread);
    }

    /// A run hold (a `Once` initializer, a group task) at `site`, until the
    /// returned guard drops.
    pub(crate) fn running(&self, mode: Mode, site: &'static Location<'static>) -> RunGuard<'_> {
        self.acquired(mode, site, How::Try);
        RunGuard { debug: self, mode }
    }
}

/// A read lock was taken at `site`; the first reader stands for all in the
/// watchdog's record. Returns the read session, the hold's token.
fn read_begun(state: &LockState, site: &'static Location<'static>) -> u64 {
    let reads = state
        .reads
        .fetch_update(Ordering::Release, Ordering::Relaxed, |reads| {
            Some(match reads & READERS {
                0 => ((watch::now_tick() + 1) << 24) | 1,
                _ => reads + 1,
            })
        })
        .unwrap_or_else(|prev| prev); // the closure never refuses
    if reads & READERS == 0 {
        state
            .holder
            .store(site as *const _ as *mut _, Ordering::Relaxed);
        state.session.fetch_add(1, Ordering::Relaxed);
    }
    state.session.load(Ordering::Relaxed)
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
