//! `Group` and `scope`: bounded fan-out that collects every error.
//!
//! Both run tasks on at most `limit` worker threads, started lazily and
//! reused: a task goes to an idle worker if there is one, and a new worker is
//! started only while fewer than `limit` exist. At most `limit + queue`
//! tasks are unfinished (queued or running; [`GroupBuilder::queue`],
//! default 0): [`Group::go`] blocks while that many are, and
//! [`Group::try_go`] refuses instead; [`Group::go_all`] admits a batch
//! with one atomic step. A place freed by a finished task goes to whichever
//! submitter gets to it first (a blocked `go` is woken for it, but is not
//! ahead of a new one: admission is not FIFO). Tasks wait in a lock-free
//! queue and are admitted and counted with atomics on separate cache lines
//! for submitters and workers; a small task closure is stored in the task
//! itself, not boxed. The state lock (concur's [`Mutex`](crate::Mutex),
//! with [`Condvar`](crate::Condvar)s) is taken only to sleep or to wake a
//! sleeper, and to record a failure.
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
//! Tasks return `Result<(), E>`, with `E` fixed when the group is built
//! ([`BoxError`] unless [`GroupBuilder::error`] says otherwise), so a
//! closure's `Ok(())` and `?` need no annotation; [`Group::spawn`] takes a
//! task that returns nothing.
//!
//! The code: this file has [`Group`]; `builder` its configuration; `core`
//! the shared words, waiting and collection; `submit` admission, the
//! queue and starting workers; `worker` the workers' loop; `job` the
//! task closures; `error` what is reported; `scope` the scoped form.

mod builder;
mod core;
mod error;
mod job;
mod scope;
mod submit;
mod task;
mod worker;

use std::fmt;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;

pub(crate) use self::core::{core_of, Core};
use crate::Context;
pub use builder::{ConfigError, GroupBuilder, DEFAULT_MAX_ERRORS};
pub use error::{GroupError, PanicError, TaskError};
pub use scope::{scope, Scope};
use worker::Slot;

/// The error type tasks return unless the builder picks another: anything
/// that converts into it (every `std::error::Error`, `String`, `&str`,
/// `anyhow::Error`) goes through `?`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A bounded group of tasks that collects every error; see the
/// [module docs](crate::group).
///
/// ```
/// use concur_sync::{Context, Group};
///
/// let group = Group::builder().limit(2).build()?;
/// for i in 0..10 {
///     group.go(move || {
///         if i % 4 == 3 {
///             return Err(format!("item {i} failed").into());
///         }
///         Ok(())
///     });
/// }
/// let err = group.wait(&Context::background()).unwrap_err();
/// assert_eq!(err.errors().len(), 2); // items 3 and 7: every error, not the first
/// assert_eq!(err.to_string(), "2 of 10 tasks failed");
/// # Ok::<(), concur_sync::ConfigError>(())
/// ```
///
/// # Dropping a group
///
/// Call [`wait`](Self::wait) before the group goes: a drop cancels the
/// group's context (tasks not yet started are skipped and counted as
/// cancelled), waits for the tasks that are running (threads cannot be
/// aborted), and joins the workers. What it discards, tasks that never ran
/// and errors nobody collected, is reported, since a drop cannot return
/// it: as one `tracing` WARN event (target `concur_sync::group`, with the
/// counts and the first error) when the `tracing` feature (or debug mode) is
/// on, else as
/// one line on standard error.
#[must_use = "a group runs nothing useful unless its tasks are waited for: call `wait`"]
pub struct Group<E = BoxError> {
    core: Arc<Core<'static>>,
    threads: StdMutex<Vec<thread::JoinHandle<()>>>,
    _error: PhantomData<fn(E)>,
}

impl Group {
    /// A builder; `Group::builder().limit(n).build()`.
    pub fn builder() -> GroupBuilder {
        GroupBuilder::default()
    }
}

impl<E: Into<BoxError>> Group<E> {
    /// Runs `f` on a worker, blocking while the group is full (`limit +
    /// queue` tasks unfinished, see [`GroupBuilder::queue`]). If the
    /// group's context ends first, `f` never runs and is counted as
    /// cancelled (as is a task still queued when the context ends).
    ///
    /// Tasks are `'static`: to borrow from the caller's stack, use
    /// [`scope`](crate::scope) (or [`GroupBuilder::scope`]).
    ///
    /// A task may call `go` on its own group, but if every running task does
    /// so while the group is full, they all wait for each other: use
    /// `try_go` there.
    /// A task must not `wait` for its own group (that panics, reported as the
    /// task's `PanicError`).
    #[track_caller]
    pub fn go(&self, f: impl FnOnce() -> Result<(), E> + Send + 'static) {
        self.core
            .submit(true, Location::caller(), f, &self.starter());
    }

    /// Like [`go`](Self::go) but never blocks: returns `false` (and drops
    /// `f`) if the group is full or its context has ended.
    #[track_caller]
    pub fn try_go(&self, f: impl FnOnce() -> Result<(), E> + Send + 'static) -> bool {
        self.core
            .submit(false, Location::caller(), f, &self.starter())
    }

