//! [`scope`] and [`Scope`]: the group's machinery on `std::thread::scope`
//! workers, so tasks may borrow from the caller's stack.

use std::marker::PhantomData;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;

use super::core::Core;
use super::worker::Slot;
use super::{infallible, BoxError, GroupBuilder, GroupError};
use crate::Context;

/// A group whose tasks may borrow from the caller's stack; made by
/// [`scope`]. Every task has finished before `scope` returns.
pub struct Scope<'scope, 'env: 'scope, E = BoxError> {
    core: Arc<Core<'env>>,
    threads: &'scope thread::Scope<'scope, 'env>,
    _error: PhantomData<fn(E)>,
}

impl<E> std::fmt::Debug for Scope<'_, '_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("limit", &self.core.limit)
            .field(
                "threads_started",
                &self.core.threads_started.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl<'scope, 'env, E: Into<BoxError>> Scope<'scope, 'env, E> {
    /// As [`Group::go`](super::Group::go), for a task that may borrow from the caller's stack.
    #[track_caller]
    pub fn go(&self, f: impl FnOnce() -> Result<(), E> + Send + 'env) {
        self.core
            .submit(true, Location::caller(), f, &self.starter());
    }

    /// As [`Group::try_go`](super::Group::try_go).
    #[track_caller]
    pub fn try_go(&self, f: impl FnOnce() -> Result<(), E> + Send + 'env) -> bool {
        self.core
            .submit(false, Location::caller(), f, &self.starter())
    }

    /// As [`Group::go_all`](super::Group::go_all).
    #[track_caller]
    pub fn go_all<F>(&self, tasks: impl IntoIterator<Item = F>) -> usize
    where
        F: FnOnce() -> Result<(), E> + Send + 'env,
    {
        self.core
            .submit_all(Location::caller(), tasks, &self.starter())
    }

    /// As [`Group::spawn_all`](super::Group::spawn_all).
    #[track_caller]
    pub fn spawn_all<F>(&self, tasks: impl IntoIterator<Item = F>) -> usize
    where
        F: FnOnce() + Send + 'env,
    {
        self.core.submit_all(
            Location::caller(),
            tasks.into_iter().map(infallible),
            &self.starter(),
        )
    }

    /// As [`Group::spawn`](super::Group::spawn): a task that returns nothing.
    #[track_caller]
    pub fn spawn(&self, f: impl FnOnce() + Send + 'env) {
        self.core
            .submit(true, Location::caller(), infallible(f), &self.starter());
    }

    /// As [`Group::try_spawn`](super::Group::try_spawn).
    #[track_caller]
    pub fn try_spawn(&self, f: impl FnOnce() + Send + 'env) -> bool {
        self.core
            .submit(false, Location::caller(), infallible(f), &self.starter())
    }

    /// What the core calls to start a worker.
    fn starter(
        &self,
    ) -> impl Fn(usize, Arc<Slot>) -> std::io::Result<()> + use<'_, 'scope, 'env, E> {
        |n, slot| self.start_worker(n, slot)
    }

    fn start_worker(&self, n: usize, slot: Arc<Slot>) -> std::io::Result<()> {
        let core = self.core.clone();
        // The handle is dropped here, which detaches the thread (the scope
        // still waits for it). That is safe only because a worker cannot be
        // exiting now: it leaves only at shut-down, which follows the
        // scope closure, which is still running this call. (glibc's
        // pthread_detach can fault on a thread that exits during it.)
        thread::Builder::new()
            .name(format!("concur-scope-{n}"))
            .spawn_scoped(self.threads, move || core.work(&slot))?;
        Ok(())
    }

    /// The scope's context (see [`Group::context`](super::Group::context)).
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
///         s.spawn(move || *total = chunk.iter().sum());
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

pub(super) fn run_scope<'env, E, F, R>(core: Core<'env>, f: F) -> Result<R, GroupError>
where
    F: for<'s, 'scope> FnOnce(&'s Scope<'scope, 'env, E>) -> R,
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
            self.0.wait_all();
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
            _error: PhantomData,
        };
        f(&scope)
    });
    core.wait(&Context::background()).map(|()| result)
}
