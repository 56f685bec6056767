//! [`GroupBuilder`]: a group's limit, queue, context, error policy and task
//! error type, and the [`ConfigError`] for a setting that cannot work.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;

use super::core::Core;
use super::scope::{run_scope, Scope};
use super::{BoxError, Group, GroupError};
use crate::Context;

/// How many task errors a group keeps in full unless told otherwise; the
/// rest are counted.
pub const DEFAULT_MAX_ERRORS: usize = 1024;

/// Configures a [`Group`] (or a [`scope`](super::scope)) whose tasks return
/// `Result<(), E>`. Start with [`Group::builder`] (`E` is [`BoxError`]);
/// [`error`](Self::error) picks another `E`.
#[must_use = "a builder does nothing until `build` or `scope` is called"]
pub struct GroupBuilder<E = BoxError> {
    limit: usize,
    queue: usize,
    ctx: Context,
    cancel_on_error: bool,
    max_errors: usize,
    _error: PhantomData<fn(E)>,
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
            queue: 0,
            ctx: Context::background(),
            cancel_on_error: false,
            max_errors: DEFAULT_MAX_ERRORS,
            _error: PhantomData,
        }
    }
}

impl<E> Clone for GroupBuilder<E> {
    fn clone(&self) -> Self {
        Self {
            ctx: self.ctx.clone(),
            _error: PhantomData,
            ..*self
        }
    }
}

impl<E> fmt::Debug for GroupBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupBuilder")
            .field("limit", &self.limit)
            .field("queue", &self.queue)
            .field("ctx", &self.ctx)
            .field("cancel_on_error", &self.cancel_on_error)
            .field("max_errors", &self.max_errors)
            .field("error", &std::any::type_name::<E>())
            .finish()
    }
}

impl<E: Into<BoxError>> GroupBuilder<E> {
    /// At most `limit` tasks running at once, on at most `limit` threads.
    /// Default: the number of available cores. 0 is rejected by
    /// [`build`](Self::build).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Accept up to `queue` tasks beyond the running ones, waiting for a
    /// worker: [`Group::go`] blocks (and [`Group::try_go`] refuses) only
    /// once `limit + queue` tasks are unfinished. Default 0: `go` blocks
    /// while `limit` tasks are unfinished, like Go's `errgroup.SetLimit`.
    ///
    /// A queue lets the submitter run ahead of the workers instead of
    /// handing each task over: with a fan-out of many small tasks, set it
    /// to about the number of tasks submitted at once (the `fanout_10000`
    /// benchmark uses 1,024). Queued tasks of a group whose context ends
    /// never start and are counted as cancelled.
    ///
    /// ```
    /// use std::sync::{Arc, Barrier};
    /// use concur_sync::{Context, Group};
    ///
    /// let group = Group::builder().limit(2).queue(8).build()?;
    /// let gate = Arc::new(Barrier::new(3));
    /// for _ in 0..2 {
    ///     let gate = gate.clone();
    ///     group.spawn(move || {
    ///         gate.wait();
    ///     });
    /// }
    /// // Both running tasks wait at the gate; 8 more queue behind them.
    /// for _ in 0..8 {
    ///     assert!(group.try_spawn(|| {}));
    /// }
    /// assert!(!group.try_spawn(|| {}), "limit + queue tasks are unfinished");
    /// gate.wait();
    /// group.wait(&Context::background()).unwrap();
    /// # Ok::<(), concur_sync::ConfigError>(())
    /// ```
    pub fn queue(mut self, queue: usize) -> Self {
        self.queue = queue;
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

    /// Tasks return `Result<(), F>` (default [`BoxError`]), so a closure's
    /// `Ok(())` and `?` need no annotation. The errors are kept as
    /// [`BoxError`]s (downcast to get an `F` back).
    ///
    /// ```
    /// use concur_sync::{Context, Group};
    ///
    /// #[derive(Debug)]
    /// struct Fetch(u32);
    /// impl std::fmt::Display for Fetch {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         write!(f, "fetching item {}", self.0)
    ///     }
    /// }
    /// impl std::error::Error for Fetch {}
    ///
    /// let group = Group::builder().error::<Fetch>().build()?;
    /// group.go(|| Err(Fetch(7)));
    /// group.go(|| Ok(()));
    /// let err = group.wait(&Context::background()).unwrap_err();
    /// let first = err.errors()[0].as_error();
    /// assert_eq!(first.downcast_ref::<Fetch>().map(|f| f.0), Some(7));
    /// # Ok::<(), concur_sync::ConfigError>(())
    /// ```
    pub fn error<F: Into<BoxError>>(self) -> GroupBuilder<F> {
        GroupBuilder {
            limit: self.limit,
            queue: self.queue,
            ctx: self.ctx,
            cancel_on_error: self.cancel_on_error,
            max_errors: self.max_errors,
            _error: PhantomData,
        }
    }

    /// Builds the group.
    pub fn build(self) -> Result<Group<E>, ConfigError> {
        let core = Arc::new(self.core()?);
        Ok(Group {
            core,
            threads: StdMutex::new(Vec::new()),
            _error: PhantomData,
        })
    }

    /// Runs `f` with a [`Scope`] configured like this builder; see
    /// [`scope`](super::scope).
    pub fn scope<'env, F, R>(self, f: F) -> Result<Result<R, GroupError>, ConfigError>
    where
        F: for<'s, 'scope> FnOnce(&'s Scope<'scope, 'env, E>) -> R,
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
        let permits = self.limit.saturating_add(self.queue);
        let (ctx, cancel) = self.ctx.with_cancel();
        Ok(Core::new(
            ctx,
            cancel,
            self.limit,
            permits,
            self.cancel_on_error,
            self.max_errors,
        ))
    }
}
