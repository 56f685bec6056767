//! The intrusive FIFO list of queued waiters.
//!
//! A doubly linked list threaded through the waiters' own `Queued` fields,
//! so linking and unlinking allocate nothing and removing a node from the
//! middle (an interrupted waiter) is O(1). The list does no locking of its
//! own: every method is `unsafe` and requires the caller to hold the lock of
//! the primitive that owns the list, which also protects the nodes' fields.

use core::ptr;

use crate::park::Park;
use crate::waiter::Waiter;

/// Head and tail of a queue of pinned waiter nodes.
#[derive(Debug)]
pub(crate) struct WaitList<P: Park> {
    head: *const Waiter<P>,
    tail: *const Waiter<P>,
}

impl<P: Park> WaitList<P> {
    pub(crate) const fn new() -> Self {
        Self {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// The oldest node, if any.
    #[inline]
    pub(crate) fn head(&self) -> Option<*const Waiter<P>> {
        (!self.head.is_null()).then_some(self.head)
    }

    /// The newest node, or null.
    #[inline]
    pub(crate) fn tail(&self) -> *const Waiter<P> {
        self.tail
    }

    /// Appends `node`.
    ///
    /// # Safety
    /// As for [`insert_after`](Self::insert_after).
    #[cfg(feature = "step")]
    pub(crate) unsafe fn push_back(&mut self, node: *const Waiter<P>) {
        // SAFETY: the caller's obligations; the tail is null or linked here.
        unsafe { self.insert_after(self.tail, node) }
    }

    /// Links `node` right after `anchor`, or at the front if `anchor` is
    /// null.
    ///
    /// # Safety
    /// The caller holds the owning lock; `node` is pinned, not linked into
    /// any list, and stays alive until it is removed; `anchor` is null or
    /// linked into this list.
    pub(crate) unsafe fn insert_after(&mut self, anchor: *const Waiter<P>, node: *const Waiter<P>) {
        // SAFETY: as above; `anchor` and its successor are linked here, so
        // alive.
        unsafe {
            let next = if anchor.is_null() {
                self.head
            } else {
                (*anchor).queued_mut(|q| q.next)
            };
            (*node).queued_mut(|q| {
                debug_assert!(!q.linked, "concur-core: node linked twice");
                q.prev = anchor;
                q.next = next;
                q.linked = true;
            });
            if anchor.is_null() {
                self.head = node;
            } else {
                (*anchor).queued_mut(|q| q.next = node);
            }
            if next.is_null() {
                self.tail = node;
            } else {
                (*next).queued_mut(|q| q.prev = node);
            }
        }
    }

    /// Unlinks `node` and returns whether it was linked. Removing a node that
    /// is not linked (already removed) is a no-op.
    ///
    /// # Safety
    /// The caller holds the owning lock, and `node` is alive and either linked
    /// into this list or into none.
    pub(crate) unsafe fn remove(&mut self, node: *const Waiter<P>) -> bool {
        // SAFETY: as above; the neighbours are linked here, so alive.
        unsafe {
            let (linked, prev, next) = (*node).queued_mut(|q| {
                let old = (q.linked, q.prev, q.next);
                q.linked = false;
                q.prev = ptr::null();
                q.next = ptr::null();
                old
            });
            if !linked {
                return false;
            }
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).queued_mut(|q| q.next = next);
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).queued_mut(|q| q.prev = prev);
            }
        }
        true
    }

    /// The node before `node`, or null.
    ///
    /// # Safety
    /// The caller holds the owning lock and `node` is linked into this list.
    #[inline]
    pub(crate) unsafe fn prev(&self, node: *const Waiter<P>) -> *const Waiter<P> {
        // SAFETY: the caller's obligation above.
        unsafe { (*node).queued_mut(|q| q.prev) }
    }

    /// The node after `node`, if any.
    ///
    /// # Safety
    /// The caller holds the owning lock and `node` is linked into this list.
    #[inline]
    pub(crate) unsafe fn next(&self, node: *const Waiter<P>) -> Option<*const Waiter<P>> {
        // SAFETY: the caller's obligation above.
        let next = unsafe { (*node).queued_mut(|q| q.next) };
        (!next.is_null()).then_some(next)
    }
}
