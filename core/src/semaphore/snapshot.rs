//! A consistent view of a semaphore's books, for tests and checkers. See
//! the [parent module](super).

use crate::park::Park;
use crate::sync::Ordering;

use super::{RawSemaphore, OVERSIZED, SLOW};

impl<P: Park> RawSemaphore<P> {
    /// A consistent snapshot for tests and checkers: (available, pending
    /// partial grants, capacity, queued nodes, oversized requests). Takes the
    /// list lock.
    pub fn snapshot(&self) -> Snapshot {
        // SAFETY: lock held by `locked`; linked nodes are alive.
        self.locked(|queue, _| unsafe {
            let count = |list: &crate::list::WaitList<P>| {
                let mut count = 0;
                let mut cursor = list.head();
                while let Some(node) = cursor {
                    count += 1;
                    cursor = list.next(node);
                }
                count
            };
            Snapshot {
                available: self.state.load(Ordering::Acquire) & !SLOW,
                pending: queue.pending,
                capacity: self.capacity.load(Ordering::Acquire) & !OVERSIZED,
                queued: count(&queue.list),
                oversized: count(&queue.oversized),
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
    /// Waiters queued (their requests fit the capacity).
    pub queued: usize,
    /// Waiters whose requests are above the capacity, waiting for it to grow.
    pub oversized: usize,
}
