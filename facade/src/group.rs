//! `Group` and `scope`: bounded fan-out that collects every error.
//!
//! Both run tasks on at most `limit` worker threads, started lazily and
//! reused: a task goes to an idle worker if there is one, and a new worker is
//! started only while fewer than `limit` exist. Admission is a [`Semaphore`]
//! of `limit` permits, so [`Group::go`] blocks while `limit` tasks are queued
//! or running, and [`Group::try_go`] refuses instead.
//!
//! Every task error is kept (in order of completion, the first
//! `max_errors` in full and the rest counted), panics become [`PanicError`]s
//! with their message, spawn site and worker thread, and tasks that never
//! started because the group's context ended are counted as cancelled. A
//! panic is never reported as a cancellation, and a cancellation never hides
//! an error: [`GroupError`] carries all three.
//!
//! [`Group`] owns its workers (`'static` tasks); [`scope`] runs the same
//! machinery on `std::thread::scope` workers, so tasks may borrow from the
//! caller's stack. The two share one core, which decides when a worker is
//! needed; each spawns its own kind.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex as StdMutex, MutexGuard as StdGuard};
use std::thread;

use crate::{CancelHandle, Context, Error, Semaphore, WaitGroup};

/// The error type tasks may return (anything that converts into it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How many task errors a group keeps in full unless told otherwise; the
/// rest are counted.
pub const DEFAULT_MAX_ERRORS: usize = 1024;

/// Configures a [`Group`] (or a [`scope`]). Start with [`Group::builder`].
#[derive(Debug, Clone)]
pub struct GroupBuilder {
    limit: usize,
    ctx: Context,
    cancel_on_error: bool,
    max_errors: usize,
}

/// A [`GroupBuilder`] setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid group configuration: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Default for GroupBuilder {
    fn default() -> Self {
        Self {
            limit: thread::available_parallelism().map_or(2, |n| n.get()),
            ctx: Context::background(),
            cancel_on_error: false,
            max_errors: DEFAULT_MAX_ERRORS,
        }
    }
}

impl GroupBuilder {
    /// At most `limit` tasks queued or running at once, on at most `limit`
    /// threads. Default: the number of available cores. 0 is rejected by
    /// [`build`](Self::build).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Runs the group under `ctx`: once it ends, [`Group::go`] stops waiting
    /// and tasks not yet started never start (they are counted as cancelled).
    /// Tasks can read the group's context with [`Group::context`].
    pub fn context(mut self, ctx: &Context) -> Self {
        self.ctx = ctx.clone();
        self
    }

    /// Cancel the group's context when a task fails or panics, so the tasks
    /// not yet started are skipped. The cancellation is permanent: later
    /// `go` calls are counted as cancelled. Off by default: every task runs
    /// and every error is collected.
    pub fn cancel_on_error(mut self, on: bool) -> Self {
        self.cancel_on_error = on;
        self
    }

    /// Keep at most `max` errors in full (default [`DEFAULT_MAX_ERRORS`]);
    /// later ones are only counted ([`GroupError::omitted`]).
    pub fn max_errors(mut self, max: usize) -> Self {
        self.max_errors = max;
        self
    }

    /// Builds the group.
    pub fn build(self) -> Result<Group, ConfigError> {
        let core = Arc::new(self.core()?);
        Ok(Group {
            core,
            threads: StdMutex::new(Vec::new()),
        })
    }

