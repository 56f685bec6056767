//! Submitting to a group's [`Core`]: admission (a CAS on `admitted`, blocking
//! while the group is full), queueing one task or a batch, and getting the
//! queue taken (waking an idle worker, starting new ones, failing the queue
//! if no worker can be started). The words these change are described in
//! `core`.

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

use super::core::{unfinished, Core};
use super::error::TaskError;
use super::worker::{Slot, Task};
use super::BoxError;

/// Starts worker number `n` (counting from 1) whose running slot is the
/// given one.
pub(super) type Start<'a> = dyn Fn(usize, Arc<Slot>) -> std::io::Result<()> + 'a;

/// Most tasks a batch submission pulls from its iterator at a time.
const BATCH: usize = 64;

impl<'env> Core<'env> {
    /// Counts up to `n` tasks in if there is room; returns how many, and
    /// the index of the first.
    pub(super) fn try_admit(&self, n: usize) -> (usize, u64) {
        let admission = &self.admission;
        let mut admitted = admission.admitted.load(Ordering::Relaxed);
        loop {
            // Against an old finished count the group looks fuller than
            // it is: only then is the workers' line read.
            // (Saturating: `admitted` may be older than that count, and
            // the CAS below then fails.)
            let seen = admission.seen.load(Ordering::Relaxed);
            let mut room = self.permits.saturating_sub(unfinished(admitted, seen));
            if room == 0 {
                // `SeqCst`: a blocked submitter counts itself in, then
                // looks here; a worker counts a task finished, then reads
                // `blocked`. `admitted` after `finished`: every task that
                // count includes was admitted before it.
                let finished = self.finished.load(Ordering::SeqCst);
                admission.seen.store(finished, Ordering::Relaxed);
                admitted = admission.admitted.load(Ordering::SeqCst);
                room = self.permits.saturating_sub(unfinished(admitted, finished));
                if room == 0 {
                    return (0, admitted);
                }
            }
            let k = room.min(n);
            match admission.admitted.compare_exchange_weak(
                admitted,
                admitted + k as u64,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (k, admitted),
                Err(now) => admitted = now,
            }
        }
    }

    /// Counts up to `n` tasks in, blocking while the group is full if
    /// `wait`. Returns how many (0: refused; a blocking refusal counts one
    /// task as cancelled) and the index of the first.
    fn admit(&self, wait: bool, n: usize) -> (usize, u64) {
        // As every blocking call: a cancelled context fails at once, a
        // passed deadline only a call that has to wait.
        let ended = if wait {
            self.ctx.cancelled().is_some()
        } else {
            self.ctx.is_done()
        };
        if ended {
            // `try_go` reports the refusal by returning false instead.
            if wait {
                self.lock().cancelled += 1;
            }
            return (0, 0);
        }
        let admitted = self.try_admit(n);
        if admitted.0 > 0 || !wait {
            return admitted;
        }
        let mut state = self.lock();
        self.blocked.fetch_add(1, Ordering::SeqCst);
        let admitted = Cell::new((0, 0));
        let room;
        (state, room) = self.space.wait_while_ctx(&self.ctx, state, |_| {
            admitted.set(self.try_admit(n));
            admitted.get().0 == 0
        });
        self.blocked.fetch_sub(1, Ordering::SeqCst);
        if room.is_err() {
            state.cancelled += 1;
            return (0, 0);
        }
        admitted.get()
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
        let task = Task::new(f, site);
        let (n, first) = self.admit(wait, 1);
        if n == 0 {
            task.discard();
            return false;
        }
        self.push(std::iter::once(task), first, start);
        true
    }

