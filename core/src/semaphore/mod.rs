//! `RawSemaphore`: a weighted, FIFO-fair counting semaphore whose queued
//! waiters are intrusive nodes and whose waits can be interrupted.
//!
//! # Words
//!
//! `state` (`u64`): bit 63 is `SLOW`, bits 0..=62 are the available permits.
//!
//! | `SLOW` | available | meaning |
//! |--------|-----------|---------|
//! | 0      | `a`       | the queue is empty, open: acquire and release are one CAS each (requests above the capacity may wait aside; they take nothing) |
//! | 1      | `0`       | waiters are queued: every permit goes to the head of the queue |
//! | 1      | `a`       | closed (queue empty): acquires fail, releases still count |
//!
//! `SLOW` is set and cleared only under the list lock; while it is set, only
//! list-lock holders write `state`. So the fast paths need one CAS and never
//! take the lock, a newcomer cannot barge past a queue (it sees `SLOW` and
//! joins the queue, a zero-permit request too), and a release that sees
//! `SLOW` grants under the lock.
//!
//! `capacity` (`u64`): bit 63 is `OVERSIZED`, bits 0..=62 the permits in
//! existence (available + held by callers + granted to queued waiters).
//!
//! | `OVERSIZED` | meaning |
//! |-------------|---------|
//! | 0           | no request waits for the capacity to grow: `add_permits` is a release |
//! | 1           | some do: `add_permits` takes the list lock to move those that fit into the queue |
//!
//! The permits grow outside the lock (`add_permits`, one read-modify-write
//! that also reads the bit) and shrink only under it. `OVERSIZED` is set
//! under the lock, and cleared under it when the last request waiting aside
//! leaves. A newcomer sets it with a CAS that checks its request against
//! the capacity in the same step (if the bit is already set, a plain load
//! suffices: only lock holders clear it); `retire`, which sets requests
//! aside, sets it first and then promotes against the capacity that
//! `fetch_or` returned. Either way the one order of the word's
//! read-modify-writes means that the request sees the grown capacity or
//! `add_permits` sees the bit. So no request is left waiting aside for
//! permits that exist.
//!
//! "Queued" below means linked into the FIFO queue; requests waiting aside
//! are counted by `waiters` but do not stop the fast paths.
//!
//! `waiters` (`usize`): waits linked into either list; written under the
//! lock, read without it.
//!
//! # The queue
//!
//! Under the list lock (a [`RawMutex`]): an intrusive FIFO of [`Waiter`](crate::Waiter)
//! nodes, each with `requested` and `need` (still missing), and `pending`, the
//! sum of partial grants held by queued nodes. Beside it, the `oversized`
//! list of requests above the capacity, which hold nothing; every linked node
//! has a ticket (its arrival order), so a request that starts to fit, or
//! stops fitting, moves to its arrival place in the other list (see
//! `capacity`). Only the head of the queue ever holds a partial grant.
//!
//! Grants go to the head only, and partially: a release of `k` permits gives
//! the head `min(k, need)` and moves on only when the head is complete. A
//! large request at the head therefore holds back smaller requests behind it
//! until it is satisfied. This is deliberate: the alternative (letting small
//! requests pass) starves large ones forever under steady load.
//!
//! # Interruption
//!
//! An interrupter flips the node's `INTERRUPTED` bit and wakes its owner; it
//! never touches the queue. Whoever next holds the list lock handles it:
//!
//! * a granter that finds an interrupted node at the head unlinks it, takes
//!   back its partial grant and passes it on, so one stuck thread cannot hold
//!   up the queue while it is descheduled;
//! * the owner, once awake, unlinks itself (if no granter did), returning its
//!   partial grant through the same grant routine, so the waiters behind it
//!   get what it had;
//! * if the node was already fully granted when the owner sees the interrupt,
//!   the owner releases the whole grant and still reports `Interrupted`.
//!
//! A node whose deadline passes interrupts itself (`Waiter::with_deadline`)
//! and leaves the same way, unless its outcome came first.
//!
//! In every case each permit is either available, held by exactly one
//! caller, or counted in `pending` for exactly one queued node.
//!
//! # Barging mode (opt in: [`RawSemaphore::new_barging`])
//!
//! With many more threads than cores, a FIFO hand-off to a sleeping waiter
//! is a convoy: the releaser, coming back for more, finds the permit given
//! away and sleeps too, so every acquire pays a sleep and a wake. In
//! barging mode a running thread may take available permits past the
//! queue, and a release offers permits to the head instead of granting
//! them:
//!
//! * `SLOW` still means "the queue is non-empty (or closed)", but the
//!   available count beside it need not be 0. Acquires take from it
//!   whenever it covers them (`try_barge`); plain `try_take` still fails on
//!   `SLOW`, so the FIFO mode's fast paths are unchanged.
//! * A release (under the lock) adds its permits to `state` and, if they
//!   cover the head and no offer is out, unlinks the head with the outcome
//!   `Retry` and wakes it (`nudge_locked`; `offer_out` records the
//!   offer). The woken owner takes the lock: if its permits are still
//!   there it takes them; otherwise it links again at its arrival place
//!   (its ticket) and sleeps. Either way it passes the offer on.
//! * Bounded bypass: each offer counts a pass on the head; a head passed
//!   over [`FAIR_AFTER`] times, or holding a partial grant, gets FIFO
//!   hand-offs (`grant_locked`, which in this mode first takes every
//!   available permit into the grant). So no request waits behind more
//!   than `FAIR_AFTER` offers per place, large ones included.
//!
//! The invariant that keeps it live: while the queue is non-empty and the
//! available permits cover the head, an offer is out. Every path that adds
//! permits or changes the head re-establishes it under the lock.
//!
//! The code: this file has the state words and the fast paths;
//! `queue` links, completes and grants under the list lock; `capacity`
//! keeps requests above the capacity aside and moves them; `resize` has
//! the releases, `add_permits`, `forget_permits`, `retire` and `close`;
//! `barging` has barging mode's offers; `blocking` the thread's wait
//! ([`RawSemaphore::acquire`]) and `task` the future's, in the same queue
//! ([`AcquireFuture`]); `snapshot` the consistent view for
//! checkers; `error` has the two error types.

