//! The waiter node: a blocked thread's handle for being granted or interrupted.
//!
//! A [`Waiter`] lives on the blocked thread's stack (pinned for as long as it
//! is in use) and owns one futex word. It serves two kinds of wait:
//!
//! * **Queued waits** (the semaphore, the condvar): the node is linked into
//!   the primitive's FIFO list and its owner sleeps on the node's own word.
//!   A granter (or notifier) flips `DONE` and wakes that word.
//! * **Word waits** (mutex, rwlock, wait counter, once): the owner sleeps on a
//!   word of the primitive. The node records that word as its *target* so an
//!   interrupter can reach the sleeper: it bumps the target's epoch (so a
//!   sleeper about to sleep sees a changed value) and wakes the target.
//!
//! [`Waiter::interrupt`] may be called from any thread at any time, before,
//! during or after a wait. The first call wins; an interrupted node stays
//! interrupted, and every later call with it that would have to block fails
//! at once (a call that can complete without blocking still does).
//!
//! # The node word
//!
//! | bit        | set by                  | cleared by            | meaning |
//! |------------|-------------------------|-----------------------|---------|
//! | `DONE`     | a lock holder (granter) | owner, next `begin`   | the queued wait has its outcome |
//! | `INTERRUPTED` | `interrupt`          | never                 | the wait must end with `Interrupted` |
//! | `WAKING`   | `interrupt`             | `interrupt`           | an interrupter is touching the target word |
//! | `TARGETED` | owner, before a word wait | owner, after it     | `target` points at a live primitive word |
//! | `IN_USE`   | owner, `begin`          | owner, `end`          | a wait is using this node |
//! | `TIMED_OUT` | owner, when its deadline passed | never       | set together with `INTERRUPTED`: the interrupt was the node's own deadline |
//! | `TASK`     | owner, `begin_task`     | owner, `end`          | the wait is a future's: wakes go to its registered waker, not the word |
//! | `VISIT`    | a granter, with `DONE`  | the granter, once it took the waker | the granter still touches the node (its waker slot) |
//! | `REGISTERING` | owner, while it stores its waker | owner | the waker slot is the owner's |
//! | `SLEEPER`  | owner, waiting for a visitor to leave | the visitor that leaves | wake the word when `VISIT` or `WAKING` clears |
//!
//! # Deadlines
//!
//! A node made with [`Waiter::with_deadline`] carries a deadline of its
//! parker's clock, and every wait with it sleeps no later than that. When
//! the parker reports the deadline passed, the owner interrupts its own node
//! (`TIMED_OUT | INTERRUPTED`, no wake: nobody else sleeps on the node) and
//! goes round its wait loop once more, exactly as after any other return
//! from the parker: a lock that has come free is still taken, and a wait
//! that must go on instead sees the interrupt and leaves the way an
//! interrupted wait leaves (partial grants passed on, a writer's
//! announcement withdrawn). Unlike an interrupter, a deadline does not
//! touch the primitive's word: the owner is awake and needs no wake.
//!
//! Why `TARGETED` and `WAKING` live in the same word: the interrupter sets
//! `WAKING` with a compare-exchange that also reads `TARGETED`, and the owner
//! clears `TARGETED` with a read-modify-write that also reads `WAKING`. Both
//! are read-modify-writes of one location, so they are totally ordered:
//! either the interrupter saw `TARGETED` clear and never touches the target,
//! or the owner sees `WAKING` and waits for it to clear before its wait
//! (and the primitive's borrow) can end. No store-buffering argument needed.
//!
//! # Who may follow a pointer, and until when
//!
//! A node leads an interrupter to a primitive only inside that window: the
//! target is followed between a `TARGETED` read and the clearing of
//! `WAKING`, which the owner's wait outlasts on every path out (a return, a
//! panic, a parker that unwinds). The one way a wait could end without
//! passing `end` is a leaked step driver, which is why starting one is
//! `unsafe`; and a node dropped while in use aborts (its `Drop`), so a queue
//! never keeps a pointer into freed memory either. Waits added after these
//! (the async ones, the condvar) follow the stricter form of the rule: a
//! node holds no pointer to a primitive at all, and an interrupter only
//! flips the node's own word and wakes it by address.
//!
//! # Waits made by futures
//!
//! A future's node (`TASK`) wakes a registered waker instead of a word;
//! the `task` module says who may touch the waker slot, and when.
//!
//! The code: this file has the node, its word and the claiming and ending
//! of a wait; `ending` has the two ways a wait ends early, an interrupt and
//! a passed deadline; `task` the waker slot of a future's node.

