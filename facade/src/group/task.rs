//! The group's async twins: [`Group::wait_async`], and the admissions
//! [`Group::go_async`] / [`Group::spawn_async`], which await room in a full
//! group instead of blocking the executor's thread. They wait on the same
//! condvars as the blocking calls (as tasks: `Condvar::wait_while_async`),
//! and count themselves in the same words, so threads and tasks wait side
//! by side.

use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::core::Core;
use super::error::GroupError;
use super::worker::Task;
use super::{infallible, BoxError, Group};
use crate::Context;

/// One count in a sleepers' word (`blocked`, `waiting`), taken back when
/// the wait ends however it ends (a dropped future included).
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    /// Counts in; `SeqCst`, as every sleeper's count (see `core`).
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<'env> Core<'env> {
    /// [`wait`](Core::wait) as a future.
    pub(super) async fn wait_async(&self, ctx: &Context) -> Result<(), GroupError> {
        assert!(
            !self.on_own_worker(),
            "concur-sync: a group's task waited for its own group, which would wait for itself"
        );
        let mut interrupted = None;
        if self.unfinished() > 0 {
            interrupted = match self.state.lock_async(ctx).await {
                Err(err) => Some(err),
                Ok(state) => {
                    let _waiting = Counted::new(&self.waiting);
                    let (state, outcome) = self
                        .done
                        .wait_while_async(ctx, state, |_| self.unfinished() > 0)
                        .await;
                    drop(state);
                    outcome.err()
                }
            };
            // An ended `ctx` with nothing unfinished is not an interruption
            // (as for the blocking wait).
            interrupted = interrupted.filter(|_| self.unfinished() > 0);
        }
        self.collect(interrupted)
    }

    /// [`admit`](Core::admit) of one task, waiting as a future while the
    /// group is full. A refusal because the group's context ended counts
    /// the task as cancelled; a future dropped while it waits admits
    /// nothing and counts nothing.
    pub(super) async fn admit_async(&self) -> (usize, u64) {
        if self.ctx.cancelled().is_some() {
            self.lock().cancelled += 1;
            return (0, 0);
        }
        let admitted = self.try_admit(1);
        if admitted.0 > 0 {
            return admitted;
        }
        let Ok(state) = self.state.lock_async(&self.ctx).await else {
            self.lock().cancelled += 1;
            return (0, 0);
        };
        let blocked = Counted::new(&self.blocked);
        let mut admitted = (0, 0);
        let (mut state, room) = self
            .space
            .wait_while_async(&self.ctx, state, |_| {
                admitted = self.try_admit(1);
                admitted.0 == 0
            })
            .await;
        drop(blocked);
        if room.is_err() {
            state.cancelled += 1;
            return (0, 0);
        }
        admitted
    }
}

impl<E: Into<BoxError>> Group<E> {
    /// [`go`](Self::go), awaiting room in a full group instead of blocking
    /// the thread: for a task that submits to a group from inside an async
    /// runtime. Resolves once `f` is queued, or refused because the group's
    /// context ended (then counted as cancelled, as `go` counts it).
    /// Dropping the future before it resolves submits nothing and counts
    /// nothing (`f` is dropped with it).
    ///
    /// ```
    /// use concur_sync::{Context, Group};
    ///
    /// # futures::executor::block_on(async {
    /// let group = Group::builder().limit(1).build()?;
    /// for i in 0..4 {
    ///     // With one worker and no queue the second call waits for room.
    ///     group.go_async(move || if i == 3 { Err("three".into()) } else { Ok(()) }).await;
    /// }
    /// let err = group.wait_async(&Context::background()).await.unwrap_err();
    /// assert_eq!(err.to_string(), "1 of 4 tasks failed");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn go_async(
        &self,
        f: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.submit_async(Task::new(f, Location::caller()))
    }

    /// [`go_async`](Self::go_async) for a task that returns nothing.
    #[track_caller]
    pub fn spawn_async(
        &self,
        f: impl FnOnce() + Send + 'static,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.submit_async(Task::new(infallible(f), Location::caller()))
    }
}

impl<E> Group<E> {
    /// Admits `task` (awaiting room) and queues it, or discards it.
    async fn submit_async(&self, task: Task<'static>) {
        let (n, first) = self.core.admit_async().await;
        if n == 0 {
            task.discard();
            return;
        }
        // Made after the await: the starter is not `Send`.
        self.core
            .push(std::iter::once(task), first, &self.starter());
    }

    /// Awaits every started task (or the end of `ctx`), then returns every
    /// error since the last wait: the async twin of [`wait`](Self::wait),
    /// beside waiting threads. An early return says how many tasks are
    /// still unfinished ([`GroupError::unfinished`]).
    pub async fn wait_async(&self, ctx: &Context) -> Result<(), GroupError> {
        self.core.wait_async(ctx).await
    }
}
