//! The shared node behind every cancellable context: its state word, the
//! blocked waits registered with it, its children, and cancellation.
//!
//! # The state word
//!
//! | bits  | meaning |
//! |-------|---------|
//! | 0     | `CANCELLED`: set once, by [`Node::cancel`] |
//! | 1..=63 | `seen`: nanoseconds (on `clock::nanos`'s scale) up to which every deadline counts as passed before the cancel |
//!
//! Deadlines are not the node's: they live inline in each `Context`, and
//! several contexts with different deadlines share one node. A context
//! whose deadline has passed reports `DeadlineExceeded` lazily, and for
//! that answer to stay put if the node is cancelled later, the reader first
//! raises `seen` to its deadline (a compare-exchange, only while the node is
//! live). A cancel freezes `seen` at the later of its value and the cancel's
//! own time. So, for a context with deadline `d`, once the node is
//! cancelled the answer is fixed: `DeadlineExceeded` if `d <= seen`,
//! otherwise `Cancelled`; and a context that once said `DeadlineExceeded`
//! had raised `seen` to `d` before the cancel could freeze it.
//!
//! # Registrations
//!
//! A blocking call links a pinned [`Registration`] (on its own stack) into
//! the node's list under the node's lock, refusing if the node is
//! cancelled, and unlinks it under the lock before its frame ends.
//! Cancelling takes the same lock, marks the node and interrupts every
//! registered waiter while still holding it, so an entry is only ever
//! followed while its owner is blocked in (or about to enter, or just
//! leaving) the core call, and never after. Nothing on this path allocates.
//! Then the node's children are cancelled, iteratively (a deep chain cannot
//! overflow the stack), with the same cancel time and cause, so a child
//! answers as its parent does. A child never touches its parent.

use std::cell::UnsafeCell;
use std::error::Error as StdError;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use concur_core::{RawMutex, Waiter};

use crate::Error;

const CANCELLED: u64 = 1;

/// A cancellation's cause, shared by every context it ended.
pub(crate) type Cause = Arc<dyn StdError + Send + Sync + 'static>;

/// The error of a context with `deadline` (nanoseconds; `None`: no
/// deadline) on a node cancelled with `seen`.
#[inline]
pub(crate) fn ended_by(deadline: Option<u64>, seen: u64) -> Error {
    match deadline {
        Some(d) if d <= seen => Error::DeadlineExceeded,
        _ => Error::Cancelled,
    }
}

pub(crate) struct Node {
    state: AtomicU64,
    lock: RawMutex,
    inner: UnsafeCell<Inner>,
}

struct Inner {
    children: Vec<Weak<Node>>,
    /// Head of the intrusive list of blocked waits.
    waits: *const Registration,
    /// Written once, before `CANCELLED` is published; read only after.
    cause: Option<Cause>,
}

// SAFETY: `inner` (including the raw pointers into registrations on blocked
// threads' stacks) is only accessed with `lock` held, except `cause`, which
// is written under the lock before the Release store of `CANCELLED` and
// read only after an Acquire load saw it, and never written again.
unsafe impl Send for Node {}
// SAFETY: as above.
unsafe impl Sync for Node {}

/// One blocked wait, linked into a node's list. Lives pinned on the blocked
/// thread's stack; its links are protected by the node's lock.
pub(crate) struct Registration {
    waiter: *const Waiter,
    prev: UnsafeCell<*const Registration>,
    next: UnsafeCell<*const Registration>,
    _pinned: PhantomPinned,
}

impl Registration {
    /// An unlinked entry for `waiter`, which must outlive the entry's link.
    pub(crate) fn new(waiter: &Waiter) -> Self {
        Self {
            waiter,
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
            _pinned: PhantomPinned,
        }
    }
}

impl Node {
    /// A live node.
    pub(crate) fn new() -> Self {
        Self::with_state(0, None)
    }

    /// A node born cancelled with `seen` and `cause` (a child of an ended
    /// context, which must answer as its parent does).
    pub(crate) fn cancelled(seen: u64, cause: Option<Cause>) -> Self {
        Self::with_state((seen << 1) | CANCELLED, cause)
    }

    fn with_state(state: u64, cause: Option<Cause>) -> Self {
        Self {
            state: AtomicU64::new(state),
            lock: RawMutex::new(),
            inner: UnsafeCell::new(Inner {
                children: Vec::new(),
                waits: ptr::null(),
                cause,
            }),
        }
    }

