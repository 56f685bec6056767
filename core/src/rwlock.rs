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
//! | 34..=63 | writers waiting   | writers that are waiting (sleeping or about to); at most 2^30 - 1, far above any thread count |
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
//! passes the wake on as it withdraws.

use core::marker::PhantomData;
use core::pin::Pin;

use crate::park::{DefaultPark, Park};
use crate::sync::{spin_hint, AtomicU32, AtomicU64, Ordering, SPIN_LIMIT};
use crate::waiter::{Interrupted, Waiter, EPOCH_UNIT};

const READERS_MASK: u64 = (1 << 32) - 1;
const MAX_READERS: u64 = READERS_MASK - 1;
const WRITE_LOCKED: u64 = 1 << 32;
const READERS_PARKED: u64 = 1 << 33;
const WRITER_UNIT: u64 = 1 << 34;
const WRITERS_MASK: u64 = !(WRITER_UNIT - 1);

#[inline]
fn readers(state: u64) -> u64 {
    state & READERS_MASK
}

#[inline]
fn writers_waiting(state: u64) -> u64 {
    state >> 34
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

    /// Takes a read lock if no writer holds or awaits the lock.
    #[inline]
    pub fn try_read(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while read_lockable(state) {
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    /// Takes a read lock, sleeping while a writer holds or awaits the lock.
    #[inline]
    pub fn read(&self) {
        if !self.try_read() {
            let _ = self.read_contended(None);
        }
    }

    /// Like [`read`](Self::read), but gives up when `node` is interrupted.
    /// A free lock is taken without looking at `node`.
    #[inline]
    pub fn read_interruptible(&self, node: Pin<&Waiter<P>>) -> Result<(), Interrupted> {
        if self.try_read() {
            return Ok(());
        }
        self.read_interruptible_cold(&node)
    }

    #[cold]
    fn read_interruptible_cold(&self, node: &Waiter<P>) -> Result<(), Interrupted> {
        let _scope = node.begin_on(&self.readers_wake)?;
        self.read_contended(Some(node))
    }

    #[cold]
    fn read_contended(&self, node: Option<&Waiter<P>>) -> Result<(), Interrupted> {
        let mut spins = SPIN_LIMIT;
        loop {
            match self.read_attempt(node, &mut spins) {
                Attempt::Done(result) => return result,
                Attempt::Sleep(wake) => crate::waiter::sleep(node, &self.readers_wake, wake, || {}),
            }
        }
    }

    /// Tries to take a read lock, spinning up to `spins` times, until it
    /// succeeds, `node` is interrupted, or it should sleep.
    pub(crate) fn read_attempt(&self, node: Option<&Waiter<P>>, spins: &mut u32) -> Attempt {
        loop {
            let wake = self.readers_wake.load(Ordering::Acquire);
            let state = self.state.load(Ordering::Acquire);
            if read_lockable(state) {
                if self
                    .state
                    .compare_exchange_weak(state, state + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Attempt::Done(Ok(()));
                }
                continue;
            }
            assert!(
                readers(state) < MAX_READERS,
                "concur-core: RawRwLock read-locked {MAX_READERS} times at once"
            );
            // Spin while a writer holds the lock and nobody waits yet.
            if *spins > 0 && state & WRITERS_MASK == 0 {
                *spins -= 1;
                spin_hint();
                continue;
            }
            if state & READERS_PARKED == 0
                && self
                    .state
                    .compare_exchange_weak(
                        state,
                        state | READERS_PARKED,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_err()
            {
                continue;
            }
            if node.is_some_and(Waiter::is_interrupted) {
                return Attempt::Done(Err(Interrupted));
            }
            return Attempt::Sleep(wake);
        }
    }

    /// Takes the write lock if it is free.
    #[inline]
    pub fn try_write(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        // Waiting writers do not stop a `try_write` that finds the lock free:
        // they would race for it anyway when woken.
        while unlocked(state) {
            match self.state.compare_exchange_weak(
                state,
                state | WRITE_LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    /// Takes the write lock, sleeping until it is free.
    #[inline]
    pub fn write(&self) {
        if self
            .state
            .compare_exchange(0, WRITE_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            let _ = self.write_contended(None);
        }
    }

    /// Like [`write`](Self::write), but gives up when `node` is interrupted.
    /// A free lock is taken without looking at `node`.
    #[inline]
    pub fn write_interruptible(&self, node: Pin<&Waiter<P>>) -> Result<(), Interrupted> {
        if self
            .state
            .compare_exchange(0, WRITE_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(());
        }
        self.write_interruptible_cold(&node)
    }

    #[cold]
    fn write_interruptible_cold(&self, node: &Waiter<P>) -> Result<(), Interrupted> {
        // A free lock (with flags set) is taken without the node.
        if self.try_write() {
            return Ok(());
        }
        let _scope = node.begin_on(&self.writers_wake)?;
        self.write_contended(Some(node))
    }

    #[cold]
    fn write_contended(&self, node: Option<&Waiter<P>>) -> Result<(), Interrupted> {
        // Spin briefly before announcing ourselves: announcing stops readers.
        let mut spins = SPIN_LIMIT;
        while spins > 0 {
            if self.try_write() {
                return Ok(());
            }
            spins -= 1;
            spin_hint();
        }
        self.announce_writer();
        loop {
            match self.write_attempt(node) {
                Attempt::Done(result) => return result,
                // A parker that unwinds must not leave us counted: that
                // would keep readers out of an unlocked lock forever.
                Attempt::Sleep(wake) => {
                    crate::waiter::sleep(node, &self.writers_wake, wake, || self.withdraw_writer())
                }
            }
        }
    }

    /// Counts the caller among the waiting writers, which stops new readers.
    /// Every announcement ends in a [`write_attempt`](Self::write_attempt)
    /// that returns `Done`.
    pub(crate) fn announce_writer(&self) {
        self.state.fetch_add(WRITER_UNIT, Ordering::Relaxed);
    }

    /// For an announced writer: takes the write lock if it is free (leaving
    /// the waiting count), withdraws if `node` is interrupted, or says to
    /// sleep.
    pub(crate) fn write_attempt(&self, node: Option<&Waiter<P>>) -> Attempt {
        loop {
            let wake = self.writers_wake.load(Ordering::Acquire);
            let state = self.state.load(Ordering::Acquire);
            if unlocked(state) {
                // Take the lock and withdraw from the waiting count at once.
                if self
                    .state
                    .compare_exchange_weak(
                        state,
                        state - WRITER_UNIT + WRITE_LOCKED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    return Attempt::Done(Ok(()));
                }
                continue;
            }
            if node.is_some_and(Waiter::is_interrupted) {
                self.withdraw_writer();
                return Attempt::Done(Err(Interrupted));
            }
            return Attempt::Sleep(wake);
        }
    }

    /// Takes an announced writer out of the waiting count without the lock.
    pub(crate) fn withdraw_writer(&self) {
        let state = self.state.fetch_sub(WRITER_UNIT, Ordering::Release) - WRITER_UNIT;
        // We may have absorbed the wake meant for the next owner, and our
        // withdrawal may be what lets readers in: redo the waking.
        self.wake_after_release(state);
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
        if readers(state) == 0 && state & (WRITERS_MASK | READERS_PARKED) != 0 {
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
        if state & (WRITERS_MASK | READERS_PARKED) != 0 {
            self.wake_after_release(state);
        }
    }

    /// Wakes whoever may now enter, given `state` as just left behind.
    #[cold]
    fn wake_after_release(&self, state: u64) {
        if unlocked(state) && writers_waiting(state) > 0 {
            self.writers_wake.fetch_add(EPOCH_UNIT, Ordering::Release);
            P::wake_one(&self.writers_wake);
        } else if state & READERS_PARKED != 0 && state & (WRITE_LOCKED | WRITERS_MASK) == 0 {
            self.state.fetch_and(!READERS_PARKED, Ordering::Relaxed);
            self.readers_wake.fetch_add(EPOCH_UNIT, Ordering::Release);
            P::wake_all(&self.readers_wake);
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
