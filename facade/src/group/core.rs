//! The machinery shared by [`Group`](super::Group) and
//! [`Scope`](super::Scope): its state, waiting and collecting outcomes.
//! Admission, queueing and starting workers are in `submit`; the workers'
//! side (taking tasks, running them, recording what happened) in `worker`.
//!
//! # State
//!
//! | what | where | who writes it |
//! |------|-------|---------------|
//! | the queue, idle and started workers, counts, kept errors | [`State`] behind a concur [`Mutex`] | submitters (one lock per task, or per batch) and workers (one lock per task: record the last outcome and take the next task) |
//! | admission | `State::unfinished` against `permits` (`limit + queue`); submitters that find it full sleep on `space` | a submitter counts a task in; the worker that records its outcome counts it out and wakes one blocked submitter |
//! | completion | `State::unfinished` reaching 0; `wait` sleeps on `finished` | the worker that records the last outcome wakes every waiter |
//! | whether the queue is empty | `queued`, for a spinning worker to watch without the lock | whoever empties or fills the queue, under the lock |
//! | running tasks' sites | one slot per worker (`worker::Slot`), read only by [`Core::running_sites`] | the worker, with a plain store before and after each task |
//!
//! So a task costs one lock round trip on each side (a semaphore and a
//! wait group beside the lock cost four more contended read-modify-writes
//! per task), plus a store to `queued` when the queue turns empty or
//! non-empty.
//!
//! Admission is not FIFO among submitters: a place freed by a finished
//! task goes to whichever submitter takes the lock first (a blocked `go`
//! is woken for it, but a `try_go` or a new `go` may get there first).

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use super::error::{GroupError, TaskError};
use super::worker::{Slot, Task};
use super::Group;
use crate::{CancelHandle, Condvar, Context, Error, Mutex, MutexGuard};

pub(super) struct State<'env> {
    pub(super) queue: VecDeque<Task<'env>>,
    /// Workers asleep on `work` (counted until they wake).
    pub(super) idle: usize,
    /// Workers started and not exited.
    pub(super) workers: usize,
    pub(super) shutdown: bool,
    /// Every started worker's running slot.
    pub(super) slots: Vec<Arc<Slot>>,
    /// Tasks accepted so far: the next task's index.
    pub(super) accepted: u64,
    /// Tasks queued or running (accepted, no outcome recorded yet).
    pub(super) unfinished: usize,
    /// Submitters asleep on `space`.
    pub(super) blocked: usize,
    /// Callers asleep on `finished`.
    waiting: usize,
    /// Outcomes since the last collection.
    errors: Vec<TaskError>,
    omitted: usize,
    pub(super) succeeded: usize,
    pub(super) cancelled: usize,
}

/// The machinery shared by [`Group`] and [`Scope`](super::Scope).
pub(crate) struct Core<'env> {
    pub(super) ctx: Context,
    pub(super) cancel: CancelHandle,
    /// Tasks that may be unfinished at once: `limit + queue`.
    pub(super) permits: usize,
    /// The state on its own cache lines, apart from the lock word: a
    /// waiter spinning on the word does not steal the line the holder is
    /// writing.
    pub(super) state: Mutex<CachePadded<State<'env>>>,
    /// Submitters wait here for `unfinished` to drop below `permits`.
    pub(super) space: Condvar,
    /// `wait` callers wait here for `unfinished` to reach 0.
    pub(super) finished: Condvar,
    /// Whether the queue has tasks, as of its last transition, for an idle
    /// worker to spin on without the lock.
    pub(super) queued: AtomicBool,
    /// Whether an idle worker is spinning; at most one does, so spinning
    /// never takes a core from the submitter or from a working worker.
    pub(super) spinning: AtomicBool,
    pub(super) work: Condvar,
    pub(super) limit: usize,
    pub(super) cancel_on_error: bool,
    pub(super) max_errors: usize,
    pub(super) threads_started: AtomicUsize,
}

impl<'env> Core<'env> {
    /// A core running at most `workers` tasks at once, admitting `permits`
    /// (running or queued).
    pub(super) fn new(
        ctx: Context,
        cancel: CancelHandle,
        workers: usize,
        permits: usize,
        cancel_on_error: bool,
        max_errors: usize,
    ) -> Self {
        Core {
            ctx,
            cancel,
            permits,
            space: Condvar::new(),
            finished: Condvar::new(),
            state: Mutex::new(CachePadded::new(State {
                queue: VecDeque::new(),
                idle: 0,
                workers: 0,
                shutdown: false,
                slots: Vec::new(),
                accepted: 0,
                unfinished: 0,
                blocked: 0,
                waiting: 0,
                errors: Vec::new(),
                omitted: 0,
                succeeded: 0,
                cancelled: 0,
            })),
            work: Condvar::new(),
            limit: workers,
            cancel_on_error,
            max_errors,
            threads_started: AtomicUsize::new(0),
            queued: AtomicBool::new(false),
            spinning: AtomicBool::new(false),
        }
    }

