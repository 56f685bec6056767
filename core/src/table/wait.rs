//! A future's wait for a one-word lock, through the [`TaskTable`]: the
//! engine under the mutex's and the rwlock's futures.
//!
//! The lock stays a barging lock for tasks as for threads: a release wakes
//! one waiting task (and one sleeping thread, which wait apart), and the
//! woken task takes the lock if it is still free when it runs, or goes back
//! in front of its lock's other tasks. Tasks of one lock are woken in the
//! order they came; threads and tasks are not ordered against each other.
//!
//! | phase      | node | what a drop does |
//! |------------|------|------------------|
//! | `Start`    | not claimed | nothing |
//! | `Unlinked` | claimed, not linked (between two links, inside a poll) | gives up (passes on a wake it took) |
//! | `Linked`   | linked in the table, waker registered | leaves the table, gives up |
//! | `Finished` | let go | nothing |

use core::task::{Context, Poll};

use crate::park::Park;
use crate::sync::{abort, OnUnwind};
use crate::waiter::{Interrupted, Waiter};

/// What a future waits for in the table (a side of a lock, or a count
/// reaching zero): what the engine needs of the primitive's word. "Take"
/// is whatever ends the wait with success (taking a lock, or seeing zero).
pub(crate) trait TableSide<P: Park> {
    /// The key its nodes are linked under.
    fn key(&self) -> usize;
    /// Takes the lock if it is free, before the wait begins.
    fn try_take(&self) -> bool;
    /// The wait begins (a writer counts itself as waiting).
    fn begin(&self) {}
    /// Takes the lock if it is free, during the wait (as before it, but
    /// for a writer, who counts itself as waiting by then).
    fn retake(&self) -> bool {
        self.try_take()
    }
    /// Under the bucket lock: takes the lock (`true`), or sets the word's
    /// tasks bit on the held word it saw (`false`), atomically.
    fn take_or_mark(&self) -> bool;
    /// Clears the word's tasks bit; under the bucket lock, once the lock's
    /// last node has left.
    fn unmark(&self);
    /// The wait ends without the lock; `woken`: a release's wake ended in
    /// this node, and is passed on if the lock's next waiter needs it.
    fn give_up(&self, woken: bool);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Unlinked { woken: bool },
    Linked,
    Finished,
}

/// A future's wait for a lock in the table: its node and where it is.
#[derive(Debug)]
pub(crate) struct TableWait<P: Park> {
    node: Waiter<P>,
    phase: Phase,
}

impl<P: Park> TableWait<P> {
    pub(crate) fn new(node: Waiter<P>) -> Self {
        Self {
            node,
            phase: Phase::Start,
        }
    }

    /// The node, to interrupt the wait.
    pub(crate) fn node(&self) -> &Waiter<P> {
        &self.node
    }

    /// Polls the wait for `lock`.
    ///
    /// # Safety
    /// `self` is pinned, and is polled and dropped (through
    /// [`drop_with`](Self::drop_with)) with the same `lock`, which outlives
    /// it.
    pub(crate) unsafe fn poll(
        &mut self,
        lock: &impl TableSide<P>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Interrupted>> {
        loop {
            match self.phase {
                Phase::Start => {
                    if lock.try_take() {
                        self.phase = Phase::Finished;
                        return Poll::Ready(Ok(()));
                    }
                    if self.node.begin_task().is_err() {
                        self.phase = Phase::Finished;
                        return Poll::Ready(Err(Interrupted));
                    }
                    lock.begin();
                    self.phase = Phase::Unlinked { woken: false };
                }
                Phase::Linked => {
                    if self.node.register(cx.waker()) {
                        return Poll::Pending;
                    }
                    // Woken (a release unlinked us) or interrupted (and
                    // maybe still linked). A releaser may still be taking
                    // the waker out: let it finish first.
                    self.node.settle_visit();
                    let woken = self.node.is_done() || !self.leave(lock);
                    self.phase = Phase::Unlinked { woken };
                }
                Phase::Unlinked { woken } => {
                    if lock.retake() {
                        return Poll::Ready(self.finish(Ok(())));
                    }
                    if self.node.is_interrupted() {
                        self.give_up(lock, woken);
                        return Poll::Ready(Err(Interrupted));
                    }
                    let Some(table) = P::task_table() else {
                        // No table: come back at once.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    };
                    self.node.rearm_task();
                    if !self.node.register(cx.waker()) {
                        continue; // interrupted meanwhile
                    }
                    // SAFETY: the node is pinned in `self` and claimed; it
                    // is unlinked before `self` goes (`drop_with`).
                    if unsafe { table.park(lock.key(), &self.node, woken, || lock.take_or_mark()) }
                    {
                        return Poll::Ready(self.finish(Ok(())));
                    }
                    self.phase = Phase::Linked;
                    return Poll::Pending;
                }
                Phase::Finished => panic!("concur-core: a lock future polled after it completed"),
            }
        }
    }

    /// A resolved (or never polled) wait starts over on its next poll,
    /// with the same node.
    pub(crate) fn rearm(&mut self) {
        assert!(
            matches!(self.phase, Phase::Start | Phase::Finished),
            "concur-core: a lock future rearmed while it waits"
        );
        self.phase = Phase::Start;
    }

    fn finish(&mut self, result: Result<(), Interrupted>) -> Result<(), Interrupted> {
        self.phase = Phase::Finished;
        self.node.end_task();
        result
    }

    /// Takes the linked node out of the table; `false` if a release took it
    /// out first (it was woken).
    fn leave(&self, lock: &impl TableSide<P>) -> bool {
        let Some(table) = P::task_table() else {
            return true;
        };
        // A parker that unwinds while we wait for the bucket lock would
        // leave the node linked as its future goes: abort instead.
        let linked = OnUnwind::new(|| {
            abort("concur-core: a parker unwound while a future took a bucket lock to leave")
        });
        // SAFETY: linked by `park` under this key, and alive (in `self`).
        let left = unsafe { table.leave(lock.key(), &self.node, || lock.unmark()) };
        linked.disarm();
        left
    }

    /// The drop of the future: a pending wait leaves as an interrupted one
    /// leaves, passing on a wake it took.
    pub(crate) fn drop_with(&mut self, lock: &impl TableSide<P>) {
        let woken = match self.phase {
            Phase::Start | Phase::Finished => return,
            Phase::Unlinked { woken } => woken,
            Phase::Linked => {
                self.node.interrupt_own();
                self.node.settle_visit();
                self.node.is_done() || !self.leave(lock)
            }
        };
        self.give_up(lock, woken);
    }

    /// Ends the wait without the lock: the side gives up (passing on a
    /// wake it took; its wakers may unwind, and the node is let go then
    /// too), and the node is let go.
    fn give_up(&mut self, lock: &impl TableSide<P>, woken: bool) {
        self.phase = Phase::Finished;
        let ended = OnUnwind::new(|| self.node.end_task());
        lock.give_up(woken);
        ended.disarm();
        self.node.end_task();
    }
}
