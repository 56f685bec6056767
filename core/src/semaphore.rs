//! `RawSemaphore`: a weighted, FIFO-fair counting semaphore whose queued
//! waiters are intrusive nodes and whose waits can be interrupted.
//!
//! # Words
//!
//! `state` (`u64`): bit 63 is `SLOW`, bits 0..=62 are the available permits.
//!
//! | `SLOW` | available | meaning |
//! |--------|-----------|---------|
//! | 0      | `a`       | nobody queued, open: acquire and release are one CAS each |
//! | 1      | `0`       | waiters are queued: every permit goes to the head of the queue |
//! | 1      | `a`       | closed (queue empty): acquires fail, releases still count |
//!
//! `SLOW` is set and cleared only under the list lock; while it is set, only
//! list-lock holders write `state`. So the fast paths need one CAS and never
//! take the lock, a newcomer cannot barge past a queue (it sees `SLOW` and
//! joins the queue), and a release that sees `SLOW` grants under the lock.
//!
//! `capacity` is the number of permits in existence: available + held by
//! callers + granted to queued waiters so far. A request above it can never
//! succeed, so it fails with `TooLarge` instead of queueing. It grows outside
//! the lock (`add_permits`) but shrinks only under it, where requests are
//! checked before they queue, so no waiter can be left needing more than
//! exists.
//!
//! # The queue
//!
//! Under the list lock (a [`RawMutex`]): an intrusive FIFO of [`Waiter`]
//! nodes, each with `requested` and `need` (still missing), and `pending`, the
//! sum of partial grants held by queued nodes.
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
//! In every case each permit is either available, held by exactly one
//! caller, or counted in `pending` for exactly one queued node.

use core::marker::PhantomData;
use core::pin::Pin;

use crate::list::WaitList;
use crate::mutex::RawMutex;
use crate::park::{DefaultPark, Park};
use crate::sync::{
    abort, spin_hint, AtomicBool, AtomicU32, AtomicU64, OnUnwind, Ordering, UnsafeCell, SPIN_LIMIT,
};
use crate::waiter::{Outcome, Waiter, DONE, INTERRUPTED};

const SLOW: u64 = 1 << 63;

/// The largest number of permits a semaphore can hold: 2^63 - 1.
pub const MAX_PERMITS: u64 = SLOW - 1;

/// Why [`RawSemaphore::try_acquire`] took nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryAcquireError {
    /// Not enough permits are available right now (or others are queued).
    NoPermits,
    /// The semaphore is closed.
    Closed,
    /// More permits were requested than the semaphore has in existence.
    TooLarge {
        /// Permits requested.
        requested: u64,
        /// Permits in existence when the request was refused.
        capacity: u64,
    },
}

/// Why [`RawSemaphore::acquire`] took nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcquireError {
    /// The semaphore is closed, or was closed while the call waited.
    Closed,
    /// More permits were requested than the semaphore has in existence (now,
    /// or after permits were retired while the call waited).
    TooLarge {
        /// Permits requested.
        requested: u64,
        /// Permits in existence when the request was refused.
        capacity: u64,
    },
    /// The call's [`Waiter`] was interrupted.
    Interrupted,
}

impl core::fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoPermits => f.write_str("not enough permits available"),
            Self::Closed => f.write_str("semaphore closed"),
            Self::TooLarge {
                requested,
                capacity,
            } => write!(
                f,
                "requested {requested} permits from a semaphore of {capacity}"
            ),
        }
    }
}

impl core::fmt::Display for AcquireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Closed => f.write_str("semaphore closed"),
            Self::TooLarge {
                requested,
                capacity,
            } => write!(
                f,
                "requested {requested} permits from a semaphore of {capacity}"
            ),
            Self::Interrupted => f.write_str("wait interrupted"),
        }
    }
}

/// The state behind the list lock.
#[derive(Debug)]
struct Queue<P: Park> {
    list: WaitList<P>,
    /// Permits granted to queued nodes that are not complete yet.
    pending: u64,
}