use core::marker::{PhantomData, PhantomPinned};
use core::ptr;
use core::task::Waker;

mod ending;
mod task;
mod until;

use crate::park::{wait_or_clean_up, DefaultPark, Park};
use crate::sync::{abort, AtomicPtr, AtomicU32, Ordering, UnsafeCell};
pub(crate) use ending::sleep;
pub use until::UntilInterrupted;

pub(crate) const DONE: u32 = 1;
pub(crate) const INTERRUPTED: u32 = 2;
const WAKING: u32 = 4;
const TARGETED: u32 = 8;
const IN_USE: u32 = 16;
const TIMED_OUT: u32 = 32;
pub(crate) const TASK: u32 = 64;
pub(crate) const VISIT: u32 = 128;
pub(crate) const REGISTERING: u32 = 256;
const SLEEPER: u32 = 512;

/// The amount an interrupter adds to a target word.
///
/// Every word a waiter can sleep on keeps its low three bits for state and
/// treats the rest as a wrapping epoch, so adding this changes the word's
/// value without changing its meaning.
pub const EPOCH_UNIT: u32 = 8;

/// Why a wait ended early: its [`Waiter`] was interrupted, or its deadline
/// passed ([`Waiter::timed_out`] tells which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interrupted;

impl core::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("wait interrupted")
    }
}

/// What a queued (semaphore) wait ended with, written by the lock holder
/// that unlinked the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pending,
    Granted,
    Closed,
    Interrupted,
    /// A barging semaphore offered permits to the head without granting
    /// them: the owner takes them if they are still there, or queues again
    /// at its arrival place.
    Retry,
}

/// The fields a queued wait shares with lock holders. Protected by the
/// list lock it is linked under (a semaphore's, a condvar's, or a task
/// table bucket's) while linked.
#[derive(Debug)]
pub(crate) struct Queued<P: Park> {
    pub(crate) prev: *const Waiter<P>,
    pub(crate) next: *const Waiter<P>,
    pub(crate) linked: bool,
    /// Permits asked for.
    pub(crate) requested: u64,
    /// Permits still missing; `requested - need` have been granted.
    pub(crate) need: u64,
    pub(crate) outcome: Outcome,
    /// Arrival order among the semaphore's waits (a waiter moved between
    /// its two lists keeps its place by it).
    pub(crate) ticket: u64,
    /// Linked into the list of requests above the capacity, not the queue.
    pub(crate) oversized: bool,
    /// Times a barging semaphore offered this wait permits that others
    /// then took; at `FAIR_AFTER` it gets a hand-off instead.
    pub(crate) passes: u32,
    /// A condvar waiter notified by `notify_all`: the word of the next
    /// waiter of the chain, to wake once this one holds the mutex (or null).
    pub(crate) chain: *const AtomicU32,
    /// A future's node in a [`TaskTable`](crate::table::TaskTable): the
    /// key (the lock's address) it is linked under.
    pub(crate) key: usize,
}

