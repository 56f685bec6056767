//! The workers' side of a group's [`Core`]: taking the next task (or
//! sleeping for one), running it (a panic becomes a [`PanicError`]),
//! counting it out with its outcome, and the slot through which a worker
//! shows what it is running.

use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::ptr;
use std::sync::atomic::{fence, AtomicPtr, Ordering};
use std::thread;

use crossbeam_utils::CachePadded;

use super::core::{Core, FINISHED};
use super::error::{PanicError, TaskError};
use super::job::Job;
use super::BoxError;

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
            job: Job::new(move || f().map_err(Into::into)),
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

impl<'env> Core<'env> {
    /// A worker: runs queued tasks until shutdown, sleeping while idle.
    pub(super) fn work(&self, slot: &Slot) {
        CURRENT_CORE.with(|c| c.set(self as *const Self as usize));
        while let Some(task) = self.next_task() {
            self.execute(slot, task);
        }
    }

    /// The next queued task, one at a time, never a batch: a task a worker
    /// held back behind a running one could be the very task the running
    /// one waits for (two tasks meeting at a barrier, within the limit),
    /// and nobody else could run it. `None` at shutdown.
    ///
    /// Once per idle spell, one worker at a time spins briefly before
    /// sleeping: in a fan-out of small tasks the next one is usually being
    /// submitted now, and finding it saves a sleep here and a wake in
    /// `push`.
    fn next_task(&self) -> Option<Task<'env>> {
        let mut spin = true;
        loop {
            if let Some(task) = self.queue.pop() {
                return Some(task);
            }
            if std::mem::take(&mut spin) && !self.spinning.swap(true, Ordering::Acquire) {
                let backoff = crossbeam_utils::Backoff::new();
                while self.queue.is_empty() && !backoff.is_completed() {
                    backoff.snooze();
                }
                self.spinning.store(false, Ordering::Release);
                continue;
            }
            if !self.sleep() {
                return None;
            }
            spin = true;
        }
    }

    /// Counts this worker idle and sleeps until a submitter hands it a wake
    /// token, or it finds the queue non-empty (or the group shut down)
    /// while nobody has claimed it. `false`: shut down with the queue
    /// empty; the worker has counted itself out.
    fn sleep(&self) -> bool {
        let mut state = self.lock();
        // Counted idle, then the queue looked at again: a submitter pushes,
        // then reads `idle` (see `push`), so one of us sees the other.
        self.idle.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        loop {
            if state.tokens > 0 {
                state.tokens -= 1;
                return true;
            }
            let shutdown = state.shutdown && self.queue.is_empty();
            if (shutdown || !self.queue.is_empty()) && self.take_idle() {
                if shutdown {
                    self.live.fetch_sub(1, Ordering::Relaxed);
                    return false;
                }
                return true;
            }
            // Not found anything, or claimed by a submitter whose token is
            // on its way (it needs the lock this wait releases).
            state = self.work.wait(state);
        }
    }

    /// Runs `task` (or skips it if the group's context has ended) and
    /// counts it out with its outcome, at once: a finished task must not
    /// keep counting against the limit while the next one runs.
    fn execute(&self, slot: &Slot, task: Task<'env>) {
        if self.ctx.is_done() {
            task.discard();
            let mut state = self.lock();
            state.cancelled += 1;
            let finished = self.count_out_locked(1);
            drop(state);
            self.counted_out(finished, 1);
            return;
        }
        slot.set(Some(task.site));
        // Debug mode: the locks the task takes are ordered after the
        // group, whose `wait` waits for the task.
        #[cfg(concur_debug)]
        let running = self.debug.running(crate::debug::Mode::Group, task.site);
        let failure = run(task);
        #[cfg(concur_debug)]
        drop(running);
        slot.set(None);
        let Some(failure) = failure else {
            // Finished and a success, in one step.
            let finished = self
                .finished
                .fetch_add(FINISHED + 1, Ordering::SeqCst)
                .wrapping_add(FINISHED + 1);
            if finished as u32 >= 1 << 31 {
                // Move the successes out before they can carry into the
                // finished count.
                let mut state = self.lock();
                self.take_successes(&mut state);
            }
            self.counted_out(finished, 1);
            return;
        };
        let mut state = self.lock();
        self.keep(&mut state, failure);
        let finished = self.count_out_locked(1);
        drop(state);
        // After the failure is recorded, so nobody woken by the cancel
        // misses it; before this worker runs its next task, which the
        // cancel then skips.
        if self.cancel_on_error {
            self.cancel.cancel();
        }
        self.counted_out(finished, 1);
    }
}

fn run(task: Task<'_>) -> Option<TaskError> {
    let Task {
        job, index, site, ..
    } = task;
    #[cfg(feature = "tracing")]
    let _entered = task.span.enter();
    match catch_unwind(AssertUnwindSafe(|| job.run())) {
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
