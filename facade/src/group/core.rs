//! The machinery shared by [`Group`](super::Group) and
//! [`Scope`](super::Scope): admission, the task queue, the workers' loop,
//! running a task (a panic becomes a [`PanicError`]) and collecting errors.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex as StdMutex, MutexGuard as StdGuard};
use std::thread;

use super::error::{GroupError, PanicError, TaskError};
use super::{BoxError, Group};
use crate::{CancelHandle, Context, Error, Semaphore, WaitGroup};

type Job<'env> = Box<dyn FnOnce() -> Result<(), BoxError> + Send + 'env>;

struct Task<'env> {
    job: Job<'env>,
    /// The task's index among those the group accepted.
    index: u64,
    site: &'static Location<'static>,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

struct State<'env> {
    queue: VecDeque<Task<'env>>,
    idle: usize,
    workers: usize,
    shutdown: bool,
    /// Running tasks by index, with their spawn sites (for the leak guard).
    running: HashMap<u64, &'static Location<'static>>,
    /// Tasks accepted so far: the next task's index.
    accepted: u64,
    /// Tasks queued or running (accepted, no outcome recorded yet).
    unfinished: usize,
    /// Outcomes since the last wait.
    errors: Vec<TaskError>,
    omitted: usize,
    succeeded: usize,
    cancelled: usize,
}

