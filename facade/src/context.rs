//! `Context`: cancellation and deadlines, propagated down a tree, delivered
//! to every thread blocked with the context.
//!
//! A context is either [`Context::background`] (never done; a `None`, so it
//! costs nothing) or a shared node. A node holds its state word (live,
//! cancelled, deadline exceeded), a lock, the `Weak` list of its children, and
//! an intrusive list of the waits currently blocked with it.
//!
//! # Delivering a cancellation
//!
//! A blocking call builds a pinned [`Waiter`] and a pinned registration entry
//! on its own stack, links the entry into the node's list under the node's
//! lock (refusing if the context is already done), makes the core call with
//! the waiter, and unlinks the entry under the lock before its stack frame
//! ends. Cancelling takes the same lock, marks the node done and interrupts
//! every registered waiter while still holding it, so an entry is only ever
//! followed while its owner is blocked in (or about to enter, or just leaving)
//! the core call, and never after. Nothing on this path allocates.
//!
//! Then the node's children are cancelled (iteratively, so a deep chain
//! cannot overflow the stack). A child never touches its parent.
//!
//! # Deadlines
//!
//! A deadline is a cancellation delivered by one process-wide timer thread,
//! started on first use (see `timer`). The timer entry is removed when the
//! context is cancelled first, so memory is bounded by live contexts.

use std::marker::PhantomPinned;
use std::pin::{pin, Pin};
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use std::{cell::UnsafeCell, fmt};

use concur_core::{RawMutex, WaitCounter, Waiter};

use crate::timer::{self, TimerKey};
use crate::Error;

const LIVE: u8 = 0;
const CANCELLED: u8 = 1;
pub(crate) const DEADLINE: u8 = 2;

fn error_of(state: u8) -> Option<Error> {
    match state {
        LIVE => None,
        CANCELLED => Some(Error::Cancelled),
        _ => Some(Error::DeadlineExceeded),
    }
}

/// A cancellation scope: pass it to every blocking call that should end
/// when the work it belongs to is abandoned or runs out of time.
///
/// Cheap to clone (an `Arc` clone, or nothing for
/// [`background`](Context::background)), `Send + Sync`.
///
/// ```
/// use std::time::Duration;
/// use concur_sync::{Context, Error, Mutex};
///
/// let m = Mutex::new(0);
/// let held = m.lock();
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
/// // The lock is held: the call waits until the deadline ends it.
/// assert_eq!(m.lock_ctx(&ctx).err(), Some(Error::DeadlineExceeded));
/// drop(held);
/// ```
#[derive(Clone, Default)]
pub struct Context {
    node: Option<Arc<Node>>,
}

/// Cancels its [`Context`] (and every context derived from it) when
/// [`cancel`](CancelHandle::cancel) is called or when it is dropped.
///
/// Keep it for as long as the context should live: `let (ctx, _) = ...`
/// drops it at once, which cancels the context at once.
///
/// ```
/// use concur_sync::{Context, Error};
///
/// let (parent, cancel) = Context::background().with_cancel();
/// let (child, _child_cancel) = parent.with_cancel();
/// let worker = std::thread::spawn(move || child.wait());
/// drop(cancel); // dropping cancels, like `cancel.cancel()`
/// assert_eq!(worker.join().unwrap(), Error::Cancelled);
/// assert_eq!(parent.err(), Some(Error::Cancelled));
/// ```
#[must_use = "dropping a CancelHandle cancels its context"]
pub struct CancelHandle {
    node: Arc<Node>,
}

pub(crate) struct Node {
    state: AtomicU8,
    deadline: Option<Instant>,
    lock: RawMutex,
    inner: UnsafeCell<Inner>,
}

struct Inner {
    children: Vec<Weak<Node>>,
    /// Head of the intrusive list of blocked waits.
    waits: *const Registration,
    timer: Option<TimerKey>,
}

