//! `RawRwLock`: a writer-preferring futex reader-writer lock with
//! interruptible waits.
//!
//! # Words
//!
//! `state` (`u64`; nobody sleeps on it, so it need not be a futex word):
//!
//! | bits    | name              | meaning |
//! |---------|-------------------|---------|
//! | 0..=31  | readers           | read locks held |
//! | 32      | `WRITE_LOCKED`    | a writer holds the lock |
//! | 33      | `READERS_PARKED`  | readers may sleep on `readers_wake` |
//! | 34      | `TASKS`           | futures wait for the lock in the [`TaskTable`](crate::table::TaskTable) (set and cleared only under its bucket lock) |
//! | 35..=63 | writers waiting   | writers that are waiting (sleeping or about to, threads and futures); at most 2^29 - 1, far above any thread count |
//!
//! `readers_wake` and `writers_wake` are futex words that only ever count up
//! (by [`EPOCH_UNIT`], wrapping): readers sleep on the first, writers on the
//! second. A sleeper reads the wake word *before* it reads `state`, and
//! anyone who changes `state` in a way that may let it in bumps the wake word
//! *after*, so a sleeper can never sleep through the change that concerned it.
//! An interrupter bumps the same words.
//!
//! # Policy
//!
//! Writer-preferring: a reader may enter only while no writer holds the lock
//! **and no writer is waiting**, so a steady stream of readers cannot starve
//! a writer. Counting waiting writers (rather than flagging them) means an
//! interrupted writer can withdraw exactly, and never leaves readers blocked
//! behind a writer that is gone.
//!
//! When the lock becomes free, one waiting writer is woken if there is one,
//! otherwise every parked reader. A writer that is woken but interrupted
//! passes the wake on as it withdraws. Futures wait apart from threads,
//! in the table, with the same policy: a writer future counts among the
//! waiting writers (so it stops new readers, threads and futures alike),
//! and a release that wakes a writer wakes one sleeping thread and one
//! writer future, which race for the lock, while one that wakes readers
//! wakes them all.
//!
//! A *recursive* read ([`RawRwLock::read_recursive`]) enters whenever no
//! writer holds the lock, waiting writers or not, so a thread that already
//! holds a read lock cannot deadlock on itself behind a writer that waits
//! for that very read lock to go. A writer *downgrades*
//! ([`RawRwLock::downgrade`]) to a reader in one step, with no writer able
//! to get in between.
//!
//! The code: this file has the words and the releases; `read` the read
//! paths; `write` the write paths and the downgrade.

mod read;
mod task;
mod write;

pub use task::{ReadFuture, WriteFuture};

use core::marker::PhantomData;

use crate::park::{DefaultPark, Park};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::waiter::{Interrupted, EPOCH_UNIT};

const READERS_MASK: u64 = (1 << 32) - 1;
const MAX_READERS: u64 = READERS_MASK - 1;
const WRITE_LOCKED: u64 = 1 << 32;
const READERS_PARKED: u64 = 1 << 33;
const TASKS: u64 = 1 << 34;
const WRITER_UNIT: u64 = 1 << 35;
const WRITERS_MASK: u64 = !(WRITER_UNIT - 1);

#[inline]
pub(crate) fn readers(state: u64) -> u64 {
    state & READERS_MASK
}

#[inline]
fn writers_waiting(state: u64) -> u64 {
    state >> 35
}

/// Whether a new reader may enter: no writer holds it or waits for it.
#[inline]
fn read_lockable(state: u64) -> bool {
    state & (WRITE_LOCKED | WRITERS_MASK) == 0 && readers(state) < MAX_READERS
}

#[inline]
fn unlocked(state: u64) -> bool {
    state & (WRITE_LOCKED | READERS_MASK) == 0
}

/// What one pass of a contended loop decided.
pub(crate) enum Attempt {
    /// The call is over.
    Done(Result<(), Interrupted>),
    /// Sleep on the wake word while it holds this value, then try again.
    Sleep(u32),
}

/// A writer-preferring reader-writer lock without data; see the
/// [module docs](self).
///
/// ```
/// use concur_core::RawRwLock;
///
/// let l: RawRwLock = RawRwLock::new();
/// l.read();
/// l.read();
/// assert!(!l.try_write());
/// // SAFETY: two read locks are held by this thread.
/// unsafe { l.read_unlock(); l.read_unlock(); }
/// assert!(l.try_write());
/// // SAFETY: the write lock is held.
/// unsafe { l.write_unlock() };
/// ```
#[derive(Debug)]
pub struct RawRwLock<P: Park = DefaultPark> {
    state: AtomicU64,
    pub(crate) readers_wake: AtomicU32,
    pub(crate) writers_wake: AtomicU32,
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> Default for RawRwLock<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Park> RawRwLock<P> {
    crate::sync::const_fn! {
        /// An unlocked lock.
        pub fn new() -> Self {
            Self {
                state: AtomicU64::new(0),
                readers_wake: AtomicU32::new(0),
                writers_wake: AtomicU32::new(0),
                _park: PhantomData,
            }
        }
    }

    /// Releases one read lock.
    ///
    /// # Safety
    /// A read lock is held, by the caller or on its behalf.
    #[inline]
    pub unsafe fn read_unlock(&self) {
        let state = self.state.fetch_sub(1, Ordering::Release) - 1;
        debug_assert!(
            readers(state) < MAX_READERS,
            "concur-core: read_unlock without a read lock"
        );
        if readers(state) == 0 && state & (WRITERS_MASK | READERS_PARKED | TASKS) != 0 {
            self.wake_after_release(state);
        }
    }

    /// Releases the write lock.
    ///
    /// # Safety
    /// The write lock is held, by the caller or on its behalf.
    #[inline]
    pub unsafe fn write_unlock(&self) {
        let state = self.state.fetch_sub(WRITE_LOCKED, Ordering::Release) - WRITE_LOCKED;
        if state & (WRITERS_MASK | READERS_PARKED | TASKS) != 0 {
            self.wake_after_release(state);
        }
    }

    /// Wakes whoever may now enter, given `state` as just left behind.
    #[cold]
    fn wake_after_release(&self, state: u64) {
        if unlocked(state) && writers_waiting(state) > 0 {
            self.writers_wake.fetch_add(EPOCH_UNIT, Ordering::Release);
            P::wake_one(&self.writers_wake);
            if state & TASKS != 0 {
                self.wake_tasks(false);
            }
        } else if state & (WRITE_LOCKED | WRITERS_MASK) == 0 {
            if state & READERS_PARKED != 0 {
                self.state.fetch_and(!READERS_PARKED, Ordering::Relaxed);
                self.readers_wake.fetch_add(EPOCH_UNIT, Ordering::Release);
                P::wake_all(&self.readers_wake);
            }
            if state & TASKS != 0 {
                self.wake_tasks(true);
            }
        }
        // Otherwise the lock is still held; its release will wake.
    }

    /// Whether any lock (read or write) is held right now (a racy snapshot).
    #[inline]
    pub fn is_locked(&self) -> bool {
        !unlocked(self.state.load(Ordering::Relaxed))
    }

    /// Whether the write lock is held right now (a racy snapshot).
    #[inline]
    pub fn is_write_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WRITE_LOCKED != 0
    }
}

/// As for the mutex: a lock whose state says futures wait for it can only
/// be dropped with those futures leaked; their nodes leave the table.
impl<P: Park> Drop for RawRwLock<P> {
    fn drop(&mut self) {
        let marked = self.state.load(Ordering::Relaxed) & TASKS != 0;
        crate::table::purge_on_drop::<P>(marked, self.key());
    }
}