mod barging;
mod blocking;
mod capacity;
mod error;
mod queue;
mod resize;
mod snapshot;
mod task;

use crate::mutex::RawMutex;
use crate::park::{DefaultPark, Park};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering, UnsafeCell};
pub use error::{AcquireError, TryAcquireError};
use queue::Queue;
pub use snapshot::Snapshot;
pub use task::AcquireFuture;

const SLOW: u64 = 1 << 63;
/// In `capacity`: some request waits for the capacity to grow.
const OVERSIZED: u64 = 1 << 63;

/// The largest number of permits a semaphore can hold: 2^63 - 1.
pub const MAX_PERMITS: u64 = SLOW - 1;

/// In barging mode, how many offers the head of the queue may lose to
/// barging acquirers before releases hand it its permits (FIFO). Each lost
/// offer costs the head one wake-up, so its wait at the head is bounded by
/// about `FAIR_AFTER + 1` wake-ups.
pub const FAIR_AFTER: u32 = 4;

/// A weighted FIFO semaphore without RAII; see the [module docs](self).
///
/// ```
/// use core::pin::pin;
/// use concur_core::{RawSemaphore, Waiter, TryAcquireError};
///
/// let sem: RawSemaphore = RawSemaphore::new(5);
/// sem.try_acquire(3).unwrap();
/// assert_eq!(sem.try_acquire(3), Err(TryAcquireError::NoPermits));
/// assert_eq!(
///     sem.try_acquire(6),
///     Err(TryAcquireError::TooLarge { requested: 6, capacity: 5 })
/// );
/// sem.release(3);
/// let node = pin!(Waiter::new());
/// sem.acquire(node.as_ref(), 5).unwrap();
/// assert_eq!(sem.available(), 0);
/// sem.release(5);
/// ```
#[derive(Debug)]
pub struct RawSemaphore<P: Park = DefaultPark> {
    state: AtomicU64,
    capacity: AtomicU64,
    closed: AtomicBool,
    /// Barging mode (fixed at construction).
    barging: bool,
    /// Barging mode: an offer is out (a head was unlinked with `Retry` and
    /// its owner has not taken the list lock since). Written only under the
    /// list lock; an atomic so that it packs beside `closed` and the lock.
    offer_out: AtomicBool,
    lock: RawMutex<P>,
    waiters: AtomicUsize,
    queue: UnsafeCell<Queue<P>>,
}

