//! The machinery shared by [`Group`](super::Group) and
//! [`Scope`](super::Scope): its words, waiting and collecting outcomes.
//! Admission, queueing and starting workers are in `submit`; the workers'
//! side (taking tasks, running them, counting them out) in `worker`.
//!
//! # Words
//!
//! | what | where | who writes it |
//! |------|-------|---------------|
//! | `admitted` (`u64`) | tasks accepted so far (the next task's index) | submitters, with a CAS that keeps `admitted - finished` within `permits` (`limit + queue`), against `seen`, a copy of the finished count only submitters write: they read the workers' line only when the copy says the group is full |
//! | `finished` (`u64`) | bits 32..64: tasks finished (wrapping); bits 0..32: tasks that succeeded since the last collection | a worker whose task succeeded counts both with one `fetch_add`; failures and cancellations are counted under the state lock |
//! | the queue | a lock-free segmented queue ([`SegQueue`]) | submitters push, workers pop, one task at a time |
//! | `idle` | workers asleep on `work` that no waker has claimed yet | a worker counts itself in (under the state lock) before it sleeps; a submitter that pushed claims one with a CAS and then hands it a wake token (`State::tokens`) under the lock |
//! | `blocked`, `waiting` | submitters asleep on `space`, callers asleep on `done` | each counts itself in under the state lock before it sleeps; a worker that counted tasks out and sees one takes the lock to notify |
//! | `live` | workers started and not exited, read by submitters without the lock | only under the state lock: a started worker counts in, an exiting one (or one that failed to start) out |
//! | running tasks' sites | one slot per worker (`worker::Slot`), read only by [`Core::running_sites`] | the worker, with a plain store before and after each task |
//!
//! Unfinished (queued or running) = `admitted - finished`. So a task that
//! succeeds costs the submitter one CAS on a line the workers do not
//! write, a push and two loads (`idle`, `live`) after a fence, and the
//! worker a pop and one `fetch_add`; no lock is taken unless somebody
//! sleeps. Every sleeper
//! counts itself in (a `SeqCst` read-modify-write) and then looks again at
//! what it waits for, and every waker changes that first and then reads the
//! count (`SeqCst`), so one of them sees the other; the waker notifies with
//! the state lock held, which the sleeper keeps until its condvar wait is
//! linked.
//!
//! Admission is not FIFO among submitters: a place freed by a finished
//! task goes to whichever submitter gets to it first (a blocked `go` is
//! woken for it, but a `try_go` or a new `go` may get there first).

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_queue::SegQueue;
use crossbeam_utils::CachePadded;

use super::error::{GroupError, TaskError};
use super::worker::{Slot, Task};
use super::Group;
use crate::{CancelHandle, Condvar, Context, Error, Mutex, MutexGuard};

/// In `finished`: the successes.
const SUCCESSES: u64 = (1 << 32) - 1;
/// In `finished`: one finished task.
pub(super) const FINISHED: u64 = 1 << 32;

/// Tasks unfinished, from `admitted` and a `finished` word read before it
/// (counts wrap at 2^32; fewer than that are ever unfinished).
pub(super) fn unfinished(admitted: u64, finished: u64) -> usize {
    (admitted as u32).wrapping_sub((finished >> 32) as u32) as usize
}

/// The submitters' words, on a line the workers do not write.
#[derive(Default)]
pub(super) struct Admission {
    pub(super) admitted: AtomicU64,
    /// A `finished` word seen lately (older than the real one).
    pub(super) seen: AtomicU64,
}

/// What only changes under the state lock.
#[derive(Default)]
pub(super) struct State {
    pub(super) shutdown: bool,
    /// Wake-ups handed to claimed idle workers and not yet taken.
    pub(super) tokens: usize,
    /// Every started worker's running slot.
    pub(super) slots: Vec<Arc<Slot>>,
    /// Outcomes since the last collection (successes are in `finished`, and
    /// here only when they overflow it).
    errors: Vec<TaskError>,
    omitted: usize,
    pub(super) succeeded: usize,
    pub(super) cancelled: usize,
}

