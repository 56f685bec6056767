//! The machinery shared by [`Group`](super::Group) and
//! [`Scope`](super::Scope): admission, the task queue, starting and waking
//! workers, and collecting outcomes. The workers' side (taking tasks,
//! running them, recording what happened) is in `worker`.
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use super::error::{GroupError, TaskError};
use super::worker::{Slot, Task};
use super::{BoxError, Group};
use crate::{CancelHandle, Condvar, Context, Error, Mutex, MutexGuard};

pub(super) struct State<'env> {
    pub(super) queue: VecDeque<Task<'env>>,
    /// Workers asleep on `work` (counted until they wake).
    pub(super) idle: usize,
    /// Workers started and not exited.
    pub(super) workers: usize,
    pub(super) shutdown: bool,
    /// Every started worker's running slot.
    slots: Vec<Arc<Slot>>,
    /// Tasks accepted so far: the next task's index.
    accepted: u64,
    /// Tasks queued or running (accepted, no outcome recorded yet).
    pub(super) unfinished: usize,
    /// Submitters asleep on `space`.
    blocked: usize,
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
    permits: usize,
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

/// Starts worker number `n` (counting from 1) whose running slot is the
/// given one.
pub(super) type Start<'a> = dyn Fn(usize, Arc<Slot>) -> std::io::Result<()> + 'a;