/// The machinery shared by [`Group`] and [`Scope`].
pub(crate) struct Core<'env> {
    pub(super) ctx: Context,
    pub(super) cancel: CancelHandle,
    pub(super) admission: Semaphore,
    /// Tasks admitted and not yet finished.
    pub(super) pending: WaitGroup,
    state: StdMutex<State<'env>>,
    /// `state.queue.len()` as of the last change, for idle workers to spin
    /// on without the lock.
    pub(super) queued: AtomicUsize,
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
    /// A core admitting `permits` tasks at once on at most `workers` workers.
    pub(super) fn new(
        ctx: Context,
        cancel: CancelHandle,
        workers: usize,
        permits: u64,
        cancel_on_error: bool,
        max_errors: usize,
    ) -> Self {
        Core {
            ctx,
            cancel,
            admission: Semaphore::new(permits),
            pending: WaitGroup::new(),
            state: StdMutex::new(State {
                queue: VecDeque::new(),
                idle: 0,
                workers: 0,
                shutdown: false,
                running: HashMap::new(),
                accepted: 0,
                unfinished: 0,
                errors: Vec::new(),
                omitted: 0,
                succeeded: 0,
                cancelled: 0,
            }),
            work: Condvar::new(),
            limit: workers,
            cancel_on_error,
            max_errors,
            threads_started: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            spinning: AtomicBool::new(false),
        }
    }

    fn state(&self) -> StdGuard<'_, State<'env>> {
        // Tasks run outside the lock, so it is never poisoned by them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a task (blocking while at the limit if `wait`) and queues it,
    /// calling `start(n)` to start worker number `n` when one is needed.
    /// Returns whether the task was accepted.
    pub(super) fn submit<E>(
        &self,
        wait: bool,
        site: &'static Location<'static>,
        f: impl FnOnce() -> Result<(), E> + Send + 'env,
        start: impl FnOnce(usize) -> std::io::Result<()>,
    ) -> bool
    where
        E: Into<BoxError>,
    {
        let admitted = if wait {
            self.admission.acquire(&self.ctx, 1).map(|p| {
                p.leak();
            })
        } else if self.ctx.is_done() {
            Err(Error::Cancelled)
        } else {
            self.admission
                .try_acquire(1)
                .map(|p| {
                    p.leak();
                })
                // A refusal, whatever the reason, is reported as `false`.
                .map_err(|_| Error::Closed)
        };
        match admitted {
            Ok(()) => {}
            Err(Error::Closed) => return false,
            Err(_) => {
                // `try_go` reports the refusal by returning false instead.
                if wait {
                    self.state().cancelled += 1;
                }
                return false;
            }
        }
        self.pending.add(1);
        let job: Job<'env> = Box::new(move || f().map_err(Into::into));
        #[cfg(feature = "tracing")]
        let span = tracing::Span::current();
        let mut state = self.state();
        let index = state.accepted;
        state.accepted += 1;
        state.unfinished += 1;
        state.queue.push_back(Task {
            job,
            index,
            site,
            #[cfg(feature = "tracing")]
            span,
        });
        self.queued.store(state.queue.len(), Ordering::Relaxed);
        // A spinning worker takes a queued task without being woken. (It
        // clears its flag before it locks the state to look for work one
        // last time, so if we see no flag, it will see our task or be idle.)
        // Sleeping workers still count as idle until they wake, so compare
        // with the queue: two quick submits must not both count on one.
        let unclaimed = state
            .queue
            .len()
            .saturating_sub(usize::from(self.spinning.load(Ordering::Acquire)));
        if unclaimed == 0 {
            // The spinner has it.
        } else if unclaimed <= state.idle {
            drop(state);
            self.work.notify_one();
        } else if state.workers < self.limit {
            state.workers += 1;
            drop(state);
            let n = self.threads_started.fetch_add(1, Ordering::Relaxed) + 1;
            if let Err(err) = start(n) {
                self.spawn_failed(&err);
            }
        }
        true
    }

    /// A worker: runs queued tasks until shutdown, sleeping while idle.
    pub(super) fn work(&self) {
        CURRENT_CORE.with(|c| c.set(self as *const Self as usize));
        loop {
            let mut state = self.state();
            // Once per idle spell, one worker at a time spins briefly before
            // sleeping: in a fan-out of small tasks the next one is usually
            // being submitted now, and finding it saves a sleep here and a
            // wake in `submit`.
            let mut spin = true;
            let task = loop {
                if let Some(task) = state.queue.pop_front() {
                    self.queued.store(state.queue.len(), Ordering::Relaxed);
                    break task;
                }
                if state.shutdown {
                    state.workers -= 1;
                    return;
                }
                if std::mem::take(&mut spin) && !self.spinning.swap(true, Ordering::Acquire) {
                    drop(state);
                    let backoff = crossbeam_utils::Backoff::new();
                    while self.queued.load(Ordering::Relaxed) == 0 && !backoff.is_completed() {
                        backoff.snooze();
                    }
                    self.spinning.store(false, Ordering::Release);
                    state = self.state();
                    continue;
                }
                state.idle += 1;
                state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
                state.idle -= 1;
            };
            if self.ctx.is_done() {
                drop(state);
                // Drop the task's captures before it counts as finished, and
                // keep a panicking destructor from killing the worker.
                let _ = catch_unwind(AssertUnwindSafe(move || drop(task)));
                let mut state = self.state();
                state.cancelled += 1;
                state.unfinished -= 1;
            } else {
                let index = task.index;
                state.running.insert(index, task.site);
                drop(state);
                let failure = self.run(task);
                let mut state = self.state();
                state.running.remove(&index);
                state.unfinished -= 1;
                match failure {
                    None => state.succeeded += 1,
                    Some(failure) => {
                        self.keep(&mut state, failure);
                        drop(state);
                        if self.cancel_on_error {
                            self.cancel.cancel();
                        }
                    }
                }
            }
            self.admission.release(1);
            self.pending.done();
        }
    }

    /// Records a failure, in full while under the bound.
    fn keep(&self, state: &mut State<'env>, failure: TaskError) {
        if state.errors.len() < self.max_errors {
            state.errors.push(failure);
        } else {
            state.omitted += 1;
        }
    }

    fn run(&self, task: Task<'env>) -> Option<TaskError> {
        let Task {
            job, index, site, ..
        } = task;
        #[cfg(feature = "tracing")]
        let _entered = task.span.enter();
        match catch_unwind(AssertUnwindSafe(job)) {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(TaskError::Failed(err)),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "<non-string panic payload>".to_string());
                // A payload whose destructor panics must not kill the worker.
                let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
                Some(TaskError::Panicked(PanicError {
                    message,
                    task: index,
                    site,
                    thread: thread::current().name().map(str::to_string),
                }))
            }
        }
    }

    /// Waits for the admitted tasks (or `ctx`), then takes what went wrong.
    pub(super) fn wait(&self, ctx: &Context) -> Result<(), GroupError> {
        assert!(
            !self.on_own_worker(),
            "concur-sync: a group's task waited for its own group, which would wait for itself"
        );
        // An ended `ctx` with nothing pending is not an interruption.
        let interrupted = self
            .pending
            .wait_ctx(ctx)
            .err()
            .filter(|_| self.pending.count() > 0);
        self.collect(interrupted)
    }

    /// Takes the outcomes since the last collection: `Err` if anything
    /// failed, was cancelled, or (if `interrupted`) has not finished.
    pub(super) fn collect(&self, interrupted: Option<Error>) -> Result<(), GroupError> {
        let mut state = self.state();
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

    /// Whether the calling thread is one of this core's workers.
    pub(super) fn on_own_worker(&self) -> bool {
        CURRENT_CORE.with(|c| c.get() == self as *const Self as usize)
    }

    /// A worker could not be started: if no worker is left to run the
    /// queue, its tasks fail with the spawn error instead of hanging `wait`.
    fn spawn_failed(&self, err: &std::io::Error) {
        let mut state = self.state();
        state.workers -= 1;
        if state.workers > 0 {
            return;
        }
        let orphans: Vec<Task<'env>> = state.queue.drain(..).collect();
        state.unfinished -= orphans.len();
        for _ in &orphans {
            let failure = TaskError::Failed(
                format!("concur-sync: cannot start a worker thread: {err}").into(),
            );
            self.keep(&mut state, failure);
        }
        drop(state);
        for task in orphans {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(task)));
            self.admission.release(1);
            self.pending.done();
        }
    }

    /// Tells the workers to exit once the queue is empty.
    pub(super) fn shut_down(&self) {
        self.state().shutdown = true;
        self.work.notify_all();
    }
}

thread_local! {
    /// The core whose worker this thread is (0 if none).
    static CURRENT_CORE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

pub(crate) fn core_of<E>(group: &Group<E>) -> Arc<Core<'static>> {
    group.core.clone()
}

impl Core<'_> {
    pub(crate) fn running_sites(&self) -> Vec<&'static Location<'static>> {
        self.state().running.values().copied().collect()
    }

    pub(crate) fn pending_count(&self) -> u32 {
        self.pending.count()
    }
}