    #[cfg_attr(concur_debug, track_caller)]
    pub(super) fn lock(&self) -> MutexGuard<'_, CachePadded<State<'env>>> {
        self.state.lock()
    }

    /// Waits for the admitted tasks (or `ctx`), then takes what went wrong.
    pub(super) fn wait(&self, ctx: &Context) -> Result<(), GroupError> {
        assert!(
            !self.on_own_worker(),
            "concur-sync: a group's task waited for its own group, which would wait for itself"
        );
        let mut state = self.lock();
        state.waiting += 1;
        let (mut state, outcome) = self
            .finished
            .wait_while_ctx(ctx, state, |s| s.unfinished > 0);
        state.waiting -= 1;
        // An ended `ctx` with nothing unfinished is not an interruption: the
        // last task may have finished between the deadline ending the wait
        // and this thread taking the lock again.
        let interrupted = outcome.err().filter(|_| state.unfinished > 0);
        drop(state);
        self.collect(interrupted)
    }

    /// Blocks until no task is unfinished, whatever the context.
    pub(super) fn wait_all(&self) {
        let mut state = self.lock();
        state.waiting += 1;
        let mut state = self.finished.wait_while(state, |s| s.unfinished > 0);
        state.waiting -= 1;
    }

    /// Counts `n` recorded outcomes out, with the lock held; says who to
    /// wake once it is released.
    pub(super) fn count_out(&self, state: &mut State<'env>, n: usize) -> Wake {
        state.unfinished -= n;
        Wake {
            space: n.min(state.blocked),
            finished: state.unfinished == 0 && state.waiting > 0,
        }
    }

    /// Records a failure, in full while under the bound.
    pub(super) fn keep(&self, state: &mut State<'env>, failure: TaskError) {
        if state.errors.len() < self.max_errors {
            state.errors.push(failure);
        } else {
            state.omitted += 1;
        }
    }

    /// Takes the outcomes since the last collection: `Err` if anything
    /// failed, was cancelled, or (if `interrupted`) has not finished.
    pub(super) fn collect(&self, interrupted: Option<Error>) -> Result<(), GroupError> {
        let mut state = self.lock();
        let succeeded = std::mem::take(&mut state.succeeded);
        let (errors, omitted) = (
            std::mem::take(&mut state.errors),
            std::mem::take(&mut state.omitted),
        );
        let cancelled = std::mem::take(&mut state.cancelled);
        // Counted under the same lock as the outcomes, so no task is in
        // both (or neither).
        let unfinished = if interrupted.is_some() {
            state.unfinished
        } else {
            0
        };
        if errors.is_empty() && omitted == 0 && cancelled == 0 && interrupted.is_none() {
            return Ok(());
        }
        Err(GroupError {
            errors,
            omitted,
            succeeded,
            cancelled,
            unfinished,
            interrupted,
        })
    }

    /// Tells the workers to exit once the queue is empty.
    pub(super) fn shut_down(&self) {
        self.lock().shutdown = true;
        self.work.notify_all();
    }

    /// Whether the calling thread is one of this core's workers.
    pub(super) fn on_own_worker(&self) -> bool {
        super::worker::current_core() == self as *const Self as usize
    }

    pub(crate) fn running_sites(&self) -> Vec<&'static Location<'static>> {
        self.lock().slots.iter().filter_map(|s| s.site()).collect()
    }

    /// Tasks queued or running now.
    pub(crate) fn pending_count(&self) -> usize {
        self.lock().unfinished
    }
}

/// Who to wake after outcomes were counted out (see [`Core::count_out`]).
#[must_use]
pub(super) struct Wake {
    /// Blocked submitters to wake: one per task counted out (a notified
    /// submitter takes the room; a cancelled one does not swallow the
    /// notification, the condvar passes it on).
    space: usize,
    /// Whether to wake every `wait` caller: nothing is unfinished.
    finished: bool,
}

impl Wake {
    /// Wakes them; call it after releasing the state lock.
    pub(super) fn run(self, core: &Core<'_>) {
        for _ in 0..self.space {
            core.space.notify_one();
        }
        if self.finished {
            core.finished.notify_all();
        }
    }
}

pub(crate) fn core_of<E>(group: &Group<E>) -> Arc<Core<'static>> {
    group.core.clone()
}