    /// [`go`](Self::go) for every task of `tasks`: up to 64 at a time are
    /// pulled from the iterator (with no lock held: it may block, or submit
    /// to this group itself), then as many as fit are queued under one
    /// lock; blocks while the group is full, as `go` does. Returns how many
    /// tasks were accepted. If the group's context ends, the tasks already
    /// pulled are counted as cancelled and the iterator is not pulled any
    /// further.
    ///
    /// ```
    /// use concur_sync::{Context, Group};
    ///
    /// let group = Group::builder().limit(2).queue(64).build()?;
    /// let accepted = group.go_all((0..100).map(|i| move || {
    ///     if i == 42 {
    ///         return Err("item 42".into());
    ///     }
    ///     Ok(())
    /// }));
    /// assert_eq!(accepted, 100);
    /// let err = group.wait(&Context::background()).unwrap_err();
    /// assert_eq!(err.to_string(), "1 of 100 tasks failed");
    /// # Ok::<(), concur_sync::ConfigError>(())
    /// ```
    #[track_caller]
    pub fn go_all<F>(&self, tasks: impl IntoIterator<Item = F>) -> usize
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        self.core
            .submit_all(Location::caller(), tasks, &self.starter())
    }

    /// [`go_all`](Self::go_all) for tasks that return nothing.
    #[track_caller]
    pub fn spawn_all<F>(&self, tasks: impl IntoIterator<Item = F>) -> usize
    where
        F: FnOnce() + Send + 'static,
    {
        self.core.submit_all(
            Location::caller(),
            tasks.into_iter().map(infallible),
            &self.starter(),
        )
    }

    /// [`go`](Self::go) for a task that returns nothing (its panics are
    /// still collected).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use concur_sync::{Context, Group};
    ///
    /// let hits = Arc::new(AtomicUsize::new(0));
    /// let group = Group::builder().limit(2).build()?;
    /// for _ in 0..4 {
    ///     let hits = hits.clone();
    ///     group.spawn(move || {
    ///         hits.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// }
    /// group.wait(&Context::background())?;
    /// assert_eq!(hits.load(Ordering::Relaxed), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        self.core
            .submit(true, Location::caller(), infallible(f), &self.starter());
    }

    /// [`try_go`](Self::try_go) for a task that returns nothing.
    #[track_caller]
    pub fn try_spawn(&self, f: impl FnOnce() + Send + 'static) -> bool {
        self.core
            .submit(false, Location::caller(), infallible(f), &self.starter())
    }
}

/// A task that returns nothing, as one that cannot fail.
pub(super) fn infallible<F: FnOnce()>(f: F) -> impl FnOnce() -> Result<(), BoxError> {
    move || {
        f();
        Ok(())
    }
}

impl<E> Group<E> {
    /// What the core calls to start a worker.
    fn starter(&self) -> impl Fn(usize, Arc<Slot>) -> std::io::Result<()> + '_ {
        |n, slot| self.start_worker(n, slot)
    }

    fn start_worker(&self, n: usize, slot: Arc<Slot>) -> std::io::Result<()> {
        let core = self.core.clone();
        let handle = thread::Builder::new()
            .name(format!("concur-group-{n}"))
            .spawn(move || core.work(&slot))?;
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
        Ok(())
    }

    /// Blocks until every started task has finished (or `ctx` ends), then
    /// returns every error since the last wait. An early return says how
    /// many tasks are still unfinished ([`GroupError::unfinished`]).
    #[cfg_attr(concur_debug, track_caller)]
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

impl<E> Drop for Group<E> {
    fn drop(&mut self) {
        self.core.cancel.cancel();
        if self.core.on_own_worker() {
            // Dropped by one of its own tasks (it held the last handle): the
            // other workers finish and exit on their own; this one cannot
            // wait for itself, so the handles are detached.
            self.core.shut_down();
            report_discarded(self.core.collect(None));
            return;
        }
        self.core.wait_all();
        self.core.shut_down();
        for handle in self
            .threads
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = handle.join();
        }
        report_discarded(self.core.collect(None));
    }
}

/// Reports what a dropped group discarded (see [`Group`]'s docs).
fn report_discarded(outcome: Result<(), GroupError>) {
    let Err(err) = outcome else { return };
    let first = err.errors().first().map(ToString::to_string);
    #[cfg(any(feature = "tracing", concur_debug))]
    tracing::warn!(
        target: "concur_sync::group",
        failed = err.failures(),
        cancelled = err.cancelled(),
        first_error = first.as_deref().unwrap_or("none"),
        "a Group was dropped without a wait: {err}",
    );
    #[cfg(not(any(feature = "tracing", concur_debug)))]
    eprintln!(
        "concur-sync: a Group was dropped without a wait: {err}{}",
        first.map_or(String::new(), |e| format!("; first error: {e}"))
    );
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("limit", &self.core.limit)
            .field("threads_started", &self.threads_started())
            .field("pending", &self.core.pending_count())
            .finish_non_exhaustive()
    }
}
