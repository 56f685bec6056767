//! The rwlock's blocked read and write, one step at a time.

use core::pin::Pin;

use super::Progress;
use crate::park::Park;
use crate::rwlock::{Attempt, RawRwLock};
use crate::sync::AtomicU32;
use crate::waiter::{Interrupted, WaitScope, Waiter};

/// Which lock an [`RwLockStep`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RwMode {
    /// A read lock: sleeps on the readers' wake word.
    Read,
    /// The write lock: counted among the waiting writers, sleeps on the
    /// writers' wake word.
    Write,
}

/// A blocked [`RawRwLock::read_interruptible`] or
/// [`RawRwLock::write_interruptible`], from [`RawRwLock::start_read`] or
/// [`RawRwLock::start_write`].
#[derive(Debug)]
pub struct RwLockStep<'a, P: Park> {
    lock: &'a RawRwLock<P>,
    node: &'a Waiter<P>,
    mode: RwMode,
    sleep_value: u32,
    scope: Option<WaitScope<'a, P>>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "step")))]
impl<P: Park> RawRwLock<P> {
    /// Starts [`read_interruptible`](Self::read_interruptible), without
    /// spinning; where it would sleep, returns the blocked wait.
    ///
    /// # Safety
    /// The returned step, and every step a `poll` hands back, is dropped or
    /// polled to [`Progress::Done`]; it is never leaked (see the
    /// [step module docs](crate::step)).
    pub unsafe fn start_read<'a>(
        &'a self,
        node: Pin<&'a Waiter<P>>,
    ) -> Progress<Result<(), Interrupted>, RwLockStep<'a, P>> {
        if self.try_read() {
            return Progress::Done(Ok(()));
        }
        RwLockStep::start(self, node.get_ref(), RwMode::Read)
    }

    /// Starts [`write_interruptible`](Self::write_interruptible), without
    /// spinning; where it would sleep, returns the blocked wait (counted
    /// among the waiting writers until it finishes).
    ///
    /// # Safety
    /// The returned step, and every step a `poll` hands back, is dropped or
    /// polled to [`Progress::Done`]; it is never leaked (see the
    /// [step module docs](crate::step)).
    pub unsafe fn start_write<'a>(
        &'a self,
        node: Pin<&'a Waiter<P>>,
    ) -> Progress<Result<(), Interrupted>, RwLockStep<'a, P>> {
        if self.try_write() {
            return Progress::Done(Ok(()));
        }
        RwLockStep::start(self, node.get_ref(), RwMode::Write)
    }
}

impl<'a, P: Park> RwLockStep<'a, P> {
    /// Claims `node` for a wait on the mode's wake word and runs the first
    /// pass (the lock was busy a moment ago).
    fn start(
        lock: &'a RawRwLock<P>,
        node: &'a Waiter<P>,
        mode: RwMode,
    ) -> Progress<Result<(), Interrupted>, Self> {
        let scope = match node.begin_on(Self::wake_word_of(lock, mode)) {
            Ok(scope) => scope,
            Err(err) => return Progress::Done(Err(err)),
        };
        if mode == RwMode::Write {
            lock.announce_writer();
        }
        let step = RwLockStep {
            lock,
            node,
            mode,
            sleep_value: 0,
            scope: Some(scope),
        };
        step.attempt()
    }

    fn wake_word_of(lock: &'a RawRwLock<P>, mode: RwMode) -> &'a AtomicU32 {
        match mode {
            RwMode::Read => &lock.readers_wake,
            RwMode::Write => &lock.writers_wake,
        }
    }

    /// Whether this wait is for a read or the write lock.
    pub fn mode(&self) -> RwMode {
        self.mode
    }

    /// The word the blocked waiter sleeps on, and the value it sleeps while.
    pub fn sleep_word(&self) -> (&'a AtomicU32, u32) {
        (Self::wake_word_of(self.lock, self.mode), self.sleep_value)
    }

    /// Runs the waiter's loop once more, as after a wake.
    pub fn poll(self) -> Progress<Result<(), Interrupted>, Self> {
        self.attempt()
    }

    /// One pass of the mode's contended loop, without spinning.
    fn pass(&self) -> Attempt {
        match self.mode {
            RwMode::Read => self.lock.read_attempt(Some(self.node), &mut 0),
            RwMode::Write => self.lock.write_attempt(Some(self.node)),
        }
    }

    fn attempt(mut self) -> Progress<Result<(), Interrupted>, Self> {
        match self.pass() {
            Attempt::Done(result) => {
                self.scope = None;
                Progress::Done(result)
            }
            Attempt::Sleep(value) => {
                self.sleep_value = value;
                Progress::Waiting(self)
            }
        }
    }
}

impl<P: Park> Drop for RwLockStep<'_, P> {
    fn drop(&mut self) {
        if self.scope.is_some() {
            // An interrupted waiter's next pass always finishes: it takes a
            // free lock or gives up (a writer withdrawing from the count).
            // Give a taken lock back.
            self.node.interrupt();
            if let Attempt::Done(Ok(())) = self.pass() {
                match self.mode {
                    // SAFETY: the read lock was just taken for this step.
                    RwMode::Read => unsafe { self.lock.read_unlock() },
                    // SAFETY: the write lock was just taken for this step.
                    RwMode::Write => unsafe { self.lock.write_unlock() },
                }
            }
            self.scope = None;
        }
    }
}