// SAFETY: `inner` (including the raw pointers into registrations on blocked
// threads' stacks) is only accessed with `lock` held; everything else is
// atomic or immutable after construction.
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
    fn new(deadline: Option<Instant>, state: u8) -> Self {
        Self {
            state: AtomicU8::new(state),
            deadline,
            lock: RawMutex::new(),
            inner: UnsafeCell::new(Inner {
                children: Vec::new(),
                waits: ptr::null(),
                timer: None,
            }),
        }
    }

    /// Runs `f` with the lock held.
    fn locked<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock is held for the whole access.
        let result = f(unsafe { &mut *self.inner.get() });
        // SAFETY: locked above by this thread.
        unsafe { self.lock.unlock() };
        result
    }

    #[inline]
    fn err(&self) -> Option<Error> {
        error_of(self.state.load(Ordering::Acquire))
    }

    /// Marks this node and its descendants done with `err`, interrupting
    /// every wait blocked on them. Idempotent: the first error sticks.
    pub(crate) fn cancel(self: &Arc<Self>, err: u8) {
        // A done node takes no new children or waits: nothing to do.
        if self.state.load(Ordering::Acquire) != LIVE {
            return;
        }
        let mut work = vec![self.clone()];
        while let Some(node) = work.pop() {
            let timer = node.locked(|inner| {
                if node.state.load(Ordering::Relaxed) != LIVE {
                    return None;
                }
                node.state.store(err, Ordering::Release);
                let mut entry = inner.waits;
                while !entry.is_null() {
                    // SAFETY: linked entries are alive while linked, and they
                    // are unlinked only under this lock, which we hold; the
                    // same holds for the waiter each one points to.
                    unsafe {
                        (*(*entry).waiter).interrupt();
                        entry = *(*entry).next.get();
                    }
                }
                work.extend(inner.children.drain(..).filter_map(|c| c.upgrade()));
                inner.timer.take()
            });
            if let Some(key) = timer {
                // A no-op when the timer itself fired this deadline.
                timer::unschedule(key);
            }
        }
    }

    /// Links `entry` unless the node is done. The caller must `deregister`
    /// it before the entry or its waiter is dropped or moved.
    pub(crate) fn register(&self, entry: Pin<&Registration>) -> Result<(), Error> {
        let entry: *const Registration = &*entry;
        self.locked(|inner| {
            if let Some(err) = self.err() {
                return Err(err);
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
}

impl Context {
    /// The root context: never cancelled, no deadline. Free: no allocation,
    /// no registration, and blocking calls given it cost what the plain calls
    /// cost.
    pub const fn background() -> Self {
        Self { node: None }
    }

    /// A child that is cancelled when the returned handle is cancelled or
    /// dropped, or when `self` is.
    pub fn with_cancel(&self) -> (Context, CancelHandle) {
        self.child(None)
    }

    /// A child that also ends with [`Error::DeadlineExceeded`] at `deadline`
    /// (or earlier, if `self` has an earlier deadline). A deadline already
    /// past gives a context that is already done.
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelHandle) {
        self.child(Some(deadline))
    }

    /// [`with_deadline`](Self::with_deadline) at now + `timeout`. A zero
    /// timeout gives a context that is already done; a timeout too large for
    /// `Instant` means no deadline of its own (it never panics).
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelHandle) {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.child(Some(deadline)),
            None => self.child(None),
        }
    }

    fn child(&self, deadline: Option<Instant>) -> (Context, CancelHandle) {
        let parent_deadline = self.deadline();
        let own = deadline.filter(|d| parent_deadline.is_none_or(|p| *d < p));
        let effective = own.or(parent_deadline);
        if own.is_some_and(|at| at <= Instant::now()) {
            // Born done: never registered anywhere, so nothing can race the state.
            let node = Arc::new(Node::new(effective, DEADLINE));
            return (
                Context {
                    node: Some(node.clone()),
                },
                CancelHandle { node },
            );
        }
        let node = Arc::new(Node::new(effective, LIVE));
        if let Some(parent) = &self.node {
            let registered = parent.locked(|inner| {
                if parent.err().is_some() {
                    return false;
                }
                if inner.children.len() == inner.children.capacity() {
                    // Prune children that are gone before growing.
                    inner.children.retain(|c| c.strong_count() > 0);
                }
                inner.children.push(Arc::downgrade(&node));
                true
            });
            if !registered {
                node.state
                    .store(parent.state.load(Ordering::Acquire), Ordering::Release);
            }
        }
        if node.err().is_none() {
            if let Some(at) = own {
                let key = timer::schedule(at, Arc::downgrade(&node));
                // A parent may have cancelled us since the check above;
                // then `cancel` found no key to unschedule, so we do.
                let stale = node.locked(|inner| match node.err() {
                    Some(_) => Some(key),
                    None => {
                        inner.timer = Some(key);
                        None
                    }
                });
                if let Some(key) = stale {
                    timer::unschedule(key);
                }
            }
        }
        (
            Context {
                node: Some(node.clone()),
            },
            CancelHandle { node },
        )
    }

    /// `None` while the context is live; then why it ended.
    #[inline]
    pub fn err(&self) -> Option<Error> {
        self.node.as_ref().and_then(|n| n.err())
    }

    /// Whether the context has ended.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// The deadline, if this context or an ancestor has one (the earliest).
    pub fn deadline(&self) -> Option<Instant> {
        self.node.as_ref().and_then(|n| n.deadline)
    }

    /// Blocks until the context ends and returns why. On
    /// [`background`](Self::background) this blocks forever.
    pub fn wait(&self) -> Error {
        let never = WaitCounter::new();
        never.add(1);
        loop {
            match self.block(|node| never.wait_interruptible(node)) {
                Err(err) => return err,
                Ok(Err(_interrupted)) => {
                    if let Some(err) = self.err() {
                        return err;
                    }
                }
                Ok(Ok(())) => unreachable!("concur-sync: a count that never reaches zero did"),
            }
        }
    }

    /// Runs a blocking core call with a fresh waiter registered with this
    /// context, so cancelling the context interrupts the call.
    ///
    /// Returns `Err` without calling `call` if the context is already done;
    /// otherwise `Ok` with what `call` returned. A call that reports an
    /// interrupt means the context is done: read [`err`](Self::err).
    #[inline]
    pub(crate) fn block<R>(&self, call: impl FnOnce(Pin<&Waiter>) -> R) -> Result<R, Error> {
        let waiter = pin!(Waiter::new());
        let Some(node) = &self.node else {
            return Ok(call(waiter.as_ref()));
        };
        let entry = pin!(Registration::new(&waiter));
        node.register(entry.as_ref())?;
        /// Unlinks the entry however `call` exits: a panic must not leave a
        /// pointer into this stack frame in the node's list.
        struct Linked<'a>(&'a Node, Pin<&'a Registration>);
        impl Drop for Linked<'_> {
            fn drop(&mut self) {
                self.0.deregister(self.1);
            }
        }
        let _linked = Linked(node, entry.as_ref());
        Ok(call(waiter.as_ref()))
    }

    /// The shared node; `None` for the background context.
    #[cfg(feature = "step")]
    pub(crate) fn node(&self) -> Option<&Arc<Node>> {
        self.node.as_ref()
    }

    /// The error a call that was interrupted through this context returns.
    #[inline]
    pub(crate) fn interrupted(&self) -> Error {
        self.err().unwrap_or(Error::Cancelled)
    }
}