    /// Runs `f` with a [`Scope`] configured like this builder; see [`scope`].
    pub fn scope<'env, F, R>(self, f: F) -> Result<Result<R, GroupError>, ConfigError>
    where
        F: for<'s, 'scope> FnOnce(&'s Scope<'scope, 'env>) -> R,
    {
        let core = self.core()?;
        Ok(run_scope(core, f))
    }

    fn core<'env>(self) -> Result<Core<'env>, ConfigError> {
        if self.limit == 0 {
            return Err(ConfigError {
                message: "limit must be at least 1",
            });
        }
        let limit = u64::try_from(self.limit)
            .unwrap_or(crate::MAX_PERMITS)
            .min(crate::MAX_PERMITS);
        let (ctx, cancel) = self.ctx.with_cancel();
        Ok(Core {
            ctx,
            cancel,
            admission: Semaphore::new(limit),
            pending: WaitGroup::new(),
            state: StdMutex::new(State {
                queue: VecDeque::new(),
                idle: 0,
                workers: 0,
                shutdown: false,
                running: HashMap::new(),
                next_id: 0,
                errors: Vec::new(),
                omitted: 0,
                cancelled: 0,
            }),
            work: Condvar::new(),
            limit: self.limit,
            cancel_on_error: self.cancel_on_error,
            max_errors: self.max_errors,
            threads_started: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            spinning: AtomicBool::new(false),
        })
    }
}

/// A task that failed: it returned an error or it panicked.
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task returned this error.
    Failed(BoxError),
    /// The task panicked.
    Panicked(PanicError),
}

/// A task's panic, as an error: its message, where the task was spawned,
/// and the worker thread it ran on.
#[derive(Debug, Clone)]
pub struct PanicError {
    message: String,
    site: &'static Location<'static>,
    thread: Option<String>,
}

impl PanicError {
    /// The panic message (`"<non-string panic payload>"` if it had none).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the task was spawned ([`Group::go`]'s caller).
    pub fn spawn_site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The name of the worker thread the task panicked on.
    pub fn thread(&self) -> Option<&str> {
        self.thread.as_deref()
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task spawned at {} panicked", self.site)?;
        if let Some(thread) = &self.thread {
            write!(f, " on thread '{thread}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PanicError {}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(err) => fmt::Display::fmt(err, f),
            TaskError::Panicked(panic) => fmt::Display::fmt(panic, f),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Failed(err) => Some(&**err),
            TaskError::Panicked(panic) => Some(panic),
        }
    }
}

impl TaskError {
    /// Whether the task panicked (rather than returned an error).
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }
}

/// Everything that went wrong in a group since the last wait.
#[derive(Debug)]
pub struct GroupError {
    errors: Vec<TaskError>,
    omitted: usize,
    cancelled: usize,
    interrupted: Option<Error>,
}

impl GroupError {
    /// The task errors kept in full, in order of completion.
    pub fn errors(&self) -> &[TaskError] {
        &self.errors
    }

    /// The task errors, by value.
    pub fn into_errors(self) -> Vec<TaskError> {
        self.errors
    }

    /// Errors beyond the group's `max_errors`, counted but not kept.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// Tasks that never started because the group's context had ended.
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }

    /// Set if the wait itself ended early because its context ended (tasks
    /// may still be running; wait again to collect them).
    pub fn interrupted(&self) -> Option<Error> {
        self.interrupted
    }

    /// All task failures, kept and omitted.
    pub fn failures(&self) -> usize {
        self.errors.len() + self.omitted
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let panics = self.errors.iter().filter(|e| e.is_panic()).count();
        write!(f, "{} task(s) failed", self.failures())?;
        if panics > 0 {
            write!(f, " ({panics} panicked)")?;
        }
        if self.cancelled > 0 {
            write!(f, ", {} cancelled before starting", self.cancelled)?;
        }
        if let Some(err) = self.interrupted {
            write!(f, ", wait ended early: {err}")?;
        }
        for (i, err) in self.errors.iter().enumerate() {
            write!(f, "\n  {}. {err}", i + 1)?;
        }
        if self.omitted > 0 {
            write!(f, "\n  ... and {} more", self.omitted)?;
        }
        Ok(())
    }
}

impl std::error::Error for GroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors
            .first()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

type Job<'env> = Box<dyn FnOnce() -> Result<(), BoxError> + Send + 'env>;

struct Task<'env> {
    job: Job<'env>,
    site: &'static Location<'static>,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