    /// Admits and queues every task of `tasks`, blocking while the group is
    /// full: up to [`BATCH`] at a time are pulled from the iterator (and
    /// boxed), then as many as fit are counted in with one CAS. Returns how
    /// many were accepted. If the context ends while it blocks, the tasks
    /// already pulled are refused and counted as cancelled, and the
    /// iterator is not pulled any further.
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
            let (n, first) = self.admit(true, pulled.len());
            if n == 0 {
                // `admit` counted one as cancelled; the rest of what was
                // pulled shares its fate.
                let refused = pulled.len();
                self.lock().cancelled += refused - 1;
                for task in pulled {
                    task.discard();
                }
                return accepted;
            }
            self.push(pulled.drain(..n), first, start);
            accepted += n;
        }
    }

    /// Queues admitted tasks (numbered from `first`) and gets them taken.
    pub(super) fn push(
        &self,
        tasks: impl Iterator<Item = Task<'env>>,
        first: u64,
        start: &Start<'_>,
    ) {
        for (index, mut task) in (first..).zip(tasks) {
            task.index = index;
            self.queue.push(task);
        }
        // A worker about to sleep counts itself idle and then looks at the
        // queue again; we pushed and now read `idle`: one of us sees the
        // other.
        fence(Ordering::SeqCst);
        // The common case, every worker started and busy: two loads of
        // lines that rarely change (the queue's length is only read when
        // someone could take a task).
        if self.idle.load(Ordering::Relaxed) == 0 && self.live.load(Ordering::Relaxed) == self.limit
        {
            return;
        }
        self.wake_or_start(start);
    }

    /// After a push found an idle worker or room for a new one: for each
    /// queued task no spinning worker will take, claims and wakes an idle
    /// worker, else starts one while fewer than the limit exist.
    #[cold]
    fn wake_or_start(&self, start: &Start<'_>) {
        // Tasks no spinning worker will take. The length first, then the
        // spinner's flag (Acquire): a spinner clears its flag before its
        // pop, so a length that no longer counts the task it took comes
        // with its flag cleared (a stale flag would leave a task nobody
        // was woken for).
        let unclaimed = || {
            let queued = self.queue.len();
            queued.saturating_sub(usize::from(self.spinning.load(Ordering::Acquire)))
        };
        let mut woken = 0;
        while unclaimed() > woken && self.take_idle() {
            woken += 1;
        }
        if woken > 0 {
            self.lock().tokens += woken;
            for _ in 0..woken {
                self.work.notify_one();
            }
        }
        let mut started = 0;
        while unclaimed() > woken + started
            && self.live.load(Ordering::Relaxed) < self.limit
            && self.start_worker(start)
        {
            started += 1;
        }
    }

    /// Starts a worker if fewer than the limit exist and the queue has a
    /// task for it; returns whether it started one.
    #[cold]
    fn start_worker(&self, start: &Start<'_>) -> bool {
        let mut state = self.lock();
        if self.live.load(Ordering::Relaxed) >= self.limit || self.queue.is_empty() {
            return false;
        }
        self.live.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::default());
        state.slots.push(slot.clone());
        drop(state);
        let n = self.threads_started.fetch_add(1, Ordering::Relaxed) + 1;
        match start(n, slot.clone()) {
            Ok(()) => true,
            Err(err) => {
                self.spawn_failed(&err, &slot);
                false
            }
        }
    }

    /// A worker could not be started: if no worker is left to run the
    /// queue, its tasks fail with the spawn error instead of hanging `wait`.
    fn spawn_failed(&self, err: &std::io::Error, slot: &Arc<Slot>) {
        let mut state = self.lock();
        let live = self.live.fetch_sub(1, Ordering::Relaxed) - 1;
        // Against a push that then reads `live`: one of us sees the other's
        // change (the queue is looked at below).
        fence(Ordering::SeqCst);
        state.slots.retain(|s| !Arc::ptr_eq(s, slot));
        if live > 0 {
            return;
        }
        let mut orphans = Vec::new();
        while let Some(task) = self.queue.pop() {
            let failure = TaskError::Failed(
                format!("concur-sync: cannot start a worker thread: {err}").into(),
            );
            self.keep(&mut state, failure);
            orphans.push(task);
        }
        let n = orphans.len();
        let finished = self.count_out_locked(n);
        drop(state);
        for task in orphans {
            task.discard();
        }
        self.counted_out(finished, n);
    }
}