impl CancelHandle {
    /// Cancels the context and every context derived from it, waking every
    /// thread blocked with any of them. Idempotent.
    pub fn cancel(&self) {
        self.node.cancel(CANCELLED);
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            None => f.write_str("Context::background()"),
            Some(node) => f
                .debug_struct("Context")
                .field("err", &node.err())
                .field("deadline", &node.deadline)
                .finish(),
        }
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("err", &self.node.err())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(ctx: &Context) -> usize {
        let node = ctx.node.as_ref().unwrap();
        node.locked(|inner| {
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

    /// A blocked call that panics must not leave its stack registration
    /// linked: a later cancel would follow it into a dead frame.
    #[test]
    fn a_panicking_blocked_call_deregisters() {
        let (ctx, cancel) = Context::background().with_cancel();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = ctx.block(|_node| {
                assert_eq!(registered(&ctx), 1);
                panic!("core call panics");
            });
        }));
        assert!(panicked.is_err());
        assert_eq!(registered(&ctx), 0);
        cancel.cancel();
        assert_eq!(ctx.err(), Some(Error::Cancelled));
    }

    #[test]
    fn a_past_deadline_child_is_born_done_and_unregistered() {
        let (parent, _p) = Context::background().with_cancel();
        let (child, _c) = parent.with_deadline(Instant::now() - Duration::from_secs(1));
        assert_eq!(child.err(), Some(Error::DeadlineExceeded));
        let children = parent
            .node
            .as_ref()
            .unwrap()
            .locked(|inner| inner.children.len());
        assert_eq!(children, 0);
    }
}