struct State<'env> {
    queue: VecDeque<Task<'env>>,
    idle: usize,
    workers: usize,
    shutdown: bool,
    /// Running tasks by id, with their spawn sites (for the leak guard).
    running: HashMap<u64, &'static Location<'static>>,
    next_id: u64,
    errors: Vec<TaskError>,
    omitted: usize,
    cancelled: usize,
}

/// The machinery shared by [`Group`] and [`Scope`].
pub(crate) struct Core<'env> {
    ctx: Context,
    cancel: CancelHandle,
    admission: Semaphore,
    /// Tasks admitted and not yet finished.
    pending: WaitGroup,
    state: StdMutex<State<'env>>,
    /// `state.queue.len()` as of the last change, for idle workers to spin
    /// on without the lock.
    queued: AtomicUsize,
    /// Whether an idle worker is spinning; at most one does, so spinning
    /// never takes a core from the submitter or from a working worker.
    spinning: AtomicBool,
    work: Condvar,
    limit: usize,
    cancel_on_error: bool,
    max_errors: usize,
    threads_started: AtomicUsize,
}

impl<'env> Core<'env> {
    fn state(&self) -> StdGuard<'_, State<'env>> {
        // Tasks run outside the lock, so it is never poisoned by them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a task (blocking while at the limit if `wait`) and queues it,
    /// calling `start(n)` to start worker number `n` when one is needed.
    /// Returns whether the task was accepted.
    fn submit<E>(
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
                .ok_or(Error::Closed)
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
        let task = Task {
            job: Box::new(move || f().map_err(Into::into)),
            site,
            #[cfg(feature = "tracing")]
            span: tracing::Span::current(),
        };
        let mut state = self.state();
        state.queue.push_back(task);
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
    fn work(&self) {
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
                self.state().cancelled += 1;
            } else {
                let id = state.next_id;
                state.next_id += 1;
                state.running.insert(id, task.site);
                drop(state);
                let failure = self.run(task);
                let mut state = self.state();
                state.running.remove(&id);
                if let Some(failure) = failure {
                    if state.errors.len() < self.max_errors {
                        state.errors.push(failure);
                    } else {
                        state.omitted += 1;
                    }
                    drop(state);
                    if self.cancel_on_error {
                        self.cancel.cancel();
                    }
                }
            }
            self.admission.release(1);
            self.pending.done();
        }
    }

    fn run(&self, task: Task<'env>) -> Option<TaskError> {
        let Task { job, site, .. } = task;
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
                    site,
                    thread: thread::current().name().map(str::to_string),
                }))
            }
        }
    }

    /// Waits for the admitted tasks (or `ctx`), then takes what went wrong.
    fn wait(&self, ctx: &Context) -> Result<(), GroupError> {
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
        let mut state = self.state();
        let errors = std::mem::take(&mut state.errors);
        let omitted = std::mem::take(&mut state.omitted);
        let cancelled = std::mem::take(&mut state.cancelled);
        if errors.is_empty() && omitted == 0 && cancelled == 0 && interrupted.is_none() {
            Ok(())
        } else {
            Err(GroupError {
                errors,
                omitted,
                cancelled,
                interrupted,
            })
        }
    }

    /// Whether the calling thread is one of this core's workers.
    fn on_own_worker(&self) -> bool {
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
        for _ in &orphans {
            let failure = TaskError::Failed(
                format!("concur-sync: cannot start a worker thread: {err}").into(),
            );
            if state.errors.len() < self.max_errors {
                state.errors.push(failure);
            } else {
                state.omitted += 1;
            }
        }
        drop(state);
        for task in orphans {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(task)));
            self.admission.release(1);
            self.pending.done();
        }
    }

    /// Tells the workers to exit once the queue is empty.
    fn shut_down(&self) {
        self.state().shutdown = true;
        self.work.notify_all();
    }
}