/// Most tasks a batch submission pushes under one lock.
const BATCH: usize = 64;

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

    /// Locks the state with room for one more task, blocking while the
    /// group is full if `wait`. `None`: refused (a blocking refusal counts
    /// the task as cancelled).
    fn admit(&self, wait: bool) -> Option<MutexGuard<'_, CachePadded<State<'env>>>> {
        // As every blocking call: a cancelled context fails at once, a
        // passed deadline only a call that has to wait.
        let ended = if wait {
            self.ctx.cancelled().is_some()
        } else {
            self.ctx.is_done()
        };
        let mut state = self.lock();
        if ended {
            // `try_go` reports the refusal by returning false instead.
            state.cancelled += usize::from(wait);
            return None;
        }
        if state.unfinished < self.permits {
            return Some(state);
        }
        if !wait {
            return None;
        }
        state.blocked += 1;
        let (mut state, room) = self
            .space
            .wait_while_ctx(&self.ctx, state, |s| s.unfinished >= self.permits);
        state.blocked -= 1;
        if room.is_err() {
            state.cancelled += 1;
            return None;
        }
        Some(state)
    }

    /// Admits a task (blocking while the group is full if `wait`) and
    /// queues it. Returns whether the task was accepted.
    pub(super) fn submit<E>(
        &self,
        wait: bool,
        site: &'static Location<'static>,
        f: impl FnOnce() -> Result<(), E> + Send + 'env,
        start: &Start<'_>,
    ) -> bool
    where
        E: Into<BoxError>,
    {
        // Boxed before the lock, so the lock covers the queue only.
        let task = Task::new(f, site);
        match self.admit(wait) {
            Some(state) => {
                self.push(state, std::iter::once(task), start);
                true
            }
            None => {
                task.discard();
                false
            }
        }
    }

    /// Admits and queues every task of `tasks`, blocking while the group is
    /// full: up to [`BATCH`] at a time are pulled from the iterator (and
    /// boxed) with no lock held, then as many as fit are queued under one
    /// lock. Returns how many were accepted. If the context ends while it
    /// blocks, the tasks already pulled are refused and counted as
    /// cancelled, and the iterator is not pulled any further.
    pub(super) fn submit_all<E, F>(
        &self,
        site: &'static Location<'static>,
        tasks: impl IntoIterator<Item = F>,
        start: &Start<'_>,
    ) -> usize
    where
        E: Into<BoxError>,
        F: FnOnce() -> Result<(), E> + Send + 'env,
    {
        // The caller's iterator runs only here, never under the lock: it may
        // block, panic, or submit to this very group.
        let mut tasks = tasks.into_iter();
        let mut pulled: VecDeque<Task<'env>> = VecDeque::new();
        let mut accepted = 0;
        loop {
            pulled.extend(
                tasks
                    .by_ref()
                    .take(BATCH - pulled.len())
                    .map(|f| Task::new(f, site)),
            );
            if pulled.is_empty() {
                return accepted;
            }
            let Some(state) = self.admit(true) else {
                // `admit` counted one as cancelled; the rest of what was
                // pulled shares its fate.
                let refused = pulled.len();
                self.lock().cancelled += refused - 1;
                for task in pulled {
                    task.discard();
                }
                return accepted;
            };
            let room = self.permits - state.unfinished;
            let n = room.min(pulled.len());
            accepted += self.push(state, pulled.drain(..n), start);
        }
    }

    /// Queues admitted tasks and gets them taken: wakes idle workers, and
    /// starts new ones while fewer than the limit exist.
    /// Returns how many it queued.
    fn push(
        &self,
        mut state: MutexGuard<'_, CachePadded<State<'env>>>,
        tasks: impl Iterator<Item = Task<'env>>,
        start: &Start<'_>,
    ) -> usize {
        let mut pushed = 0;
        let was_empty = state.queue.is_empty();
        for mut task in tasks {
            task.index = state.accepted;
            state.accepted += 1;
            state.unfinished += 1;
            state.queue.push_back(task);
            pushed += 1;
        }
        if was_empty && pushed > 0 {
            // Only the empty/non-empty transitions are written: the spinner
            // asks nothing else, and a store per task would be one more
            // contended cache line per task.
            self.queued.store(true, Ordering::Relaxed);
        }
        // A spinning worker takes a queued task without being woken. (It
        // clears its flag before it locks the state to look for work one
        // last time, so if we see no flag, it will see our task or be idle.)
        // Sleeping workers still count as idle until they wake, so compare
        // with the queue: two quick submits must not both count on one.
        let unclaimed = state
            .queue
            .len()
            .saturating_sub(usize::from(self.spinning.load(Ordering::Acquire)));
        let wake = unclaimed.min(state.idle);
        let starting = (unclaimed - wake).min(self.limit - state.workers);
        if starting == 0 {
            drop(state);
            for _ in 0..wake {
                self.work.notify_one();
            }
            return pushed;
        }
        self.start_workers(state, wake, starting, start);
        pushed
    }

    /// Wakes `wake` idle workers and starts `starting` new ones.
    #[cold]
    fn start_workers(
        &self,
        mut state: MutexGuard<'_, CachePadded<State<'env>>>,
        wake: usize,
        starting: usize,
        start: &Start<'_>,
    ) {
        state.workers += starting;
        let slots: Vec<Arc<Slot>> = (0..starting)
            .map(|_| {
                let slot = Arc::new(Slot::default());
                state.slots.push(slot.clone());
                slot
            })
            .collect();
        drop(state);
        for _ in 0..wake {
            self.work.notify_one();
        }
        for slot in slots {
            let n = self.threads_started.fetch_add(1, Ordering::Relaxed) + 1;
            if let Err(err) = start(n, slot.clone()) {
                self.spawn_failed(&err, &slot);
            }
        }
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

    /// A worker could not be started: if no worker is left to run the
    /// queue, its tasks fail with the spawn error instead of hanging `wait`.
    fn spawn_failed(&self, err: &std::io::Error, slot: &Arc<Slot>) {
        let mut state = self.lock();
        state.workers -= 1;
        state.slots.retain(|s| !Arc::ptr_eq(s, slot));
        if state.workers > 0 {
            return;
        }
        let orphans: Vec<Task<'env>> = state.queue.drain(..).collect();
        self.queued.store(false, Ordering::Relaxed);
        for _ in &orphans {
            let failure = TaskError::Failed(
                format!("concur-sync: cannot start a worker thread: {err}").into(),
            );
            self.keep(&mut state, failure);
        }
        let wake = self.count_out(&mut state, orphans.len());
        drop(state);
        for task in orphans {
            task.discard();
        }
        wake.run(self);
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
