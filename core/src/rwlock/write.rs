//! The write paths of [`RawRwLock`], the writers' waiting count, and the
//! downgrade of a writer to a reader.

use core::pin::Pin;

use super::{unlocked, Attempt, RawRwLock, WRITER_UNIT, WRITE_LOCKED};
use crate::park::Park;
use crate::spin::SpinWait;
use crate::sync::Ordering;
use crate::waiter::{Interrupted, Waiter};

impl<P: Park> RawRwLock<P> {
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
        // Spin, then yield (the `spin` module's schedule), before announcing
        // ourselves: announcing stops readers, and a sleep costs a wake.
        let mut spin = SpinWait::<P>::new();
        while spin.spin() {
            if self.try_write() {
                return Ok(());
            }
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

    /// Turns the write lock into a read lock, in one step: no writer can
    /// take the lock in between, and parked readers are let in unless a
    /// writer waits (writer preference holds for them as before).
    ///
    /// # Safety
    /// The write lock is held, by the caller or on its behalf; afterwards a
    /// read lock is held instead (release it with
    /// [`read_unlock`](Self::read_unlock)).
    #[inline]
    pub unsafe fn downgrade(&self) {
        // WRITE_LOCKED off and one reader on, in one read-modify-write.
        let state = self
            .state
            .fetch_add(1u64.wrapping_sub(WRITE_LOCKED), Ordering::Release)
            .wrapping_add(1u64.wrapping_sub(WRITE_LOCKED));
        debug_assert!(
            state & WRITE_LOCKED == 0 && super::readers(state) == 1,
            "concur-core: RawRwLock::downgrade without the write lock"
        );
        if state & (super::READERS_PARKED | super::TASKS) != 0 {
            self.wake_after_release(state);
        }
    }
}