/// Nodes to wake once the list lock is released, so woken threads do not
/// run into a held lock. Waking uses only addresses (see [`Park`]), so a
/// node freed by its owner before the wake is harmless.
struct WakeBatch<P: Park> {
    words: [*const AtomicU32; 8],
    len: usize,
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> WakeBatch<P> {
    fn new() -> Self {
        Self {
            words: [core::ptr::null(); 8],
            len: 0,
            _park: PhantomData,
        }
    }

    fn push(&mut self, word: *const AtomicU32) {
        if self.len == self.words.len() {
            self.wake();
        }
        self.words[self.len] = word;
        self.len += 1;
    }

    fn wake(&mut self) {
        for &word in &self.words[..self.len] {
            P::wake_one(word);
        }
        self.len = 0;
    }
}

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
    lock: RawMutex<P>,
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
            Self {
                state: AtomicU64::new(permits),
                capacity: AtomicU64::new(permits),
                closed: AtomicBool::new(false),
                lock: RawMutex::new(),
                queue: UnsafeCell::new(Queue { list: WaitList::new(), pending: 0 }),
            }
        }
    }

    /// Permits available right now (a racy snapshot; 0 while waiters queue).
    #[inline]
    pub fn available(&self) -> u64 {
        self.state.load(Ordering::Relaxed) & !SLOW
    }

    /// Permits in existence: available, held, and partly granted to waiters.
    #[inline]
    pub fn capacity(&self) -> u64 {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Whether [`close`](Self::close) has been called.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Takes `n` permits if they are available and nobody is queued.
    #[inline]
    pub fn try_acquire(&self, n: u64) -> Result<(), TryAcquireError> {
        if self.try_take(n) {
            Ok(())
        } else {
            Err(self.try_failure(n))
        }
    }

    /// The fast path: one CAS when nobody is queued.
    #[inline]
    fn try_take(&self, n: u64) -> bool {
        if n == 0 {
            return !self.is_closed();
        }
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & SLOW != 0 || state < n {
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

    /// Takes `n` permits, queueing (FIFO) until they are granted, the
    /// semaphore is closed, or `node` is interrupted.
    ///
    /// Permits that are available are taken without looking at `node`. When
    /// the call fails, it holds nothing: partial grants have been passed on.
    #[inline]
    pub fn acquire(&self, node: Pin<&Waiter<P>>, n: u64) -> Result<(), AcquireError> {
        if self.try_take(n) {
            return Ok(());
        }
        self.acquire_slow(&node, n)
    }

    #[cold]
    fn acquire_slow(&self, node: &Waiter<P>, n: u64) -> Result<(), AcquireError> {
        if n == 0 {
            return Err(AcquireError::Closed);
        }
        // Spin briefly while nobody is queued: a holder about to release saves
        // us a sleep and itself a wake. `try_take` fails once anyone queues,
        // so spinning never overtakes a queued waiter.
        let mut spins = SPIN_LIMIT;
        while spins > 0 {
            spins -= 1;
            spin_hint();
            let state = self.state.load(Ordering::Relaxed);
            if state & SLOW != 0 || node.is_interrupted() {
                break;
            }
            if self.try_take(n) {
                return Ok(());
            }
        }
        let _scope = node.begin_queued().map_err(|_| AcquireError::Interrupted)?;
        // SAFETY: `node` is pinned by our caller and claimed above, and we do
        // not return until `complete` has unlinked it.
        if !unsafe { self.enqueue(node, n)? } {
            return Ok(());
        }
        let mut word = node.word().load(Ordering::Acquire);
        while word & (DONE | INTERRUPTED) == 0 {
            node.sleep(node.word(), word, || {
                // The parker unwound with our node linked. Leave as an
                // interrupted wait leaves, handing on a partial grant (or
                // giving back a full one), before the node's frame is gone.
                node.interrupt();
                // SAFETY: queued by `enqueue` above; the unwind skips the
                // completion below, so this is the only one.
                let _ = unsafe { self.complete(node, n) };
            });
            word = node.word().load(Ordering::Acquire);
        }
        // SAFETY: queued by `enqueue` above, completed only here.
        unsafe { self.complete(node, n) }
    }

    /// Takes `n` permits if nobody is queued and they are there; otherwise
    /// takes what is available and links `node` (claimed by the caller) at
    /// the tail. `Ok(true)`: queued; the owner must wait for `DONE` or
    /// `INTERRUPTED` on the node word and then call [`complete`](Self::complete).
    ///
    /// # Safety
    /// `node` is pinned, claimed for this wait (`begin_queued`) and not
    /// linked, and it stays alive and claimed until `complete` returns.
    pub(crate) unsafe fn enqueue(&self, node: &Waiter<P>, n: u64) -> Result<bool, AcquireError> {
        let node_ptr: *const Waiter<P> = node;
        // SAFETY: the caller's obligations above; we hold the lock.
        self.locked(|queue, _| unsafe {
            if self.closed.load(Ordering::Relaxed) {
                return Err(AcquireError::Closed);
            }
            let capacity = self.capacity.load(Ordering::Relaxed);
            if n > capacity {
                return Err(AcquireError::TooLarge {
                    requested: n,
                    capacity,
                });
            }
            // Take what is available and mark the queue non-empty in one step.
            let mut state = self.state.load(Ordering::Acquire);
            let taken = loop {
                if state & SLOW == 0 && state >= n {
                    match self.state.compare_exchange_weak(
                        state,
                        state - n,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Ok(false),
                        Err(now) => state = now,
                    }
                    continue;
                }
                match self.state.compare_exchange_weak(
                    state,
                    SLOW,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break state & !SLOW,
                    Err(now) => state = now,
                }
            };
            node.queued_mut(|q| {
                q.requested = n;
                q.need = n - taken;
                q.outcome = Outcome::Pending;
            });
            queue.pending += taken;
            queue.list.push_back(node_ptr);
            Ok(true)
        })
    }

    /// Ends a queued wait whose node word has `DONE` or `INTERRUPTED` set:
    /// reads the outcome, or leaves the queue if interrupted first.
    ///
    /// # Safety
    /// `node` was queued on this semaphore by [`enqueue`](Self::enqueue) and
    /// has not been completed since.
    pub(crate) unsafe fn complete(&self, node: &Waiter<P>, n: u64) -> Result<(), AcquireError> {
        let node_ptr: *const Waiter<P> = node;
        if node.word().load(Ordering::Acquire) & DONE == 0 {
            // Interrupted while queued: leave, handing on what we were given.
            // Our node is still linked while we wait for the list lock; if
            // the parker unwound in that wait, no clean-up could take the
            // lock to unlink it, and the frame would end with the queue
            // pointing into it. Abort instead.
            let linked = OnUnwind::new(|| {
                abort("concur-core: a parker unwound while a queued waiter took the list lock to leave")
            });
            // SAFETY: lock held; our node is linked here or already unlinked
            // by a granter (which then also set DONE).
            let left = self.locked(|queue, wake| unsafe {
                if node.word().load(Ordering::Acquire) & DONE != 0 {
                    return false;
                }
                let granted = node.queued_mut(|q| q.requested - q.need);
                queue.list.remove(node_ptr);
                queue.pending -= granted;
                self.grant_locked(queue, wake, granted);
                true
            });
            linked.disarm();
            if left {
                return Err(AcquireError::Interrupted);
            }
        }

        // DONE: the outcome is final and no lock holder touches the node now.
        // SAFETY: unlinked, and the Acquire load of DONE orders the granter's
        // writes before our read.
        let outcome = unsafe { node.queued_mut(|q| q.outcome) };
        match outcome {
            Outcome::Granted if node.is_interrupted() => {
                self.release(n);
                Err(AcquireError::Interrupted)
            }
            Outcome::Granted => Ok(()),
            Outcome::Closed => Err(AcquireError::Closed),
            Outcome::TooLarge => Err(AcquireError::TooLarge {
                requested: n,
                // SAFETY: as above.
                capacity: unsafe { node.queued_mut(|q| q.need) },
            }),
            Outcome::Interrupted => Err(AcquireError::Interrupted),
            Outcome::Pending => unreachable!("concur-core: woken waiter without an outcome"),
        }
    }

    /// Runs `f` on the queue with the list lock held, then, after unlocking,
    /// wakes the nodes `f` finished.
    fn locked<R>(&self, f: impl FnOnce(&mut Queue<P>, &mut WakeBatch<P>) -> R) -> R {
        /// Unlocks, then wakes, even if `f` panics (a debug assertion), so a
        /// panic can never leave the list lock held.
        struct Unlock<'a, P: Park> {
            lock: &'a RawMutex<P>,
            wake: WakeBatch<P>,
        }
        impl<P: Park> Drop for Unlock<'_, P> {
            fn drop(&mut self) {
                // SAFETY: locked by `locked` on this thread before the guard
                // was made.
                unsafe { self.lock.unlock() };
                self.wake.wake();
            }
        }
        self.lock.lock();
        let mut guard = Unlock {
            lock: &self.lock,
            wake: WakeBatch::new(),
        };
        // SAFETY: the list lock is held for the whole access.
        self.queue
            .with_mut(|queue| f(unsafe { &mut *queue }, &mut guard.wake))
    }

    /// Gives `permits` to the queue, head first, then puts what is left into
    /// `state`. Also unlinks interrupted nodes found at the head, taking back
    /// their partial grants.
    ///
    /// # Safety
    /// The list lock is held and `queue` is the queue behind it.
    unsafe fn grant_locked(&self, queue: &mut Queue<P>, wake: &mut WakeBatch<P>, mut permits: u64) {
        while let Some(head) = queue.list.head() {
            // SAFETY: linked nodes are alive and their fields are ours under the lock.
            let node = unsafe { &*head };
            if node.word().load(Ordering::Acquire) & INTERRUPTED != 0 {
                // SAFETY: as above.
                let granted = unsafe { node.queued_mut(|q| q.requested - q.need) };
                permits += granted;
                queue.pending -= granted;
                // SAFETY: `head` is linked into this list.
                unsafe { self.finish(queue, head, Outcome::Interrupted, 0, wake) };
                continue;
            }
            if permits == 0 {
                break;
            }
            // SAFETY: as above.
            let done = unsafe {
                node.queued_mut(|q| {
                    let take = permits.min(q.need);
                    q.need -= take;
                    permits -= take;
                    queue.pending += take;
                    if q.need == 0 {
                        queue.pending -= q.requested;
                        true
                    } else {
                        false
                    }
                })
            };
            if !done {
                break;
            }
            // SAFETY: `head` is linked into this list.
            unsafe { self.finish(queue, head, Outcome::Granted, 0, wake) };
        }
        // SAFETY: lock held.
        unsafe { self.settle_locked(queue, permits) };
    }

    /// Unlinks `node`, records its outcome and marks it done. `extra` is
    /// stored in `need` (the capacity, for `TooLarge`).
    ///
    /// # Safety
    /// The list lock is held and `node` is linked into `queue`.
    unsafe fn finish(
        &self,
        queue: &mut Queue<P>,
        node: *const Waiter<P>,
        outcome: Outcome,
        extra: u64,
        wake: &mut WakeBatch<P>,
    ) {
        // SAFETY: the caller's obligations; after the `fetch_or` below the
        // owner may return and free the node, so nothing touches it after.
        unsafe {
            queue.list.remove(node);
            (*node).queued_mut(|q| {
                q.outcome = outcome;
                if outcome == Outcome::TooLarge {
                    q.need = extra;
                }
            });
            let word: *const AtomicU32 = (*node).word();
            (*word).fetch_or(DONE, Ordering::Release);
            wake.push(word);
        }
    }

    /// Puts leftover permits into `state`, clearing `SLOW` if the queue is
    /// empty and the semaphore open.
    ///
    /// # Safety
    /// The list lock is held.
    unsafe fn settle_locked(&self, queue: &Queue<P>, permits: u64) {
        let slow = !queue.list.is_empty() || self.closed.load(Ordering::Relaxed);
        debug_assert!(queue.list.is_empty() || permits == 0);
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let available = (state & !SLOW) + permits;
            let new = if slow { available | SLOW } else { available };
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// Returns `n` permits, granting queued waiters first.
    ///
    /// # Panics
    /// If that would leave more permits than exist: more was released than
    /// was acquired. Nothing is changed in that case.
    #[inline]
    pub fn release(&self, n: u64) {
        if n == 0 {
            return;
        }
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let new = state.wrapping_add(n);
            if state & SLOW != 0 || new < state || new > self.capacity.load(Ordering::Relaxed) {
                // Queued waiters, closed, or a release that looks too large:
                // the slow path decides under the lock, with stable numbers.
                return self.release_slow(n);
            }
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    #[cold]
    fn release_slow(&self, n: u64) {
        // SAFETY: lock held by `locked`.
        let over = self.locked(|queue, wake| unsafe {
            let available = self.state.load(Ordering::Acquire) & !SLOW;
            let capacity = self.capacity.load(Ordering::Relaxed);
            let after = available.saturating_add(queue.pending).saturating_add(n);
            if after > capacity {
                return Some((available, capacity));
            }
            self.grant_locked(queue, wake, n);
            None
        });
        if let Some((available, capacity)) = over {
            panic!(
                "concur-core: RawSemaphore::release({n}) with {available} available of \
                 {capacity} permits: released more permits than were acquired"
            );
        }
    }

    /// Adds `n` new permits, granting queued waiters first.
    ///
    /// # Panics
    /// If the capacity would exceed [`MAX_PERMITS`]. Nothing is changed then.
    pub fn add_permits(&self, n: u64) {
        if n == 0 {
            return;
        }
        let grown = self
            .capacity
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| {
                c.checked_add(n).filter(|&c| c <= MAX_PERMITS)
            });
        if let Err(capacity) = grown {
            panic!(
                "concur-core: RawSemaphore::add_permits({n}) on a semaphore of {capacity} \
                 would exceed MAX_PERMITS ({MAX_PERMITS})"
            );
        }
        self.release(n);
    }

    /// Removes up to `n` *available* permits from existence and returns how
    /// many it removed. Permits that are held or granted are not touched (and
    /// while waiters queue, none are available).
    pub fn forget_permits(&self, n: u64) -> u64 {
        // Under the lock: a queued request was checked against the capacity
        // we are about to shrink.
        self.locked(|_, _| {
            let mut state = self.state.load(Ordering::Relaxed);
            loop {
                let taken = (state & !SLOW).min(n);
                match self.state.compare_exchange_weak(
                    state,
                    state - taken,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        self.capacity.fetch_sub(taken, Ordering::AcqRel);
                        return taken;
                    }
                    Err(now) => state = now,
                }
            }
        })
    }

    /// Removes from existence `n` permits that the caller holds (instead of
    /// releasing them). Queued requests that now exceed the capacity fail
    /// with `TooLarge`, returning their partial grants.
    ///
    /// # Panics
    /// If `n` is more than the permits held by callers in total.
    pub fn retire(&self, n: u64) {
        if n == 0 {
            return;
        }
        // SAFETY: lock held by `locked`; nodes reached through the list are
        // linked, so alive.
        let over = self.locked(|queue, wake| unsafe {
            let available = self.state.load(Ordering::Acquire) & !SLOW;
            let capacity = self.capacity.load(Ordering::Relaxed);
            // Saturating: a caller that released permits it did not hold can
            // make the books disagree; report that rather than wrap.
            let held = capacity
                .saturating_sub(available)
                .saturating_sub(queue.pending);
            if n > held {
                return Some((held, capacity));
            }
            // A read-modify-write, not a store: `add_permits` grows the
            // capacity without the lock.
            let capacity = self.capacity.fetch_sub(n, Ordering::AcqRel) - n;
            let mut permits = 0;
            let mut cursor = queue.list.head();
            while let Some(node) = cursor {
                cursor = queue.list.next(node);
                let (requested, granted) =
                    (*node).queued_mut(|q| (q.requested, q.requested - q.need));
                if requested > capacity {
                    permits += granted;
                    queue.pending -= granted;
                    self.finish(queue, node, Outcome::TooLarge, capacity, wake);
                }
            }
            self.grant_locked(queue, wake, permits);
            None
        });
        if let Some((held, capacity)) = over {
            panic!(
                "concur-core: RawSemaphore::retire({n}) but callers hold only {held} of \
                 {capacity} permits"
            );
        }
    }

    /// Closes the semaphore: every queued waiter fails with `Closed` (its
    /// partial grant returned), and every later acquire fails. Releases still
    /// count, so [`available`](Self::available) stays exact. Idempotent.
    pub fn close(&self) {
        // SAFETY: lock held by `locked`.
        self.locked(|queue, wake| unsafe {
            if self.closed.load(Ordering::Relaxed) {
                return;
            }
            self.closed.store(true, Ordering::Release);
            let mut permits = 0;
            while let Some(node) = queue.list.head() {
                let granted = (*node).queued_mut(|q| q.requested - q.need);
                permits += granted;
                self.finish(queue, node, Outcome::Closed, 0, wake);
            }
            queue.pending = 0;
            self.settle_locked(queue, permits);
        });
    }

    /// A consistent snapshot for tests and checkers: (available, pending
    /// partial grants, capacity, queued nodes). Takes the list lock.
    pub fn snapshot(&self) -> Snapshot {
        // SAFETY: lock held by `locked`; linked nodes are alive.
        self.locked(|queue, _| unsafe {
            let mut queued = 0;
            let mut cursor = queue.list.head();
            while let Some(node) = cursor {
                queued += 1;
                cursor = queue.list.next(node);
            }
            Snapshot {
                available: self.state.load(Ordering::Acquire) & !SLOW,
                pending: queue.pending,
                capacity: self.capacity.load(Ordering::Acquire),
                queued,
            }
        })
    }
}

/// A consistent view of a [`RawSemaphore`], from [`RawSemaphore::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Permits available.
    pub available: u64,
    /// Permits granted to queued waiters that are not complete yet.
    pub pending: u64,
    /// Permits in existence.
    pub capacity: u64,
    /// Waiters queued.
    pub queued: usize,
}