thread_local! {
    /// The core whose worker this thread is (0 if none).
    static CURRENT_CORE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A bounded group of tasks that collects every error; see the
/// [module docs](crate::group).
///
/// ```
/// use concur_sync::{Context, Group};
///
/// let group = Group::builder().limit(2).build()?;
/// for i in 0..10 {
///     group.go(move || if i % 4 == 3 { Err(format!("item {i} failed")) } else { Ok(()) });
/// }
/// let err = group.wait(&Context::background()).unwrap_err();
/// assert_eq!(err.errors().len(), 2); // items 3 and 7: every error, not the first
/// # Ok::<(), concur_sync::ConfigError>(())
/// ```
///
/// Dropping a group cancels its context (tasks not yet started are
/// skipped), waits for the running tasks, and joins its worker threads.
pub struct Group {
    core: Arc<Core<'static>>,
    threads: StdMutex<Vec<thread::JoinHandle<()>>>,
}

impl Group {
    /// A builder; `Group::builder().limit(n).build()`.
    pub fn builder() -> GroupBuilder {
        GroupBuilder::default()
    }

    /// Runs `f` on a worker, blocking while the group is at its limit. If the
    /// group's context ends first, `f` never runs and is counted as
    /// cancelled (as is a task still queued when the context ends).
    ///
    /// A task may call `go` on its own group, but if every running task does
    /// so at the limit, they all wait for each other: use `try_go` there.
    /// A task must not `wait` for its own group (that panics, reported as the
    /// task's `PanicError`).
    #[track_caller]
    pub fn go<E: Into<BoxError>>(&self, f: impl FnOnce() -> Result<(), E> + Send + 'static) {
        self.core
            .submit(true, Location::caller(), f, |n| self.start_worker(n));
    }

    /// Like [`go`](Self::go) but never blocks: returns `false` (and drops
    /// `f`) if the group is at its limit or its context has ended.
    #[track_caller]
    pub fn try_go<E: Into<BoxError>>(
        &self,
        f: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) -> bool {
        self.core
            .submit(false, Location::caller(), f, |n| self.start_worker(n))
    }

    fn start_worker(&self, n: usize) -> std::io::Result<()> {
        let core = self.core.clone();
        let handle = thread::Builder::new()
            .name(format!("concur-group-{n}"))
            .spawn(move || core.work())?;
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
        Ok(())
    }

    /// Blocks until every started task has finished (or `ctx` ends), then
    /// returns every error since the last wait.
    pub fn wait(&self, ctx: &Context) -> Result<(), GroupError> {
        self.core.wait(ctx)
    }

    /// The group's context: ends when the configured context ends, on the
    /// first error with `cancel_on_error`, or when the group is dropped.
    pub fn context(&self) -> &Context {
        &self.core.ctx
    }

    /// Cancels the group's context: tasks not yet started are skipped.
    pub fn cancel(&self) {
        self.core.cancel.cancel();
    }

    /// Worker threads started so far (at most the limit).
    pub fn threads_started(&self) -> usize {
        self.core.threads_started.load(Ordering::Relaxed)
    }

    /// Tasks running right now, with their spawn sites.
    pub fn running(&self) -> Vec<&'static Location<'static>> {
        self.core.running_sites()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.core.cancel.cancel();
        if self.core.on_own_worker() {
            // Dropped by one of its own tasks (it held the last handle): the
            // other workers finish and exit on their own; this one cannot
            // wait for itself, so the handles are detached.
            self.core.shut_down();
            return;
        }
        self.core.pending.wait();
        self.core.shut_down();
        for handle in self
            .threads
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = handle.join();
        }
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("limit", &self.core.limit)
            .field("threads_started", &self.threads_started())
            .field("pending", &self.core.pending.count())
            .finish_non_exhaustive()
    }
}