/// A blocked thread's node: see the [module docs](self).
///
/// Create one per blocking call (or reuse one for sequential calls), pin it,
/// hand it to the blocking call, and give `&Waiter` to whoever may need to
/// interrupt that call.
///
/// ```
/// use core::pin::pin;
/// use concur_core::{RawSemaphore, Waiter, AcquireError};
///
/// let sem: RawSemaphore = RawSemaphore::new(0);
/// let node = pin!(Waiter::new());
/// node.interrupt(); // e.g. the caller's context was already cancelled
/// assert_eq!(sem.acquire(node.as_ref(), 1), Err(AcquireError::Interrupted));
/// ```
#[derive(Debug)]
pub struct Waiter<P: Park = DefaultPark> {
    word: AtomicU32,
    target: AtomicPtr<AtomicU32>,
    deadline: Option<P::Deadline>,
    pub(crate) queued: UnsafeCell<Queued<P>>,
    /// A future's waker (`TASK` waits); see "Waits made by futures".
    waker: UnsafeCell<Option<Waker>>,
    /// The next task node a granter wakes after its list lock (see
    /// `WakeBatch`); written and read by that granter while it holds
    /// `VISIT` on this node.
    pub(crate) wake_next: AtomicPtr<Waiter<P>>,
    _pinned: PhantomPinned,
    _park: PhantomData<fn() -> P>,
}

// SAFETY: the atomics are shared freely; `queued` is only touched by the
// owner while the node is not linked, or by holders of the list lock of the
// one semaphore, condvar or task table bucket it is linked into, so sharing the node
// between threads cannot race on it. The raw pointers inside `queued` point
// at other pinned nodes under the same lock discipline.
unsafe impl<P: Park> Sync for Waiter<P> {}
// SAFETY: a node that can be moved to another thread is not in use (a node
// in use is pinned and borrowed by its wait); its pointers are then dead.
unsafe impl<P: Park> Send for Waiter<P> {}

impl<P: Park> Default for Waiter<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Park> Waiter<P> {
    crate::sync::const_fn! {
        /// A fresh, uninterrupted node without a deadline.
        pub fn new() -> Self {
            Self::until(None)
        }
    }

    crate::sync::const_fn! {
        /// A fresh node whose waits end (as if interrupted, with
        /// [`timed_out`](Self::timed_out) set) once `deadline` has passed,
        /// measured on the parker's clock. A wait that need not block still
        /// succeeds after the deadline.
        ///
        /// ```
        /// # #[cfg(all(feature = "futex", target_os = "linux"))] {
        /// use core::pin::pin;
        /// use core::time::Duration;
        /// use concur_core::{MonotonicDeadline, RawMutex, Waiter};
        ///
        /// let m: RawMutex = RawMutex::new();
        /// let soon = MonotonicDeadline::now().saturating_add(Duration::from_millis(1));
        /// let node = pin!(Waiter::with_deadline(soon));
        /// m.lock();
        /// assert!(m.lock_interruptible(node.as_ref()).is_err()); // held: waits, then times out
        /// assert!(node.timed_out());
        /// // SAFETY: locked above by this thread.
        /// unsafe { m.unlock() };
        /// # }
        /// ```
        pub fn with_deadline(deadline: P::Deadline) -> Self {
            Self::until(Some(deadline))
        }
    }

    crate::sync::const_fn! {
        fn until(deadline: Option<P::Deadline>) -> Self {
            Self {
                word: AtomicU32::new(0),
                target: AtomicPtr::new(ptr::null_mut()),
                deadline,
                queued: UnsafeCell::new(Queued {
                    prev: ptr::null(),
                    next: ptr::null(),
                    linked: false,
                    requested: 0,
                    need: 0,
                    outcome: Outcome::Pending,
                    ticket: 0,
                    oversized: false,
                    passes: 0,
                    chain: ptr::null(),
                    key: 0,
                }),
                waker: UnsafeCell::new(None),
                wake_next: AtomicPtr::new(ptr::null_mut()),
                _pinned: PhantomPinned,
                _park: PhantomData,
            }
        }
    }

    /// Whether [`interrupt`](Self::interrupt) has been called, or the
    /// node's deadline has ended a wait.
    #[inline]
    pub fn is_interrupted(&self) -> bool {
        self.word.load(Ordering::Acquire) & INTERRUPTED != 0
    }

    /// Whether a wait ended because the node's deadline passed (before any
    /// [`interrupt`](Self::interrupt) call).
    #[inline]
    pub fn timed_out(&self) -> bool {
        self.word.load(Ordering::Acquire) & TIMED_OUT != 0
    }

    /// The deadline the node was made with.
    #[inline]
    pub fn deadline(&self) -> Option<P::Deadline> {
        self.deadline
    }

