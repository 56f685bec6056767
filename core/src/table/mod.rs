//! The table where futures wait for one-word locks: the mutex and the
//! rwlock keep no queue of their own, so a future that must wait for one
//! links its node into a process-wide table, in the bucket of the lock's
//! address (the `parking_lot_core` design, without allocation).
//!
//! A thread waiting for a mutex sleeps on the mutex word; a task cannot,
//! and the word has no room for a queue (`Mutex<()>` is four bytes). So a
//! task's node goes into [`TaskTable`], keyed by the lock's address, and
//! the lock's word carries one bit (`TASKS`) that says the table has nodes
//! for it. A release consults the table only when it sees that bit: a
//! program that never awaits a lock never touches the table, and its
//! releases test the same word bits as before, in the same instruction.
//!
//! # Buckets
//!
//! A fixed array of 64 buckets, each a list lock (a [`RawMutex`]
//! that only threads take, briefly) and an intrusive list of nodes. Locks
//! whose addresses hash alike share a bucket; each node records its key,
//! and every walk skips other keys. A key is the lock's address, with the
//! low bit set for an rwlock's readers (so one walk can wake a writer, or
//! every reader, of one lock).
//!
//! # The bit, and why no wake-up is lost
//!
//! A waiting future sets `TASKS` and links its node in one critical
//! section of the bucket lock, after its attempt on the lock word failed
//! in the same section: the attempt is a compare-exchange that either takes
//! the lock or sets the bit on the word it saw held. A release changes the
//! word first and takes the bucket lock after, if the word it changed had
//! the bit: then it finds the node. If its change came first, the future's
//! compare-exchange fails, and the future tries again and takes the lock.
//! The bit is cleared under the bucket lock when the last node of its lock
//! leaves (woken or withdrawn), and set under it, so it is set exactly
//! while the table holds a node of the lock.
//!
//! Woken nodes are unlinked, marked `DONE` and woken after the bucket lock
//! is released (the `locked` module's `WakeBatch`), so a waker that
//! re-enters a lock or panics finds no bucket lock held.
//!
//! # Forgotten futures
//!
//! A future leaked while it waits (`mem::forget` of a `Box::pin`) leaves
//! its node linked, in leaked memory, so no pointer in the table dangles;
//! memory safety does not depend on the drop. Liveness does, as for a
//! leaked guard: the leaked node can take the wake of a release (a waiting
//! task behind it then waits for the next release), and a leaked writer
//! future stays counted as a waiting writer, which keeps readers out for
//! good, like a leaked write guard. When the lock is dropped, its drop
//! purges the nodes of its address (it sees them by its word's bit), so a
//! lock made later at that address does not inherit them; a lock that is
//! leaked or moved away after the leak skips that purge, and a lock made
//! later at the old address may then lose one wake to the stale node.
//!
//! # Releases run wakers
//!
//! A release that sees the bit takes a bucket lock and wakes a task's
//! waker, after the bucket lock is released but before the release
//! returns: a waker that panics unwinds out of the unlock (the lock is
//! released by then), and an unlock in a context that must not block
//! (a signal handler) is no longer safe once futures wait for that lock.

use crate::list::WaitList;
use crate::locked::{with_lock, WakeBatch};
use crate::mutex::RawMutex;
use crate::park::Park;
use crate::sync::UnsafeCell;
use crate::waiter::Waiter;

mod wait;

pub(crate) use wait::{TableSide, TableWait};

/// How many nodes one locked section of a wake-all wakes.
const ROUND: usize = 8;

/// How many buckets a [`TaskTable`] has.
pub(crate) const BUCKETS: usize = 64;

/// The table where futures wait for a parker's one-word locks (mutexes
/// and rwlocks): see the [module docs](self). A parker provides it through
/// [`Park::task_table`]; it needs no allocation (a `static` of about 4 KiB).
pub struct TaskTable<P: Park> {
    buckets: [Bucket<P>; BUCKETS],
}

