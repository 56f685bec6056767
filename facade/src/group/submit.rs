//! Submitting to a group's [`Core`]: admission (blocking while the group
//! is full), queueing one task or a batch, and getting the queue taken
//! (waking idle workers, starting new ones, failing the queue if no worker
//! can be started). The state these change is described in `core`.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use super::core::{Core, State};
use super::error::TaskError;
use super::worker::{Slot, Task};
use super::BoxError;
use crate::MutexGuard;

/// Starts worker number `n` (counting from 1) whose running slot is the
/// given one.
pub(super) type Start<'a> = dyn Fn(usize, Arc<Slot>) -> std::io::Result<()> + 'a;

/// Most tasks a batch submission pushes under one lock.
const BATCH: usize = 64;
impl<'env> Core<'env> {
    /// Locks the state with room for one more task, blocking while the
    /// group is full if `wait`. `None`: refused (a blocking refusal counts
    /// the task as cancelled).
    fn admit(&self, wait: bool) -> Option<MutexGuard<'_, CachePadded<State<'env>>>> {
        // As every blocking call: a cancelled context fails at once, a
        // passed deadline only a call that has to wait.
        let ended = if wait {
            self.ctx.cancelled().is_some()
        } else {
            self.ctx.is_done()
        };
        let mut state = self.lock();
        if ended {
            // `try_go` reports the refusal by returning false instead.
            state.cancelled += usize::from(wait);
            return None;
        }
        if state.unfinished < self.permits {
            return Some(state);
        }
        if !wait {
            return None;
        }
        state.blocked += 1;
        let (mut state, room) = self
            .space
            .wait_while_ctx(&self.ctx, state, |s| s.unfinished >= self.permits);
        state.blocked -= 1;
        if room.is_err() {
            state.cancelled += 1;
            return None;
        }
        Some(state)
    }

    /// Admits a task (blocking while the group is full if `wait`) and
    /// queues it. Returns whether the task was accepted.
    pub(super) fn submit<E>(
        &self,
        wait: bool,
        site: &'static Location<'static>,
        f: impl FnOnce() -> Result<(), E> + Send + 'env,
        start: &Start<'_>,
    ) -> bool
    where
        E: Into<BoxError>,
    {
        // Boxed before the lock, so the lock covers the queue only.
        let task = Task::new(f, site);
        match self.admit(wait) {
            Some(state) => {
                self.push(state, std::iter::once(task), start);
                true
            }
            None => {
                task.discard();
                false
            }
        }
    }

    /// Admits and queues every task of `tasks`, blocking while the group is
    /// full: up to [`BATCH`] at a time are pulled from the iterator (and
    /// boxed) with no lock held, then as many as fit are queued under one
    /// lock. Returns how many were accepted. If the context ends while it
    /// blocks, the tasks already pulled are refused and counted as
    /// cancelled, and the iterator is not pulled any further.
    pub(super) fn submit_all<E, F>(
        &self,
        site: &'static Location<'static>,
        tasks: impl IntoIterator<Item = F>,
        start: &Start<'_>,
    ) -> usize
    where
        E: Into<BoxError>,
        F: FnOnce() -> Result<(), E> + Send + 'env,
    {
        // The caller's iterator runs only here, never under the lock: it may
        // block, panic, or submit to this very group.
        let mut tasks = tasks.into_iter();
        let mut pulled: VecDeque<Task<'env>> = VecDeque::new();
        let mut accepted = 0;
        loop {
            pulled.extend(
                tasks
                    .by_ref()
                    .take(BATCH - pulled.len())
                    .map(|f| Task::new(f, site)),
            );
            if pulled.is_empty() {
                return accepted;
            }
            let Some(state) = self.admit(true) else {
                // `admit` counted one as cancelled; the rest of what was
                // pulled shares its fate.
                let refused = pulled.len();
                self.lock().cancelled += refused - 1;
                for task in pulled {
                    task.discard();
                }
                return accepted;
            };
            let room = self.permits - state.unfinished;
            let n = room.min(pulled.len());
            accepted += self.push(state, pulled.drain(..n), start);
        }
    }

    /// Queues admitted tasks and gets them taken: wakes idle workers, and
    /// starts new ones while fewer than the limit exist.
    /// Returns how many it queued.
    fn push(
        &self,
        mut state: MutexGuard<'_, CachePadded<State<'env>>>,
        tasks: impl Iterator<Item = Task<'env>>,
        start: &Start<'_>,
    ) -> usize {
        let mut pushed = 0;
        let was_empty = state.queue.is_empty();
        for mut task in tasks {
            task.index = state.accepted;
            state.accepted += 1;
            state.unfinished += 1;
            state.queue.push_back(task);
            pushed += 1;
        }
        if was_empty && pushed > 0 {
            // Only the empty/non-empty transitions are written: the spinner
            // asks nothing else, and a store per task would be one more
            // contended cache line per task.
            self.queued.store(true, Ordering::Relaxed);
        }
        // A spinning worker takes a queued task without being woken. (It
        // clears its flag before it locks the state to look for work one
        // last time, so if we see no flag, it will see our task or be idle.)
        // Sleeping workers still count as idle until they wake, so compare
        // with the queue: two quick submits must not both count on one.
        let unclaimed = state
            .queue
            .len()
            .saturating_sub(usize::from(self.spinning.load(Ordering::Acquire)));
        let wake = unclaimed.min(state.idle);
        let starting = (unclaimed - wake).min(self.limit - state.workers);
        if starting == 0 {
            drop(state);
            for _ in 0..wake {
                self.work.notify_one();
            }
            return pushed;
        }
        self.start_workers(state, wake, starting, start);
        pushed
    }

    /// Wakes `wake` idle workers and starts `starting` new ones.
    #[cold]
    fn start_workers(
        &self,
        mut state: MutexGuard<'_, CachePadded<State<'env>>>,
        wake: usize,
        starting: usize,
        start: &Start<'_>,
    ) {
        state.workers += starting;
        let slots: Vec<Arc<Slot>> = (0..starting)
            .map(|_| {
                let slot = Arc::new(Slot::default());
                state.slots.push(slot.clone());
                slot
            })
            .collect();
        drop(state);
        for _ in 0..wake {
            self.work.notify_one();
        }
        for slot in slots {
            let n = self.threads_started.fetch_add(1, Ordering::Relaxed) + 1;
            if let Err(err) = start(n, slot.clone()) {
                self.spawn_failed(&err, &slot);
            }
        }
    }

    /// A worker could not be started: if no worker is left to run the
    /// queue, its tasks fail with the spawn error instead of hanging `wait`.
    fn spawn_failed(&self, err: &std::io::Error, slot: &Arc<Slot>) {
        let mut state = self.lock();
        state.workers -= 1;
        state.slots.retain(|s| !Arc::ptr_eq(s, slot));
        if state.workers > 0 {
            return;
        }
        let orphans: Vec<Task<'env>> = state.queue.drain(..).collect();
        self.queued.store(false, Ordering::Relaxed);
        for _ in &orphans {
            let failure = TaskError::Failed(
                format!("concur-sync: cannot start a worker thread: {err}").into(),
            );
            self.keep(&mut state, failure);
        }
        let wake = self.count_out(&mut state, orphans.len());
        drop(state);
        for task in orphans {
            task.discard();
        }
        wake.run(self);
    }
}
