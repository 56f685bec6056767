//! The intrusive wait list, by node index.

use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr;

use crate::list::WaitList;
use crate::park::Park;
use crate::sync::UnsafeCell;
use crate::waiter::Waiter;

/// The intrusive wait list over a fixed array of `N` nodes, with safe
/// operations by node index. Pin it before use (`core::pin::pin!`).
///
/// Every operation takes `&self`: the list lives in a cell, and the type is
/// neither `Send` nor `Sync`, so one thread owns it.
///
/// ```
/// use core::pin::pin;
/// use concur_core::step::ListHarness;
///
/// let list = pin!(ListHarness::<4>::new());
/// let list = list.as_ref();
/// assert!(list.push_back(2) && list.push_back(0) && list.push_back(3));
/// assert!(list.insert_after(Some(2), 1)); // 2 1 0 3
/// assert!(list.remove(0));
/// assert_eq!(list.pop_front(), Some(2));
/// assert_eq!(list.pop_front(), Some(1));
/// assert!(!list.remove(0));
/// assert_eq!(list.pop_front(), Some(3));
/// assert_eq!(list.pop_front(), None);
/// ```
#[derive(Debug)]
pub struct ListHarness<const N: usize, P: Park = crate::park::SpinPark> {
    nodes: [Waiter<P>; N],
    list: UnsafeCell<WaitList<P>>,
    _pinned: PhantomPinned,
    _not_sync: core::marker::PhantomData<*const ()>,
}

impl<const N: usize, P: Park> Default for ListHarness<N, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, P: Park> ListHarness<N, P> {
    /// `N` unlinked nodes and an empty list.
    pub fn new() -> Self {
        Self {
            nodes: core::array::from_fn(|_| Waiter::new()),
            list: UnsafeCell::new(WaitList::new()),
            _pinned: PhantomPinned,
            _not_sync: core::marker::PhantomData,
        }
    }

    fn node(&self, index: usize) -> *const Waiter<P> {
        &self.nodes[index]
    }

    fn index(&self, node: *const Waiter<P>) -> usize {
        // Nodes are elements of one array, so the offset is exact.
        (node as usize - self.nodes.as_ptr() as usize) / core::mem::size_of::<Waiter<P>>()
    }

    fn with_list<R>(&self, f: impl FnOnce(&mut WaitList<P>) -> R) -> R {
        // SAFETY: the type is !Sync and no method re-enters another, so this
        // is the only access; nodes are pinned with `self`.
        self.list.with_mut(|list| f(unsafe { &mut *list }))
    }

    /// Whether node `index` is linked.
    ///
    /// # Panics
    /// If `index >= N`.
    pub fn is_linked(self: Pin<&Self>, index: usize) -> bool {
        // SAFETY: the list (the only other user of the node fields) is not
        // being accessed: one thread, no re-entrance.
        unsafe { self.nodes[index].queued_mut(|q| q.linked) }
    }

    /// Appends node `index`; false (and no change) if it is already linked.
    ///
    /// # Panics
    /// If `index >= N`.
    pub fn push_back(self: Pin<&Self>, index: usize) -> bool {
        if self.is_linked(index) {
            return false;
        }
        let node = self.node(index);
        // SAFETY: the node is unlinked, pinned with `self`, and lives as
        // long as the list.
        self.with_list(|list| unsafe { list.push_back(node) });
        true
    }

    /// Links node `index` right after node `anchor` (at the front for
    /// `None`); false (and no change) if `index` is already linked or
    /// `anchor` is not.
    ///
    /// # Panics
    /// If an index is `>= N`.
    pub fn insert_after(self: Pin<&Self>, anchor: Option<usize>, index: usize) -> bool {
        if self.is_linked(index) || anchor.is_some_and(|a| !self.is_linked(a)) {
            return false;
        }
        let node = self.node(index);
        let anchor = anchor.map_or(ptr::null(), |a| self.node(a));
        // SAFETY: the node is unlinked, pinned with `self`, and lives as
        // long as the list; the anchor is null or linked into this list
        // (the only list these nodes can be in).
        self.with_list(|list| unsafe { list.insert_after(anchor, node) });
        true
    }

    /// Unlinks node `index`; false if it was not linked.
    ///
    /// # Panics
    /// If `index >= N`.
    pub fn remove(self: Pin<&Self>, index: usize) -> bool {
        let node = self.node(index);
        // SAFETY: the node is alive and linked into this list or none.
        self.with_list(|list| unsafe { list.remove(node) })
    }

    /// Unlinks and returns the head.
    pub fn pop_front(self: Pin<&Self>) -> Option<usize> {
        let head = self.with_list(|list| list.head())?;
        self.remove(self.index(head));
        Some(self.index(head))
    }

    /// Calls `f` with each linked index from head to tail, checking on the
    /// way that every node's `prev` is the node before it and that the tail
    /// is the last node. Returns the number of nodes.
    ///
    /// # Panics
    /// If the links are inconsistent, or hold more than `N` nodes (a cycle).
    pub fn walk(self: Pin<&Self>, mut f: impl FnMut(usize)) -> usize {
        // Collected first and reported after: `f` may call back into `self`,
        // which must not happen while the list is borrowed.
        let mut order = [0usize; N];
        let count = self.with_list(|list| {
            let mut count = 0;
            let mut prev: *const Waiter<P> = ptr::null();
            let mut cursor = list.head();
            while let Some(node) = cursor {
                assert!(count < N, "concur-core: wait list has a cycle");
                // SAFETY: linked nodes are elements of `self.nodes`.
                let (back, linked) = unsafe { (*node).queued_mut(|q| (q.prev, q.linked)) };
                assert!(linked, "concur-core: a reachable node is not marked linked");
                assert_eq!(back, prev, "concur-core: prev link does not match");
                order[count] = self.index(node);
                count += 1;
                prev = node;
                // SAFETY: `node` is linked into this list.
                cursor = unsafe { list.next(node) };
            }
            assert_eq!(list.tail(), prev, "concur-core: tail is not the last node");
            count
        });
        order[..count].iter().for_each(|&i| f(i));
        count
    }
}