/// The machinery shared by [`Group`] and [`Scope`](super::Scope).
pub(crate) struct Core<'env> {
    pub(super) ctx: Context,
    pub(super) cancel: CancelHandle,
    /// Tasks that may be unfinished at once: `limit + queue` (at most
    /// 2^32 - 1).
    pub(super) permits: usize,
    pub(super) admission: CachePadded<Admission>,
    pub(super) finished: CachePadded<AtomicU64>,
    pub(super) queue: SegQueue<Task<'env>>,
    pub(super) idle: CachePadded<AtomicUsize>,
    pub(super) blocked: AtomicUsize,
    pub(super) waiting: AtomicUsize,
    pub(super) live: AtomicUsize,
    /// Whether an idle worker is spinning; at most one does, so spinning
    /// never takes a core from the submitter or from a working worker.
    pub(super) spinning: AtomicBool,
    pub(super) state: Mutex<State>,
    /// Idle workers sleep here for a token.
    pub(super) work: Condvar,
    /// Submitters sleep here for room.
    pub(super) space: Condvar,
    /// `wait` callers sleep here for nothing unfinished.
    pub(super) done: Condvar,
    pub(super) limit: usize,
    pub(super) cancel_on_error: bool,
    pub(super) max_errors: usize,
    pub(super) threads_started: AtomicUsize,
    /// Debug mode: a running task holds the group, which `wait` waits for.
    #[cfg(concur_debug)]
    pub(super) debug: crate::debug::LockDebug,
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
            permits: permits.min(u32::MAX as usize),
            admission: CachePadded::new(Admission::default()),
            finished: CachePadded::new(AtomicU64::new(0)),
            queue: SegQueue::new(),
            idle: CachePadded::new(AtomicUsize::new(0)),
            blocked: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            spinning: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            space: Condvar::new(),
            done: Condvar::new(),
            limit: workers,
            cancel_on_error,
            max_errors,
            threads_started: AtomicUsize::new(0),
            #[cfg(concur_debug)]
            debug: crate::debug::LockDebug::new(),
        }
    }

    #[cfg_attr(concur_debug, track_caller)]
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Takes one unclaimed idle worker off `idle`: a submitter claiming it
    /// for a wake-up (it gets a token), or a worker taking back its own
    /// count. `false` if every idle worker has been claimed.
    pub(super) fn take_idle(&self) -> bool {
        self.idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |idle| {
                idle.checked_sub(1)
            })
            .is_ok()
    }

    /// Tasks unfinished now (`SeqCst`: sleepers read it after counting
    /// themselves in).
    pub(super) fn unfinished(&self) -> usize {
        // `finished` first: every task it counts was admitted before.
        let finished = self.finished.load(Ordering::SeqCst);
        unfinished(self.admission.admitted.load(Ordering::SeqCst), finished)
    }

    /// Waits for the admitted tasks (or `ctx`), then takes what went wrong.
    #[cfg_attr(concur_debug, track_caller)]
    pub(super) fn wait(&self, ctx: &Context) -> Result<(), GroupError> {
        assert!(
            !self.on_own_worker(),
            "concur-sync: a group's task waited for its own group, which would wait for itself"
        );
        #[cfg(concur_debug)]
        self.debug.before_wait(
            crate::debug::Mode::Group,
            Location::caller(),
            crate::debug::How::Thread,
        );
        let mut interrupted = None;
        if self.unfinished() > 0 {
            let state = self.lock();
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let (state, outcome) = self
                .done
                .wait_while_ctx(ctx, state, |_| self.unfinished() > 0);
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            // An ended `ctx` with nothing unfinished is not an interruption:
            // the last task may have finished between the deadline ending
            // the wait and this thread taking the lock again.
            interrupted = outcome.err().filter(|_| self.unfinished() > 0);
            drop(state);
        }
        self.collect(interrupted)
    }

    /// Blocks until no task is unfinished, whatever the context.
    pub(super) fn wait_all(&self) {
        if self.unfinished() == 0 {
            return;
        }
        let state = self.lock();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let state = self.done.wait_while(state, |_| self.unfinished() > 0);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        drop(state);
    }

    /// After `n` tasks were counted as finished, `finished` being the word
    /// that did it: wakes a blocked submitter per freed place, and every
    /// `wait` caller if none is left. Takes the state lock only if someone
    /// sleeps; must be called without it.
    pub(super) fn counted_out(&self, finished: u64, n: usize) {
        if self.blocked.load(Ordering::SeqCst) > 0 {
            let _state = self.lock();
            for _ in 0..n {
                self.space.notify_one();
            }
        }
        // `admitted` only if someone waits: it is the submitters' line. A
        // task admitted since makes this non-zero: its own end wakes them.
        if self.waiting.load(Ordering::SeqCst) > 0
            && unfinished(self.admission.admitted.load(Ordering::SeqCst), finished) == 0
        {
            let _state = self.lock();
            self.done.notify_all();
        }
    }

    /// Counts `n` tasks finished that did not succeed, with the lock held
    /// (so a collection sees them finished and recorded together). Returns
    /// the `finished` word after, for [`counted_out`](Self::counted_out).
    pub(super) fn count_out_locked(&self, n: usize) -> u64 {
        let add = FINISHED.wrapping_mul(n as u64);
        self.finished
            .fetch_add(add, Ordering::SeqCst)
            .wrapping_add(add)
    }

    /// Records a failure, in full while under the bound.
    pub(super) fn keep(&self, state: &mut State, failure: TaskError) {
        if state.errors.len() < self.max_errors {
            state.errors.push(failure);
        } else {
            state.omitted += 1;
        }
    }

    /// Moves the successes out of `finished` into `State::succeeded`; with
    /// the lock held. Returns the unfinished count just after.
    pub(super) fn take_successes(&self, state: &mut State) -> usize {
        let finished = self.finished.fetch_and(!SUCCESSES, Ordering::SeqCst);
        state.succeeded += (finished & SUCCESSES) as usize;
        unfinished(self.admission.admitted.load(Ordering::SeqCst), finished)
    }

    /// Takes the outcomes since the last collection: `Err` if anything
    /// failed, was cancelled, or (if `interrupted`) has not finished.
    pub(super) fn collect(&self, interrupted: Option<Error>) -> Result<(), GroupError> {
        let mut state = self.lock();
        // Successes taken with the finished count they belong to, failures
        // and cancellations under the same lock: no task is in two counts
        // (or in none); a task admitted meanwhile counts as unfinished.
        let unfinished = self.take_successes(&mut state);
        let succeeded = std::mem::take(&mut state.succeeded);
        let (errors, omitted) = (
            std::mem::take(&mut state.errors),
            std::mem::take(&mut state.omitted),
        );
        let cancelled = std::mem::take(&mut state.cancelled);
        let unfinished = if interrupted.is_some() { unfinished } else { 0 };
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
        self.unfinished()
    }
}

pub(crate) fn core_of<E>(group: &Group<E>) -> Arc<Core<'static>> {
    group.core.clone()
}
