//! `RawCondvar`: a condition variable for [`RawMutex`] whose waiters are
//! intrusive nodes, so a cancel or a deadline ends exactly one wait.
//!
//! # Words
//!
//! `waiters` (`usize`): nodes linked into the list; written under the list
//! lock, read without it by the notify fast path. A waiter links itself
//! (and counts itself) before it unlocks the mutex, so a notifier that
//! changed the condition under the mutex and notifies afterwards sees it.
//!
//! Each waiter sleeps on its own node word (see [`Waiter`]):
//!
//! | bit           | set by                 | meaning |
//! |---------------|------------------------|---------|
//! | `DONE`        | a notifier, under the list lock | unlinked with an outcome: notified, or skipped because interrupted |
//! | `INTERRUPTED` | the interrupter, or the node's own deadline | the wait should end early |
//!
//! Under the list lock (a [`RawMutex`]): the FIFO list of waiting nodes and
//! the mutex they wait with. A condvar is bound to one mutex while anyone
//! waits; a wait with another mutex then panics (a caller bug: the
//! notifier's changes would not be ordered with the waiter's checks).
//!
//! # Interrupts
//!
//! An interrupter flips the node's `INTERRUPTED` bit and wakes the owner; it
//! never touches the list. The owner then leaves the list under the list
//! lock, unless a notifier unlinked it first, in which case the outcome the
//! notifier wrote stands. Notifiers skip interrupted nodes (they finish them
//! as interrupted) and give the notification to the next waiter instead, so
//! a cancelled waiter never swallows a `notify_one`.
//!
//! # `notify_all` without a stampede: the chain
//!
//! Waking every waiter at once makes them all run into the mutex that the
//! first of them takes. Instead `notify_all` unlinks every waiter in one
//! step, stores in each the address of the word of the waiter two behind
//! it, marks them `DONE` from the tail to the head (so whoever sees its own
//! `DONE` finds the ones behind it done too), and wakes only the first two.
//! Each waiter, once it holds the mutex again, wakes the one two behind
//! it. So while one waiter holds the mutex the next is already awake (its
//! wake-up overlaps the holder's turn), and the chain itself wakes no more
//! than two waiters ahead of the mutex: a chain one link wide paid every wake-up in series
//! (`condvar_notify_all_8`: 85 µs against 57 µs two wide, parking_lot's
//! requeue 49 µs, on the machine measured). Waking is by address only (see
//! [`Park`]), so a waiter that woke early and returned is harmless.
//! Every path out of a notified wait wakes its chain word, an unwind
//! included, so the chain cannot break.
//!
//! # Spinning first
//!
//! A waiter spins and yields through the mutex's schedule (a few spin
//! hints, then a few yields of the processor, as in [`RawMutex`]) before
//! it sleeps on its word, looking for `DONE` or `INTERRUPTED` between
//! rounds. Where the condition turns over quickly (a hand-off between two
//! threads, a queue kept near empty) the notification then finds its
//! waiter still running, and neither side pays for a futex sleep and the
//! wake-up latency after it: `condvar_pingpong` went from 30 µs a round
//! trip to 1 µs, std and parking_lot, which sleep at once, stayed at
//! 30 µs. A wait that does sleep has spent about 4 µs of processor time
//! first on an otherwise idle processor (7 `sched_yield`s); with other
//! threads ready to run, the yields hand the processor to them. A
//! deadline is not looked at while spinning: the schedule is bounded in
//! steps, a few microseconds.
//!
//! The code: this file has the type, [`RawCondvar::wait`] and the
//! notifiers; `wait` links a waiter, ends its wait and holds the guard
//! that ends it on every path.

mod task;
mod wait;

pub use task::CondvarFuture;

use core::pin::Pin;
use core::ptr;

use crate::list::WaitList;
use crate::locked::{self, WakeBatch};
use crate::mutex::RawMutex;
use crate::park::{DefaultPark, Park};
use crate::spin::SpinWait;
use crate::sync::{AtomicU32, AtomicUsize, Ordering, UnsafeCell};
use crate::waiter::{Interrupted, Outcome, Waiter, DONE, INTERRUPTED, TASK};
#[cfg(feature = "step")]
pub(crate) use wait::Linked;

