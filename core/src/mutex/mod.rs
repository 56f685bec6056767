//! `RawMutex`: a one-word futex mutex whose waits can be interrupted.
//!
//! # The word
//!
//! | bits   | name     | meaning |
//! |--------|----------|---------|
//! | 0      | `LOCKED` | held |
//! | 1      | `PARKED` | a thread may be asleep on the word; unlock must wake one |
//! | 2      | `TASKS`  | futures wait for the lock in the [`TaskTable`](crate::table::TaskTable); unlock must wake one |
//! | 3..=31 | epoch    | bumped (wrapping) by an interrupter, never by the lock itself |
//!
//! | word (ignoring epoch) | state |
//! |------|-------|
//! | `0`  | unlocked (sleepers may still be waking from the last unlock) |
//! | `LOCKED` | held, nobody asleep: unlock is one atomic, no syscall |
//! | `LOCKED \| PARKED` | held, sleepers: unlock wakes one |
//! | `PARKED` | unlocked, by an unlock about to clear the bit and wake; or the clearing lost to an epoch bump: the next lock keeps the bit, and its unlock wakes (at worst for nobody) |
//! | `TASKS` (with any of the above) | the table holds a future's node for this lock: set and cleared only under the table's bucket lock (the `task` module) |
//!
//! `PARKED` is set by lockers only on a held word; an unlock clears
//! `LOCKED` first and `PARKED` just after, with a CAS that leaves it if the
//! word moved on meanwhile.
//!
//! Fast paths are one read-modify-write each: `fetch_or(LOCKED)` to lock
//! (a `lock bts` on x86), `fetch_sub(LOCKED)` to unlock (a `lock xadd`). The slow
//! path spins a little, then yields the processor a few times (through
//! [`Park::yield_now`]), while nobody sleeps; then it marks `PARKED` and
//! sleeps on the word. A free lock is taken by whoever finds it first, a
//! running thread or one just woken (barging, as in parking_lot and std):
//! handing it to a sleeper would stall the lock for a whole wake-up. A
//! thread that has slept takes the lock with `PARKED` set, since the
//! unlock that woke it cleared the bit and others may still sleep
//! (at worst one spurious wake); a thread that never slept keeps the bit as
//! it found it, so an uncontended lock never pays for a wake.
//!
//! # Interruptible waits
//!
//! A sleeper cannot be woken by flipping a flag elsewhere: `futex_wait`
//! compares the mutex word. So an interrupter sets the node's flag and then
//! adds [`EPOCH_UNIT`] to the mutex word and wakes every sleeper. A sleeper
//! checks its flag *after* reading the word value it sleeps against, so
//! either it sees the flag or its sleep sees the changed word. The epoch
//! is never reset by the lock, so the value cannot return to what a
//! sleeper read (short of 2^29 interrupts between its read and its sleep).
//! Neither fast path compares the whole word, so the epoch never makes them
//! fail: after any number of interrupts an uncontended lock and unlock cost
//! what they cost on a fresh mutex.
//!
//! A sleeper leaves without the lock (interrupted, or its node's deadline
//! passed) only from the check that follows its setting of `PARKED` on a
//! held word, so whoever holds the lock then will wake a sleeper when it
//! unlocks: a leaver never strands the others, whether or not a wake it
//! absorbed was meant for them. (An interrupter also wakes every sleeper,
//! because it cannot wake just the one it interrupts on a shared word; a
//! deadline wakes nobody, the sleeper is already awake.)

mod task;

pub use task::LockFuture;

use core::marker::PhantomData;
use core::pin::Pin;

use crate::park::{DefaultPark, Park};
use crate::spin::SpinWait;
use crate::sync::{AtomicU32, Ordering};
#[cfg(doc)]
use crate::waiter::EPOCH_UNIT;
use crate::waiter::{Interrupted, Waiter};

const LOCKED: u32 = 1;
const PARKED: u32 = 2;
const TASKS: u32 = 4;