/// One bucket: a list lock and the nodes behind it. Aligned to a cache
/// line, so tasks of unrelated locks do not share one.
#[repr(align(64))]
struct Bucket<P: Park> {
    lock: RawMutex<P>,
    list: UnsafeCell<WaitList<P>>,
}

// SAFETY: the lists are only reached under their bucket's lock
// (`with_lock`), and the nodes they point at are pinned inside futures
// that unlink them before they go (or are leaked with them).
unsafe impl<P: Park> Sync for TaskTable<P> {}
// SAFETY: as above; a table that can move holds no node (nodes borrow
// the locks, which borrow nothing of the table).
unsafe impl<P: Park> Send for TaskTable<P> {}

impl<P: Park> core::fmt::Debug for TaskTable<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TaskTable")
            .field("buckets", &BUCKETS)
            .finish_non_exhaustive()
    }
}

impl<P: Park> Bucket<P> {
    crate::sync::const_fn! {
        fn new() -> Self {
            Self {
                lock: RawMutex::new(),
                list: UnsafeCell::new(WaitList::new()),
            }
        }
    }
}

impl<P: Park> Default for TaskTable<P> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`TaskTable::wake`] on `P`'s table, if it has one (a parker without
/// one has no futures linked anywhere).
pub(crate) fn wake<P: Park>(key: usize, all: bool, unmark: impl Fn()) {
    if let Some(table) = P::task_table() {
        table.wake(key, all, unmark);
    }
}

/// The drop of a primitive at `key` whose word says futures wait for it:
/// only leaked ones can (a live one borrows the primitive), and their
/// nodes leave `P`'s table, so a primitive made later at this address does
/// not inherit them. `marked`: the word's bit for waiting futures.
pub(crate) fn purge_on_drop<P: Park>(marked: bool, key: usize) {
    if marked {
        if let Some(table) = P::task_table() {
            table.purge(key);
        }
    }
}

/// The lock a key belongs to: its address without the readers' bit.
#[inline]
pub(crate) fn lock_of(key: usize) -> usize {
    key & !1
}

