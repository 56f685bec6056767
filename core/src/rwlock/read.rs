//! The read paths of [`RawRwLock`]: plain, interruptible and recursive.

use core::pin::Pin;

use super::{
    read_lockable, readers, Attempt, RawRwLock, MAX_READERS, READERS_PARKED, WRITERS_MASK,
    WRITE_LOCKED,
};
use crate::park::Park;
use crate::sync::{spin_hint, Ordering, SPIN_LIMIT};
use crate::waiter::{Interrupted, Waiter};

impl<P: Park> RawRwLock<P> {
    /// Takes a read lock if no writer holds or awaits the lock.
    #[inline]
    pub fn try_read(&self) -> bool {
        self.add_reader_while(read_lockable)
    }

    /// Adds a reader while `lockable` says the state lets one in.
    #[inline]
    fn add_reader_while(&self, lockable: impl Fn(u64) -> bool) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while lockable(state) {
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

    /// Takes a read lock if no writer *holds* the lock, even while writers
    /// wait. A thread that holds a read lock always succeeds.
    #[inline]
    pub fn try_read_recursive(&self) -> bool {
        self.add_reader_while(|state| state & WRITE_LOCKED == 0 && readers(state) < MAX_READERS)
    }

    /// Takes a read lock without queueing behind waiting writers: at once
    /// unless a writer holds the lock, in which case it waits as
    /// [`read`](Self::read) does (the caller then holds no read lock of
    /// this one, so it cannot be what the writers wait for). Use it where a
    /// thread may read-lock again while it holds a read lock: a plain
    /// `read` there deadlocks once a writer waits between the two.
    #[inline]
    pub fn read_recursive(&self) {
        if !self.try_read_recursive() {
            let _ = self.read_contended(None);
        }
    }
}