/// A one-word mutual-exclusion lock without data; see the [module docs](self).
///
/// ```
/// use concur_core::RawMutex;
///
/// let m: RawMutex = RawMutex::new();
/// m.lock();
/// assert!(!m.try_lock());
/// // SAFETY: locked just above by this thread.
/// unsafe { m.unlock() };
/// assert!(m.try_lock());
/// # unsafe { m.unlock() };
/// ```
#[derive(Debug)]
pub struct RawMutex<P: Park = DefaultPark> {
    word: AtomicU32,
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> Default for RawMutex<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Park> RawMutex<P> {
    crate::sync::const_fn! {
        /// An unlocked mutex.
        pub fn new() -> Self {
            Self { word: AtomicU32::new(0), _park: PhantomData }
        }
    }

    /// Takes the lock if it is free, without waiting.
    #[inline]
    pub fn try_lock(&self) -> bool {
        self.lock_fast()
    }

    /// The fast path of every lock call: one read-modify-write (a `lock
    /// bts` on x86) that sets `LOCKED` whatever epoch and `PARKED` bits the
    /// word has, and changes nothing on a held lock.
    #[inline]
    fn lock_fast(&self) -> bool {
        self.word.fetch_or(LOCKED, Ordering::Acquire) & LOCKED == 0
    }

    /// Takes the lock, sleeping until it is free.
    #[inline]
    pub fn lock(&self) {
        if !self.lock_fast() {
            let _ = self.lock_contended(None);
        }
    }

    /// Takes the lock, sleeping until it is free or `node` is interrupted.
    ///
    /// A free lock is taken without looking at `node`; an interrupted node
    /// only matters when the call would have to wait.
    #[inline]
    pub fn lock_interruptible(&self, node: Pin<&Waiter<P>>) -> Result<(), Interrupted> {
        if self.lock_fast() {
            return Ok(());
        }
        self.lock_interruptible_cold(&node)
    }

    #[cold]
    fn lock_interruptible_cold(&self, node: &Waiter<P>) -> Result<(), Interrupted> {
        let _scope = node.begin_on(&self.word)?;
        self.lock_contended(Some(node))
    }

    #[cold]
    fn lock_contended(&self, node: Option<&Waiter<P>>) -> Result<(), Interrupted> {
        let mut spin = SpinWait::<P>::new();
        // Set once this thread has slept: only then may others sleep unseen.
        let mut parked = 0;
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            // A free lock is taken even when others sleep (barging): the
            // running thread is the cheapest next holder, and a sleeper
            // still gets its wake.
            if word & LOCKED == 0 {
                match self.word.compare_exchange_weak(
                    word,
                    word | LOCKED | parked,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Ok(()),
                    Err(now) => {
                        word = now;
                        continue;
                    }
                }
            }
            // Spin and yield while nobody sleeps: once someone does, the
            // lock is plainly slow and we sleep beside them. An interrupted
            // waiter stops spinning at once (it still sets `PARKED` before
            // it leaves, below).
            if word & PARKED == 0 && !node.is_some_and(Waiter::is_interrupted) && spin.spin() {
                word = self.word.load(Ordering::Acquire);
                continue;
            }
            if word & PARKED == 0 {
                match self.word.compare_exchange_weak(
                    word,
                    word | PARKED,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => word |= PARKED,
                    Err(now) => {
                        word = now;
                        continue;
                    }
                }
            }
            // After reading `word`: an interrupt that this check misses has
            // bumped the epoch after our read, so the sleep below returns.
            if node.is_some_and(Waiter::is_interrupted) {
                return Err(Interrupted);
            }
            crate::waiter::sleep(node, &self.word, word, || {});
            parked = PARKED;
            spin.reset();
            word = self.word.load(Ordering::Acquire);
        }
    }

    /// Releases the lock.
    ///
    /// # Safety
    /// The lock is held, and the caller is the one that holds it (or acts for
    /// it, as a guard moved to another thread does).
    #[inline]
    pub unsafe fn unlock(&self) {
        // One `lock xadd` that clears `LOCKED` and keeps the epoch (a
        // `fetch_and` whose result is used is a CAS loop on x86).
        let prev = self.word.fetch_sub(LOCKED, Ordering::Release);
        debug_assert!(
            prev & LOCKED != 0,
            "concur-core: RawMutex::unlock of an unlocked mutex"
        );
        if prev & (PARKED | TASKS) != 0 {
            self.unlock_slow(prev - LOCKED);
        }
    }

    /// The rest of an unlock that found sleepers or waiting futures:
    /// wakes one of each kind (they wait apart, and whichever runs first
    /// takes the lock; the other waits again).
    #[cold]
    fn unlock_slow(&self, unlocked: u32) {
        // The sleeper first: its bit is cleared by a compare-exchange
        // against `unlocked`, which the task's wake may change.
        if unlocked & PARKED != 0 {
            self.unlock_parked(unlocked);
        }
        if unlocked & TASKS != 0 {
            self.wake_task();
        }
    }

    /// The rest of an unlock that found `PARKED`: clears it, unless the
    /// word moved on since (a new holder took the lock, or an interrupt
    /// bumped the epoch: the bit then stays, and the next unlock wakes
    /// again, at worst for nobody), and wakes one sleeper. The thread it
    /// wakes sets `PARKED` again when it locks or sleeps, so a later
    /// unlock knows whether to wake.
    #[cold]
    fn unlock_parked(&self, unlocked: u32) {
        let _ = self.word.compare_exchange(
            unlocked,
            unlocked & !PARKED,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        P::wake_one(&self.word);
    }

    /// Whether the lock is held right now (a racy snapshot).
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) & LOCKED != 0
    }
}

/// A mutex whose word says futures wait for it can only be dropped with
/// those futures leaked (a live one borrows it): their nodes leave the
/// table, so a lock made later at this address does not inherit them.
impl<P: Park> Drop for RawMutex<P> {
    fn drop(&mut self) {
        let marked = self.word.load(Ordering::Relaxed) & TASKS != 0;
        crate::table::purge_on_drop::<P>(marked, self.key());
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use super::*;
    use core::pin::Pin;
    use std::sync::Arc;

    /// After an interrupt has bumped the epoch, an uncontended lock must not
    /// carry `PARKED`, or every later unlock would pay for a futex wake.
    #[test]
    fn interrupt_leaves_uncontended_locking_syscall_free() {
        let m: Arc<RawMutex> = Arc::new(RawMutex::new());
        let node = Arc::new(Waiter::new());
        m.lock();
        let blocked = {
            let (m, node) = (m.clone(), node.clone());
            std::thread::spawn(move || {
                // SAFETY: the Arc keeps the node at one address.
                let node = unsafe { Pin::new_unchecked(&*node) };
                m.lock_interruptible(node)
            })
        };
        while m.word.load(Ordering::Relaxed) & PARKED == 0 && !blocked.is_finished() {
            std::thread::yield_now();
        }
        node.interrupt();
        assert!(blocked.join().unwrap().is_err());
        // SAFETY: locked above.
        unsafe { m.unlock() };
        assert_ne!(
            m.word.load(Ordering::Relaxed) >> 3,
            0,
            "the interrupt bumped the epoch"
        );
        for _ in 0..3 {
            m.lock();
            assert_eq!(
                m.word.load(Ordering::Relaxed) & PARKED,
                0,
                "uncontended lock set PARKED"
            );
            // SAFETY: locked just above.
            unsafe { m.unlock() };
        }
        assert!(!m.is_locked());
    }
}