impl<P: Park> TaskTable<P> {
    /// An empty table.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            buckets: [const { Bucket::new() }; BUCKETS],
        }
    }

    /// An empty table.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            buckets: core::array::from_fn(|_| Bucket::new()),
        }
    }

    fn bucket(&self, key: usize) -> &Bucket<P> {
        // Fibonacci hashing of the lock's address (keys of one lock share
        // a bucket); the shift drops the bits every lock word has clear.
        let hash = ((lock_of(key) >> 2) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.buckets[(hash >> (64 - BUCKETS.trailing_zeros())) as usize]
    }

    /// Runs `f` on the bucket of `key` with its lock held, and wakes what
    /// it finished after the lock is released.
    fn locked<R>(&self, key: usize, f: impl FnOnce(&mut WaitList<P>, &mut WakeBatch<P>) -> R) -> R {
        let bucket = self.bucket(key);
        // SAFETY: the list is only ever reached through this function.
        unsafe { with_lock(&bucket.lock, &bucket.list, f) }
    }

    /// Takes the lock through `attempt`, or links `node` under `key`:
    /// `attempt` runs under the bucket lock and either takes the lock
    /// (`true`: nothing is linked) or marks the lock's word so its release
    /// consults the table (`false`). A node that was woken and lost the
    /// lock to another goes in `front` of its lock's other nodes, so a
    /// barging thread does not send it to the back.
    ///
    /// # Safety
    /// `node` is pinned, claimed for a task's wait, not linked, and stays
    /// alive until it is unlinked (by a wake, a [`leave`](Self::leave) or
    /// a [`purge`](Self::purge)).
    pub(crate) unsafe fn park(
        &self,
        key: usize,
        node: &Waiter<P>,
        front: bool,
        attempt: impl FnOnce() -> bool,
    ) -> bool {
        self.locked(key, |list, _| {
            if attempt() {
                return true;
            }
            let anchor = if front {
                core::ptr::null()
            } else {
                list.tail()
            };
            // SAFETY: the bucket lock is held; the caller's obligations.
            unsafe {
                node.queued_mut(|q| q.key = key);
                list.insert_after(anchor, node);
            }
            false
        })
    }

    /// Wakes the oldest node of `key` (or, with `all`, every node of it):
    /// unlinks it, marks it `DONE`, and wakes its waker once the bucket lock
    /// is released. If no node of the key's lock is left, runs `unmark`
    /// (which clears the lock word's bit) under the bucket lock.
    ///
    /// Every node is woken in rounds of at most [`ROUND`], each under the
    /// bucket lock and woken after it: no node waits for its wake while
    /// wakers run, so a waker that polls another of these futures inline
    /// finds it still linked (pending), not half woken.
    pub(crate) fn wake(&self, key: usize, all: bool, unmark: impl Fn()) {
        let limit = if all { ROUND } else { 1 };
        while self.wake_round(key, limit, &unmark) {}
    }

    /// One round of [`wake`](Self::wake): wakes up to `limit` nodes of
    /// `key`; `true` if it stopped at the limit with more of them linked.
    fn wake_round(&self, key: usize, limit: usize, unmark: &impl Fn()) -> bool {
        self.locked(key, |list, batch| {
            let (mut woken, mut others, mut more) = (0, false, false);
            let mut at = list.head();
            while let Some(node) = at {
                // SAFETY: the bucket lock is held and `node` is linked here.
                unsafe {
                    at = list.next(node);
                    let node_key = (*node).queued_mut(|q| q.key);
                    if lock_of(node_key) != lock_of(key) {
                        continue;
                    }
                    if node_key == key && woken < limit {
                        list.remove(node);
                        batch.done(node);
                        woken += 1;
                        continue;
                    }
                    others = true;
                    if node_key == key {
                        // Past the limit: a wake-all goes round again.
                        more = true;
                        break;
                    }
                    // A wake-one that has woken its node needs to know
                    // only that the lock keeps another.
                    if limit == 1 && woken == 1 {
                        break;
                    }
                }
            }
            if !others {
                unmark();
            }
            more && limit > 1
        })
    }

    /// Unlinks `node` if a wake has not: `true` if it was still linked
    /// (then `unmark` ran, under the bucket lock, if it was its lock's last
    /// node), `false` if a wake took it out first (its `DONE` is set).
    ///
    /// # Safety
    /// `node` was linked by [`park`](Self::park) under `key` and is alive.
    pub(crate) unsafe fn leave(&self, key: usize, node: &Waiter<P>, unmark: impl FnOnce()) -> bool {
        self.locked(key, |list, _| {
            // SAFETY: the bucket lock is held; `node` is linked here or in
            // no list.
            if !unsafe { list.remove(node) } {
                return false;
            }
            if !Self::has_lock(list, lock_of(key)) {
                unmark();
            }
            true
        })
    }

    /// Unlinks every node of the lock at `lock` (whose word said it has
    /// some): the nodes of futures leaked while they waited, when the lock
    /// itself goes. They are never woken; their memory is leaked with them.
    pub(crate) fn purge(&self, lock: usize) {
        self.locked(lock, |list, _| {
            let mut at = list.head();
            while let Some(node) = at {
                // SAFETY: the bucket lock is held and `node` is linked here;
                // leaked nodes stay alive.
                unsafe {
                    at = list.next(node);
                    if lock_of((*node).queued_mut(|q| q.key)) == lock {
                        list.remove(node);
                    }
                }
            }
        });
    }

    /// Whether any node of the lock at `lock` is linked in `list`.
    fn has_lock(list: &WaitList<P>, lock: usize) -> bool {
        let mut at = list.head();
        while let Some(node) = at {
            // SAFETY: the caller holds the bucket lock; `node` is linked.
            unsafe {
                if lock_of((*node).queued_mut(|q| q.key)) == lock {
                    return true;
                }
                at = list.next(node);
            }
        }
        false
    }
}
