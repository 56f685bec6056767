//! `Group` and `scope`: bounded fan-out that collects every error.
//!
//! Both run tasks on at most `limit` worker threads, started lazily and
//! reused: a task goes to an idle worker if there is one, and a new worker is
//! started only while fewer than `limit` exist. Admission is a
//! [`Semaphore`](crate::Semaphore) of `limit` permits, so [`Group::go`]
//! blocks while `limit` tasks are queued or running, and [`Group::try_go`]
//! refuses instead.
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
//!
//! The code: this file has the builder and [`Group`]; `core` the shared
//! machinery (admission, queue, workers, collection); `error` what is
//! reported; `scope` the scoped form.

mod core;
mod error;
mod scope;

use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;

pub(crate) use self::core::{core_of, Core};
use crate::Context;
pub use error::{GroupError, PanicError, TaskError};
use scope::run_scope;
pub use scope::{scope, Scope};

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
        Ok(Core::new(
            ctx,
            cancel,
            self.limit,
            limit,
            self.cancel_on_error,
            self.max_errors,
        ))
    }
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