// SAFETY: the queue's raw pointers are only followed under `lock`, and they
// point at pinned nodes that stay alive while linked (a node's owner does not
// return from `acquire` until its node is unlinked). Everything else is atomic.
unsafe impl<P: Park> Send for RawSemaphore<P> {}
// SAFETY: as above: shared access to the queue is serialised by `lock`.
unsafe impl<P: Park> Sync for RawSemaphore<P> {}

impl<P: Park> RawSemaphore<P> {
    crate::sync::const_fn! {
        /// A semaphore holding `permits` permits.
        ///
        /// # Panics
        /// If `permits` exceeds [`MAX_PERMITS`].
        pub fn new(permits: u64) -> Self {
            assert!(permits <= MAX_PERMITS, "concur-core: RawSemaphore::new with more than MAX_PERMITS permits");
            Self::with_mode(permits, false)
        }
    }

    crate::sync::const_fn! {
        /// A semaphore holding `permits` permits in
        /// [barging mode](self#barging-mode-opt-in-rawsemaphorenew_barging):
        /// a running thread may take available permits past queued
        /// waiters, and a waiter that loses [`FAIR_AFTER`] offers gets the
        /// next permits handed to it.
        ///
        /// # Panics
        /// If `permits` exceeds [`MAX_PERMITS`].
        pub fn new_barging(permits: u64) -> Self {
            assert!(permits <= MAX_PERMITS, "concur-core: RawSemaphore::new_barging with more than MAX_PERMITS permits");
            Self::with_mode(permits, true)
        }
    }

    crate::sync::const_fn! {
        fn with_mode(permits: u64, barging: bool) -> Self {
            Self {
                state: AtomicU64::new(permits),
                capacity: AtomicU64::new(permits),
                closed: AtomicBool::new(false),
                barging,
                offer_out: AtomicBool::new(false),
                lock: RawMutex::new(),
                waiters: AtomicUsize::new(0),
                queue: UnsafeCell::new(Queue::new()),
            }
        }
    }

    /// Permits available right now (a racy snapshot; 0 while the queue is
    /// non-empty, except in barging mode).
    #[inline]
    pub fn available(&self) -> u64 {
        self.state.load(Ordering::Relaxed) & !SLOW
    }

    /// Permits in existence: available, held, and partly granted to waiters.
    #[inline]
    pub fn capacity(&self) -> u64 {
        self.capacity.load(Ordering::Relaxed) & !OVERSIZED
    }

    /// Acquires waiting right now, queued or waiting for the capacity to
    /// grow (a racy snapshot).
    #[inline]
    pub fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Whether the semaphore is in barging mode ([`new_barging`](Self::new_barging)).
    #[inline]
    pub fn is_barging(&self) -> bool {
        self.barging
    }

    /// Whether [`close`](Self::close) has been called.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Takes `n` permits if they are available and the queue is empty (zero
    /// permits too: they wait their turn like any other request). Requests
    /// waiting aside for the capacity to grow do not count: they hold up
    /// nobody. In barging mode, available permits are taken even past a
    /// queue.
    #[inline]
    pub fn try_acquire(&self, n: u64) -> Result<(), TryAcquireError> {
        if self.take_now(n) {
            Ok(())
        } else {
            Err(self.try_failure(n))
        }
    }

    /// Takes `n` permits now if this semaphore's mode allows it: past a
    /// queue only in barging mode.
    #[inline]
    fn take_now(&self, n: u64) -> bool {
        self.try_take(n) || (self.barging && self.try_barge(n))
    }

    /// Barging mode's take: `n` permits if that many are available, queue
    /// or not (never from a closed semaphore).
    #[inline]
    fn try_barge(&self, n: u64) -> bool {
        !self.is_closed() && self.take_if(n, |state| state & !SLOW >= n)
    }

    /// The fast path: one CAS when nobody is queued.
    #[inline]
    fn try_take(&self, n: u64) -> bool {
        self.take_if(n, |state| state & SLOW == 0 && state >= n)
    }

    /// Takes `n` permits with one CAS while `allowed(state)` says the
    /// state has them for this caller.
    #[inline(always)]
    fn take_if(&self, n: u64, allowed: impl Fn(u64) -> bool) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if !allowed(state) {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state - n,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    #[cold]
    fn try_failure(&self, n: u64) -> TryAcquireError {
        if self.is_closed() {
            return TryAcquireError::Closed;
        }
        let capacity = self.capacity();
        if n > capacity {
            TryAcquireError::TooLarge {
                requested: n,
                capacity,
            }
        } else {
            TryAcquireError::NoPermits
        }
    }
}