    /// The node word, for queued waits that sleep on it.
    #[inline]
    pub(crate) fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// Claims the node for one wait.
    ///
    /// Fails if the node is already interrupted. Panics if another wait is
    /// using it: two waits sharing one node would corrupt the wait list.
    fn begin(&self, kind: u32) -> Result<(), Interrupted> {
        let prev = self.word.fetch_or(IN_USE | kind, Ordering::Acquire);
        assert!(
            prev & IN_USE == 0,
            "concur-core: a Waiter was used by two waits at once"
        );
        if prev & DONE != 0 {
            self.word.fetch_and(!DONE, Ordering::Relaxed);
        }
        if prev & INTERRUPTED != 0 {
            self.word.fetch_and(!(IN_USE | kind), Ordering::Relaxed);
            return Err(Interrupted);
        }
        Ok(())
    }

    /// Claims the node for a wait that sleeps on `target`, a word of a
    /// primitive borrowed for the duration of the wait. The returned guard
    /// ends the wait when dropped, on every path out (a panic included), so
    /// an interrupter can never reach `target` after the borrow ends.
    pub(crate) fn begin_on<'a>(
        &'a self,
        target: &AtomicU32,
    ) -> Result<WaitScope<'a, P>, Interrupted> {
        self.begin(0)?;
        self.target.store(
            target as *const AtomicU32 as *mut AtomicU32,
            Ordering::Relaxed,
        );
        self.word.fetch_or(TARGETED, Ordering::Release);
        Ok(WaitScope { node: self })
    }

    /// Claims the node for a queued wait; the guard ends it when dropped.
    pub(crate) fn begin_queued(&self) -> Result<WaitScope<'_, P>, Interrupted> {
        self.begin(0)?;
        Ok(WaitScope { node: self })
    }

    /// Releases the node after a wait. If an interrupter is still touching
    /// the target word, waits for it to finish first, so the caller may end
    /// its borrow of the primitive as soon as this returns.
    fn end(&self) {
        // (A future's wait ends in `end_task` instead.)
        let mut word = self.word.fetch_and(!(TARGETED | IN_USE), Ordering::AcqRel);
        while word & WAKING != 0 {
            wait_or_clean_up::<P>(&self.word, word & !(TARGETED | IN_USE), || {
                // The parker unwound, and the unwind is about to end the
                // caller's borrow of the target: the interrupter touching
                // it must finish first. It is a few instructions from done.
                while self.word.load(Ordering::Acquire) & WAKING != 0 {
                    P::yield_now();
                }
            });
            word = self.word.load(Ordering::Acquire);
        }
    }

    /// Raw access to the queued-wait fields.
    ///
    /// # Safety
    /// The caller holds the list lock of the semaphore, condvar or task
    /// table bucket this node is linked into, or is the owner and the node
    /// is not linked.
    #[inline]
    pub(crate) unsafe fn queued_mut<R>(&self, f: impl FnOnce(&mut Queued<P>) -> R) -> R {
        // SAFETY: exclusive access is the caller's obligation, stated above.
        self.queued.with_mut(|q| f(unsafe { &mut *q }))
    }
}

/// Drop check: a node still in use when it is dropped means a wait was
/// abandoned without ending (its driver leaked), so a queue or an
/// interrupter may still point at this memory. Pinning guarantees this drop
/// runs before the memory is reused, so aborting here turns what would be a
/// use-after-free into a deterministic stop.
impl<P: Park> Drop for Waiter<P> {
    fn drop(&mut self) {
        if self.word.load(Ordering::Acquire) & IN_USE != 0 {
            abort("concur-core: a Waiter was dropped while a wait was still using it (a leaked step driver?)");
        }
    }
}

/// An active wait on a node: ends it (see `Waiter::end`) when dropped.
#[derive(Debug)]
pub(crate) struct WaitScope<'a, P: Park> {
    node: &'a Waiter<P>,
}

impl<P: Park> Drop for WaitScope<'_, P> {
    fn drop(&mut self) {
        self.node.end();
    }
}
