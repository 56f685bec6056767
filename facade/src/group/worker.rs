//! The workers' side of a group's [`Core`]: taking the next task (and
//! recording the last one's outcome under the same lock), running it (a
//! panic becomes a [`PanicError`]), and the slot through which a worker
//! shows what it is running.

use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::thread;

use crossbeam_utils::CachePadded;

use super::core::{Core, Wake};
use super::error::{PanicError, TaskError};
use super::BoxError;

type Job<'env> = Box<dyn FnOnce() -> Result<(), BoxError> + Send + 'env>;

/// An accepted task.
pub(crate) struct Task<'env> {
    job: Job<'env>,
    /// The task's index among those the group accepted (set when queued).
    pub(super) index: u64,
    site: &'static Location<'static>,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl<'env> Task<'env> {
    /// A task running `f`, submitted at `site` (in the caller's span).
    pub(super) fn new<E: Into<BoxError>>(
        f: impl FnOnce() -> Result<(), E> + Send + 'env,
        site: &'static Location<'static>,
    ) -> Self {
        Task {
            job: Box::new(move || f().map_err(Into::into)),
            index: 0,
            site,
            #[cfg(feature = "tracing")]
            span: tracing::Span::current(),
        }
    }

    /// Drops the task without running it: its captures go before it counts
    /// as finished, and a panicking destructor cannot kill the worker.
    pub(super) fn discard(self) {
        let _ = catch_unwind(AssertUnwindSafe(move || drop(self)));
    }
}

/// What a worker is running: the spawn site of its task, or null. Written
/// only by its worker (a plain store before and after each task, on the
/// worker's own cache line), read only by `running()` and the leak guard,
/// so keeping it costs the tasks nothing else.
#[derive(Default)]
pub(crate) struct Slot(CachePadded<AtomicPtr<Location<'static>>>);

impl Slot {
    fn set(&self, site: Option<&'static Location<'static>>) {
        let site = site.map_or(ptr::null_mut(), |s| ptr::from_ref(s).cast_mut());
        self.0.store(site, Ordering::Relaxed);
    }

    /// The running task's spawn site, if a task is running.
    pub(super) fn site(&self) -> Option<&'static Location<'static>> {
        let site = self.0.load(Ordering::Relaxed);
        // SAFETY: the slot only ever holds null or a `&'static Location`.
        unsafe { site.as_ref() }
    }
}

/// The outcome of the task a worker ran since it last held the state
/// lock, recorded with its next lock.
#[derive(Default)]
struct Tally {
    succeeded: usize,
    cancelled: usize,
    failures: Vec<TaskError>,
}

impl Tally {
    fn count(&self) -> usize {
        self.succeeded + self.cancelled + self.failures.len()
    }
}

impl<'env> Core<'env> {
    /// A worker: runs queued tasks until shutdown, sleeping while idle.
    pub(super) fn work(&self, slot: &Slot) {
        CURRENT_CORE.with(|c| c.set(self as *const Self as usize));
        let mut tally = Tally::default();
        while let Some(task) = self.take(&mut tally) {
            self.execute(slot, task, &mut tally);
        }
    }

    /// Records `tally` (the last task's outcome) and takes the next task,
    /// under one lock while the queue has one; otherwise wakes whoever the
    /// recorded outcome concerns, then spins or sleeps until a task comes.
    /// `None` at shutdown.
    ///
    /// One task at a time, never a batch: a task a worker held back behind
    /// a running one could be the very task the running one waits for (two
    /// tasks meeting at a barrier, within the limit), and nobody else could
    /// run it. The outcome is recorded before the next task runs for the
    /// same reason: a finished task must not keep counting against the
    /// limit while a long one runs.
    fn take(&self, tally: &mut Tally) -> Option<Task<'env>> {
        let mut state = self.lock();
        // What the recorded outcome asks for once the lock is released: a
        // cancel (a failure, with `cancel_on_error`), then the wakes.
        let mut owed = None;
        if tally.count() > 0 {
            let cancel = self.cancel_on_error && !tally.failures.is_empty();
            let n = tally.count();
            state.succeeded += std::mem::take(&mut tally.succeeded);
            state.cancelled += std::mem::take(&mut tally.cancelled);
            for failure in tally.failures.drain(..) {
                self.keep(&mut state, failure);
            }
            owed = Some((cancel, self.count_out(&mut state, n)));
        }
        // Once per idle spell, one worker at a time spins briefly before
        // sleeping: in a fan-out of small tasks the next one is usually
        // being submitted now, and finding it saves a sleep here and a
        // wake in `submit`.
        let mut spin = true;
        loop {
            if let Some(task) = state.queue.pop_front() {
                if state.queue.is_empty() {
                    self.queued.store(false, Ordering::Relaxed);
                }
                drop(state);
                if let Some((cancel, wake)) = owed {
                    self.settle(cancel, wake);
                }
                return Some(task);
            }
            if let Some((cancel, wake)) = owed.take() {
                // Wake whoever waits for room or for the end before idling.
                drop(state);
                self.settle(cancel, wake);
                state = self.lock();
                continue;
            }
            if state.shutdown {
                state.workers -= 1;
                return None;
            }
            if std::mem::take(&mut spin) && !self.spinning.swap(true, Ordering::Acquire) {
                drop(state);
                let backoff = crossbeam_utils::Backoff::new();
                while !self.queued.load(Ordering::Relaxed) && !backoff.is_completed() {
                    backoff.snooze();
                }
                self.spinning.store(false, Ordering::Release);
                state = self.lock();
                continue;
            }
            state.idle += 1;
            state = self.work.wait(state);
            state.idle -= 1;
        }
    }

    /// After an outcome is recorded and the lock released: cancels the
    /// group if the task failed and should (after the failure is recorded,
    /// so nobody woken by the cancel misses it; before this worker runs its
    /// next task, which the cancel then skips), then wakes a blocked
    /// submitter and, after the last task, the `wait` callers.
    fn settle(&self, cancel: bool, wake: Wake) {
        if cancel {
            self.cancel.cancel();
        }
        wake.run(self);
    }

    /// Runs `task` (or skips it if the group's context has ended) and
    /// tallies its outcome.
    fn execute(&self, slot: &Slot, task: Task<'env>, tally: &mut Tally) {
        if self.ctx.is_done() {
            task.discard();
            tally.cancelled += 1;
            return;
        }
        slot.set(Some(task.site));
        let failure = run(task);
        slot.set(None);
        match failure {
            None => tally.succeeded += 1,
            Some(failure) => tally.failures.push(failure),
        }
    }
}

fn run(task: Task<'_>) -> Option<TaskError> {
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

thread_local! {
    /// The core whose worker this thread is (0 if none).
    static CURRENT_CORE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The address of the core whose worker this thread is (0 if none).
pub(super) fn current_core() -> usize {
    CURRENT_CORE.with(std::cell::Cell::get)
}
