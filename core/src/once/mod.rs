//! `OnceState`: run an initializer once; a failed or panicking one lets the
//! next caller try.
//!
//! # The word
//!
//! | bits   | meaning |
//! |--------|---------|
//! | 0..=1  | `INCOMPLETE` (0), `RUNNING` (1), `COMPLETE` (2); never 3, so bit 1 alone says complete |
//! | 2      | `SLEEPERS`: a thread may sleep on the word, or a future waits in the [`TaskTable`](crate::table::TaskTable) |
//! | 3..=31 | epoch, bumped by an interrupter |
//!
//! The first caller to find `INCOMPLETE` moves it to `RUNNING` and gets a
//! [`OnceGuard`]. [`OnceGuard::complete`] publishes `COMPLETE` (Release) and
//! wakes sleepers; dropping the guard without completing (the initializer
//! failed or panicked) returns to `INCOMPLETE` and wakes every sleeper, one of
//! which becomes the next runner. The fast path is one Acquire load.
//!
//! A future waits ([`OnceState::begin_async`]) in the task table under the
//! word's address: it sets `SLEEPERS` on a running word and links its
//! node under the bucket lock, and the runner's finish, which clears
//! `SLEEPERS` as it leaves `RUNNING`, wakes every future of the table
//! after the futex sleepers. (The word has no free bit for futures alone:
//! the epoch takes every bit from 3 up. So a contended finish with only
//! threads asleep also looks in the table once.)

mod task;

pub use task::BeginFuture;

use core::marker::PhantomData;
use core::pin::Pin;

use crate::park::{DefaultPark, Park};
use crate::sync::{AtomicU32, Ordering};
use crate::waiter::{Interrupted, Waiter};

const STATE: u32 = 3;
const INCOMPLETE: u32 = 0;
const RUNNING: u32 = 1;
const COMPLETE: u32 = 2;
const SLEEPERS: u32 = 4;

/// What [`OnceState::begin`] found.
#[derive(Debug)]
#[must_use]
pub enum Begin<'a, P: Park = DefaultPark> {
    /// Already complete: nothing to do.
    Complete,
    /// The caller runs the initializer; it must call
    /// [`OnceGuard::complete`] on success.
    Run(OnceGuard<'a, P>),
}

/// The state of a run-once cell, without the value; see the
/// [module docs](self).
///
/// ```
/// use concur_core::{Begin, OnceState};
///
/// let once: OnceState = OnceState::new();
/// if let Begin::Run(guard) = once.begin() {
///     // ... initialize ...
///     guard.complete();
/// }
/// assert!(once.is_complete());
/// assert!(matches!(once.begin(), Begin::Complete));
/// ```
#[derive(Debug)]
pub struct OnceState<P: Park = DefaultPark> {
    word: AtomicU32,
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> Default for OnceState<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Park> OnceState<P> {
    crate::sync::const_fn! {
        /// A state that has not run.
        pub fn new() -> Self {
            Self { word: AtomicU32::new(INCOMPLETE), _park: PhantomData }
        }
    }

    /// Whether an initializer completed. An Acquire load: the initializer's
    /// writes are visible after it returns `true`.
    #[inline]
    pub fn is_complete(&self) -> bool {
        // One bit test: the state bits are never both set, so COMPLETE's
        // bit alone says COMPLETE (`and` + `cmp` made a loop over many
        // cells 2.4x slower than `OnceLock`'s one test).
        self.word.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Returns `Complete`, or makes the caller the runner, sleeping while
    /// another runner is running.
    #[inline]
    pub fn begin(&self) -> Begin<'_, P> {
        if self.is_complete() {
            return Begin::Complete;
        }
        match self.begin_contended(None) {
            Ok(begin) => begin,
            Err(Interrupted) => unreachable!("concur-core: uninterruptible wait interrupted"),
        }
    }

    /// Like [`begin`](Self::begin), but gives up when `node` is interrupted.
    #[inline]
    pub fn begin_interruptible(&self, node: Pin<&Waiter<P>>) -> Result<Begin<'_, P>, Interrupted> {
        if self.is_complete() {
            return Ok(Begin::Complete);
        }
        self.begin_interruptible_cold(&node)
    }

    #[cold]
    fn begin_interruptible_cold(&self, node: &Waiter<P>) -> Result<Begin<'_, P>, Interrupted> {
        // Becoming the runner needs no waiting, so no node.
        let word = self.word.load(Ordering::Acquire);
        if word & STATE == INCOMPLETE
            && self
                .word
                .compare_exchange(word, word | RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return Ok(Begin::Run(OnceGuard { state: self }));
        }
        let _scope = node.begin_on(&self.word)?;
        self.begin_contended(Some(node))
    }

    #[cold]
    fn begin_contended(&self, node: Option<&Waiter<P>>) -> Result<Begin<'_, P>, Interrupted> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            match word & STATE {
                COMPLETE => return Ok(Begin::Complete),
                INCOMPLETE => match self.word.compare_exchange_weak(
                    word,
                    (word & !STATE) | RUNNING,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Ok(Begin::Run(OnceGuard { state: self })),
                    Err(now) => word = now,
                },
                _ => {
                    if word & SLEEPERS == 0 {
                        if let Err(now) = self.word.compare_exchange_weak(
                            word,
                            word | SLEEPERS,
                            Ordering::Acquire,
                            Ordering::Acquire,
                        ) {
                            word = now;
                            continue;
                        }
                        word |= SLEEPERS;
                    }
                    if node.is_some_and(Waiter::is_interrupted) {
                        return Err(Interrupted);
                    }
                    crate::waiter::sleep(node, &self.word, word, || {});
                    word = self.word.load(Ordering::Acquire);
                }
            }
        }
    }

    /// Leaves `RUNNING` for `to`, waking sleepers if there are any.
    fn finish(&self, to: u32) {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            debug_assert_eq!(word & STATE, RUNNING);
            let new = (word & !(STATE | SLEEPERS)) | to;
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        if word & SLEEPERS != 0 {
            P::wake_all(&self.word);
            self.wake_tasks();
        }
    }
}

/// As for the mutex: a once state whose word says futures may wait can
/// only be dropped with those futures leaked; their nodes leave the table.
impl<P: Park> Drop for OnceState<P> {
    fn drop(&mut self) {
        let marked = self.word.load(Ordering::Relaxed) & SLEEPERS != 0;
        crate::table::purge_on_drop::<P>(marked, self.key());
    }
}

/// Proof that the holder is running the initializer. Dropping it without
/// [`complete`](Self::complete) (an error or a panic) gives the next caller
/// the turn.
#[derive(Debug)]
#[must_use = "dropping the guard marks the initialization as failed"]
pub struct OnceGuard<'a, P: Park = DefaultPark> {
    state: &'a OnceState<P>,
}

impl<P: Park> OnceGuard<'_, P> {
    /// Marks the initialization complete, publishing its writes.
    pub fn complete(self) {
        self.state.finish(COMPLETE);
        core::mem::forget(self);
    }
}

impl<P: Park> Drop for OnceGuard<'_, P> {
    fn drop(&mut self) {
        self.state.finish(INCOMPLETE);
    }
}