    /// Runs `f` with the lock held.
    fn locked<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        self.lock.lock();
        /// Unlocks however `f` exits.
        struct Unlock<'a>(&'a RawMutex);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                // SAFETY: locked above by this thread.
                unsafe { self.0.unlock() };
            }
        }
        let _unlock = Unlock(&self.lock);
        // SAFETY: the lock is held for the whole access.
        f(unsafe { &mut *self.inner.get() })
    }

    /// `Some(seen)` once cancelled.
    #[inline]
    pub(crate) fn cancelled_seen(&self) -> Option<u64> {
        let state = self.state.load(Ordering::Acquire);
        (state & CANCELLED != 0).then_some(state >> 1)
    }

    /// For a context whose `deadline` has passed: records it as seen while
    /// the node is live, so a later cancel cannot change the answer.
    /// Returns the context's error either way.
    #[cold]
    pub(crate) fn deadline_passed(&self, deadline: u64) -> Error {
        let deadline = deadline.min(u64::MAX >> 1);
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & CANCELLED != 0 {
                return ended_by(Some(deadline), state >> 1);
            }
            if state >> 1 >= deadline {
                return Error::DeadlineExceeded;
            }
            match self.state.compare_exchange_weak(
                state,
                deadline << 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Error::DeadlineExceeded,
                Err(now) => state = now,
            }
        }
    }

    /// The cause this node was cancelled with, once cancelled.
    pub(crate) fn cause(&self) -> Option<Cause> {
        self.cancelled_seen()?;
        // SAFETY: written before the Release store of CANCELLED that the
        // Acquire load above saw, and never written again.
        unsafe { (*self.inner.get()).cause.clone() }
    }

    /// Cancels this node and its descendants as of `now` (nanoseconds),
    /// interrupting every wait blocked on them. Idempotent: the first
    /// cancel sticks.
    pub(crate) fn cancel(self: &Arc<Self>, now: u64, cause: Option<Cause>) {
        if self.cancelled_seen().is_some() {
            return;
        }
        let mut work = vec![(self.clone(), now)];
        // Wakers of the futures whose waits this cancel ends: woken with no
        // node's lock held (a waker may come back to this context, or drop
        // a future, which unregisters its wait).
        let mut wakers = Vec::new();
        while let Some((node, now)) = work.pop() {
            node.locked(|inner| {
                let mut state = node.state.load(Ordering::Relaxed);
                if state & CANCELLED != 0 {
                    return;
                }
                // Before CANCELLED is published (the Release below): a reader
                // that sees the flag sees the cause. Only lock holders cancel,
                // so nobody else writes it meanwhile.
                inner.cause = cause.clone();
                let seen = loop {
                    // Only readers raising `seen` race us here, never a cancel.
                    let seen = (state >> 1).max(now.min(u64::MAX >> 1));
                    match node.state.compare_exchange_weak(
                        state,
                        (seen << 1) | CANCELLED,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break seen,
                        Err(now) => state = now,
                    }
                };
                let mut entry = inner.waits;
                while !entry.is_null() {
                    // SAFETY: linked entries are alive while linked, and they
                    // are unlinked only under this lock, which we hold; the
                    // same holds for the waiter each one points to.
                    unsafe {
                        // A task's waker is woken after the lock (below).
                        wakers.extend((*(*entry).waiter).interrupt_returning_waker());
                        entry = *(*entry).next.get();
                    }
                }
                // Children freeze at the parent's `seen`: they answer as it does.
                work.extend(
                    inner
                        .children
                        .drain(..)
                        .filter_map(|c| c.upgrade())
                        .map(|c| (c, seen)),
                );
            });
        }
        crate::wake::wake_all(wakers);
    }

    /// Links `child` unless this node is cancelled; then returns `seen`.
    pub(crate) fn adopt(&self, child: &Arc<Node>) -> Result<(), u64> {
        self.locked(|inner| {
            if let Some(seen) = self.cancelled_seen() {
                return Err(seen);
            }
            if inner.children.len() == inner.children.capacity() {
                // Prune children that are gone before growing.
                inner.children.retain(|c| c.strong_count() > 0);
            }
            inner.children.push(Arc::downgrade(child));
            Ok(())
        })
    }

    /// Links `entry` unless the node is cancelled; then returns `seen`. The
    /// caller must `deregister` it before the entry or its waiter is
    /// dropped or moved.
    pub(crate) fn register(&self, entry: Pin<&Registration>) -> Result<(), u64> {
        let entry: *const Registration = &*entry;
        self.locked(|inner| {
            if let Some(seen) = self.cancelled_seen() {
                return Err(seen);
            }
            // SAFETY: the entry is pinned by the caller and unlinked (by
            // `deregister`) before it goes out of scope; links are ours
            // under the lock.
            unsafe {
                *(*entry).next.get() = inner.waits;
                if !inner.waits.is_null() {
                    *(*inner.waits).prev.get() = entry;
                }
            }
            inner.waits = entry;
            Ok(())
        })
    }

    pub(crate) fn deregister(&self, entry: Pin<&Registration>) {
        let entry: *const Registration = &*entry;
        self.locked(|inner| {
            // SAFETY: the entry was linked by `register` and is alive; its
            // neighbours are linked, so alive; all links are ours under the lock.
            unsafe {
                let (prev, next) = (*(*entry).prev.get(), *(*entry).next.get());
                if prev.is_null() {
                    inner.waits = next;
                } else {
                    *(*prev).next.get() = next;
                }
                if !next.is_null() {
                    *(*next).prev.get() = prev;
                }
            }
        });
    }

    /// Number of registered waits (for tests).
    #[cfg(test)]
    pub(crate) fn registered(&self) -> usize {
        self.locked(|inner| {
            let mut n = 0;
            let mut entry = inner.waits;
            while !entry.is_null() {
                n += 1;
                // SAFETY: linked entries are alive while linked; lock held.
                entry = unsafe { *(*entry).next.get() };
            }
            n
        })
    }

    /// Number of children still listed (for tests).
    #[cfg(test)]
    pub(crate) fn children(&self) -> usize {
        self.locked(|inner| inner.children.len())
    }
}