/// The state behind the list lock.
#[derive(Debug)]
struct Waiting<P: Park> {
    list: WaitList<P>,
    /// The mutex the linked waiters wait with (null while nobody waits).
    mutex: *const (),
}

/// A condition variable for [`RawMutex`]; see the [module docs](self).
///
/// ```
/// use core::pin::pin;
/// use concur_core::{RawCondvar, RawMutex, Waiter};
///
/// let (mutex, ready): (RawMutex, RawCondvar) = (RawMutex::new(), RawCondvar::new());
/// mutex.lock();
/// let node = pin!(Waiter::new());
/// node.interrupt(); // e.g. the caller's context had already ended
/// // SAFETY: this thread holds `mutex`.
/// assert!(unsafe { ready.wait(node.as_ref(), &mutex) }.is_err());
/// assert!(mutex.is_locked(), "held again on return");
/// // SAFETY: locked above.
/// unsafe { mutex.unlock() };
/// assert_eq!(ready.notify_all(), 0);
/// ```
#[derive(Debug)]
pub struct RawCondvar<P: Park = DefaultPark> {
    waiters: AtomicUsize,
    lock: RawMutex<P>,
    waiting: UnsafeCell<Waiting<P>>,
}

// SAFETY: the list's raw pointers are only followed under `lock`, and they
// point at pinned nodes that stay linked only while their owner waits (the
// owner unlinks itself, or is unlinked, before `wait` returns). `mutex` is
// only compared, never followed. Everything else is atomic.
unsafe impl<P: Park> Send for RawCondvar<P> {}
// SAFETY: as above: shared access to the list is serialised by `lock`.
unsafe impl<P: Park> Sync for RawCondvar<P> {}

impl<P: Park> Default for RawCondvar<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Park> RawCondvar<P> {
    crate::sync::const_fn! {
        /// A condition variable nobody waits on.
        pub fn new() -> Self {
            Self {
                waiters: AtomicUsize::new(0),
                lock: RawMutex::new(),
                waiting: UnsafeCell::new(Waiting { list: WaitList::new(), mutex: ptr::null() }),
            }
        }
    }

    /// Waits currently linked (a racy snapshot).
    #[inline]
    pub fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Unlocks `mutex`, waits until notified or until `node` is interrupted
    /// (or its deadline passes), and locks `mutex` again.
    ///
    /// `Ok(())`: notified (or, as with every condition variable, woken for
    /// no reason the caller can see: re-check the condition). `Err`: the
    /// node was interrupted before a notification reached it; no
    /// notification was used up. An already interrupted node returns
    /// `Err` at once, without unlocking.
    ///
    /// # Safety
    /// The calling thread holds `mutex` (locked through it and not
    /// unlocked since). It holds it again when this returns, on every path,
    /// an unwind included.
    ///
    /// # Panics
    /// If others wait on this condvar with a different mutex; `mutex` is
    /// still held then.
    pub unsafe fn wait(
        &self,
        node: Pin<&Waiter<P>>,
        mutex: &RawMutex<P>,
    ) -> Result<(), Interrupted> {
        let node = node.get_ref();
        let _scope = node.begin_queued()?;
        // SAFETY: the caller holds `mutex`; `node` is pinned, claimed by
        // `_scope`, and `linked` ends the wait before either goes away.
        let mut linked = unsafe { self.begin_wait(node, mutex) };
        // Spin and yield a moment before sleeping (see "Spinning first"
        // in the module docs).
        let mut spin = SpinWait::<P>::new();
        let mut word = node.word().load(Ordering::Acquire);
        while word & (DONE | INTERRUPTED) == 0 {
            if !spin.spin() {
                // If the parker unwinds, `linked` cleans up as it drops.
                node.sleep(node.word(), word, || {});
            }
            word = node.word().load(Ordering::Acquire);
        }
        linked.end()
    }