/// A group whose tasks may borrow from the caller's stack; made by
/// [`scope`]. Every task has finished before `scope` returns.
pub struct Scope<'scope, 'env: 'scope> {
    core: Arc<Core<'env>>,
    threads: &'scope thread::Scope<'scope, 'env>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// As [`Group::go`], for a task that may borrow from the caller's stack.
    #[track_caller]
    pub fn go<E: Into<BoxError>>(&self, f: impl FnOnce() -> Result<(), E> + Send + 'env) {
        self.core
            .submit(true, Location::caller(), f, |n| self.start_worker(n));
    }

    /// As [`Group::try_go`].
    #[track_caller]
    pub fn try_go<E: Into<BoxError>>(
        &self,
        f: impl FnOnce() -> Result<(), E> + Send + 'env,
    ) -> bool {
        self.core
            .submit(false, Location::caller(), f, |n| self.start_worker(n))
    }

    fn start_worker(&self, n: usize) -> std::io::Result<()> {
        let core = self.core.clone();
        // The handle is dropped here, which detaches the thread (the scope
        // still waits for it). That is safe only because a worker cannot be
        // exiting now: it leaves only at shut-down, which follows the
        // scope closure, which is still running this call. (glibc's
        // pthread_detach can fault on a thread that exits during it.)
        thread::Builder::new()
            .name(format!("concur-scope-{n}"))
            .spawn_scoped(self.threads, move || core.work())?;
        Ok(())
    }

    /// The scope's context (see [`Group::context`]).
    pub fn context(&self) -> &Context {
        &self.core.ctx
    }

    /// Cancels the scope's context: tasks not yet started are skipped.
    pub fn cancel(&self) {
        self.core.cancel.cancel();
    }

    /// Worker threads started so far.
    pub fn threads_started(&self) -> usize {
        self.core.threads_started.load(Ordering::Relaxed)
    }
}

/// Runs `f` with a [`Scope`] (default configuration: a limit of one task per
/// core, every error collected), waits for every task it started, and
/// returns `f`'s result, or every task error.
///
/// ```
/// let mut totals = vec![0u64; 4];
/// let data = vec![1u64, 2, 3, 4, 5, 6, 7, 8];
/// concur_sync::scope(|s| {
///     for (total, chunk) in totals.iter_mut().zip(data.chunks(2)) {
///         s.go(move || {
///             *total = chunk.iter().sum();
///             Ok::<(), std::convert::Infallible>(())
///         });
///     }
/// })?;
/// assert_eq!(totals, [3, 7, 11, 15]);
/// # Ok::<(), concur_sync::GroupError>(())
/// ```
pub fn scope<'env, F, R>(f: F) -> Result<R, GroupError>
where
    F: for<'s, 'scope> FnOnce(&'s Scope<'scope, 'env>) -> R,
{
    match GroupBuilder::default().scope(f) {
        Ok(result) => result,
        Err(config) => unreachable!("the default group configuration is valid: {config}"),
    }
}

fn run_scope<'env, F, R>(core: Core<'env>, f: F) -> Result<R, GroupError>
where
    F: for<'s, 'scope> FnOnce(&'s Scope<'scope, 'env>) -> R,
{
    /// Shuts the workers down however the scope closure exits (a panic
    /// included), so `thread::scope` can join them.
    struct ShutDown<'a, 'env>(&'a Core<'env>);
    impl Drop for ShutDown<'_, '_> {
        fn drop(&mut self) {
            if thread::panicking() {
                // The scope closure panicked: skip what has not started.
                self.0.cancel.cancel();
            }
            self.0.pending.wait();
            self.0.shut_down();
        }
    }
    // Workers own clones of the Arc: `thread::scope` lets its scope stretch
    // up to `'env`, so they must not borrow anything local to this call.
    let core = Arc::new(core);
    let result = thread::scope(|threads| {
        let _shut_down = ShutDown(&core);
        let scope = Scope {
            core: core.clone(),
            threads,
        };
        f(&scope)
    });
    core.wait(&Context::background()).map(|()| result)
}

pub(crate) fn core_of(group: &Group) -> Arc<Core<'static>> {
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