    /// Wakes the longest-waiting waiter that is not interrupted; returns
    /// whether there was one.
    pub fn notify_one(&self) -> bool {
        if self.waiters() == 0 {
            return false;
        }
        // SAFETY: lock held; linked nodes are alive.
        self.locked(|waiting, wake| unsafe {
            while let Some(head) = waiting.list.head() {
                let interrupted = (*head).word().load(Ordering::Acquire) & INTERRUPTED != 0;
                // An interrupted owner was woken by its interrupter; the
                // wake is for a parker that returned before seeing the
                // interrupt (harmless otherwise).
                let notified = !interrupted;
                if let Some(word) = self.unlink_done(waiting, wake, head, notified, ptr::null()) {
                    wake.push(word);
                }
                if notified {
                    return true;
                }
            }
            false
        })
    }

    /// Wakes every waiter, two at a time (see the
    /// [chain](self#notify_all-without-a-stampede-the-chain)); returns how
    /// many were notified.
    pub fn notify_all(&self) -> usize {
        if self.waiters() == 0 {
            return 0;
        }
        // SAFETY: lock held; linked nodes are alive.
        self.locked(|waiting, wake| unsafe {
            // Interrupted nodes first: they leave, out of the chain.
            let mut cursor = waiting.list.head();
            while let Some(node) = cursor {
                cursor = waiting.list.next(node);
                if (*node).word().load(Ordering::Acquire) & INTERRUPTED != 0 {
                    if let Some(word) = self.unlink_done(waiting, wake, node, false, ptr::null()) {
                        wake.push(word);
                    }
                }
            }
            // The rest form the chain, two links wide: each thread's chain
            // word is the word of the thread two behind it, taken while
            // every node is alive; they are marked done from the tail.
            // Futures' nodes stay out of the chain (nobody sleeps on their
            // words): their wakers are woken after the list lock.
            let mut notified = 0;
            let (mut next, mut after_next): (*const AtomicU32, *const AtomicU32) =
                (ptr::null(), ptr::null());
            let mut cursor = waiting.list.tail();
            while !cursor.is_null() {
                let prev = waiting.list.prev(cursor);
                if let Some(word) = self.unlink_done(waiting, wake, cursor, true, after_next) {
                    (next, after_next) = (word, next);
                }
                notified += 1;
                cursor = prev;
            }
            // The loop ended at the head: `next` is its word and
            // `after_next` its successor's, the two of the chain woken here.
            for word in [next, after_next] {
                if !word.is_null() {
                    wake.push(word);
                }
            }
            notified
        })
    }

    /// Unlinks `node`, records its outcome (`notified` or interrupted) and
    /// the word it wakes next in a chain (`chain`), and marks it done.
    /// Returns a thread's word, for the caller to wake or chain; a future's
    /// node goes into `wake`, which wakes its waker after the lock.
    ///
    /// # Safety
    /// The list lock is held and `node` is linked. After this the owner may
    /// return and free the node: the caller does not touch it again.
    unsafe fn unlink_done(
        &self,
        waiting: &mut Waiting<P>,
        wake: &mut WakeBatch<P>,
        node: *const Waiter<P>,
        notified: bool,
        chain: *const AtomicU32,
    ) -> Option<*const AtomicU32> {
        // SAFETY: the caller's obligations.
        unsafe {
            waiting.list.remove(node);
            locked::count(&self.waiters, -1);
            let word: *const AtomicU32 = (*node).word();
            // `TASK` was set before the node was linked, under this lock.
            let task = (*word).load(Ordering::Relaxed) & TASK != 0;
            (*node).queued_mut(|q| {
                q.outcome = if notified {
                    Outcome::Granted
                } else {
                    Outcome::Interrupted
                };
                q.chain = if task { ptr::null() } else { chain };
            });
            if task {
                wake.done(node);
                return None;
            }
            (*word).fetch_or(DONE, Ordering::Release);
            Some(word)
        }
    }

    /// Runs `f` with the list lock held; wakes what it pushed once the
    /// lock is released.
    fn locked<R>(&self, f: impl FnOnce(&mut Waiting<P>, &mut WakeBatch<P>) -> R) -> R {
        // SAFETY: the list is only reached through this function.
        unsafe { locked::with_lock(&self.lock, &self.waiting, f) }
    }
}
