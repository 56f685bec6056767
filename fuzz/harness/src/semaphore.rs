//! Target `semaphore`: one [`RawSemaphore`] driven step by step against a
//! reference model of its queue.
//!
//! Operations: acquire `n` (queueing a step if it has to wait), try-acquire,
//! release, add / forget / retire permits, close, interrupt waiter `k`, poll
//! waiter `k` (as a wake-up would), drop waiter `k`'s step. After every
//! operation the semaphore's snapshot must equal the model's, permits must
//! be conserved (capacity = available + pending + held), every result must
//! be the model's (so grants are FIFO, nobody barges past the queue, an
//! interrupted head lets the rest through, and a grant that loses to an
//! interrupt is given back), and a wait that ends must have been woken.

use std::collections::VecDeque;
use std::pin::Pin;

use arbitrary::{Arbitrary, Unstructured};

use crate::next_op;
use concur_core::step::{AcquireStep, Progress};
use concur_core::{AcquireError, RawSemaphore, TryAcquireError, Waiter};

use crate::park::{take_wakes, StepPark};

type Sem = RawSemaphore<StepPark>;
type Node = Waiter<StepPark>;

/// At most this many waits per input (each needs a fresh node).
const MAX_WAITERS: usize = 48;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Acquire(u8),
    TryAcquire(u8),
    Release(u8),
    AddPermits(u8),
    Forget(u8),
    Retire(u8),
    Close,
    Interrupt(u8),
    Poll(u8),
    Drop(u8),
}

/// How a modelled wait ended (what its owner will read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Granted,
    Closed,
    TooLarge(u64),
    Interrupted,
}

#[derive(Debug)]
struct ModelWaiter {
    requested: u64,
    need: u64,
    interrupted: bool,
    /// `None` while queued.
    outcome: Option<Outcome>,
    /// Whether a wake reached its node word since it queued.
    woken: bool,
    /// The step has been completed (polled to the end or dropped).
    over: bool,
}

#[derive(Debug, Default)]
struct Model {
    available: u64,
    capacity: u64,
    closed: bool,
    pending: u64,
    /// Permits held by the harness (acquired and not released or retired).
    held: u64,
    queue: VecDeque<usize>,
    waiters: Vec<ModelWaiter>,
}

impl Model {
    fn granted(&self, id: usize) -> u64 {
        let w = &self.waiters[id];
        w.requested - w.need
    }

    fn finish(&mut self, id: usize, outcome: Outcome) {
        self.queue.retain(|&q| q != id);
        self.waiters[id].outcome = Some(outcome);
    }

    /// The semaphore's grant routine: head first, interrupted heads removed.
    fn grant(&mut self, mut permits: u64) {
        while let Some(&head) = self.queue.front() {
            if self.waiters[head].interrupted {
                let granted = self.granted(head);
                permits += granted;
                self.pending -= granted;
                self.finish(head, Outcome::Interrupted);
                continue;
            }
            if permits == 0 {
                break;
            }
            let w = &mut self.waiters[head];
            let take = permits.min(w.need);
            w.need -= take;
            permits -= take;
            self.pending += take;
            if w.need > 0 {
                break;
            }
            self.pending -= w.requested;
            self.finish(head, Outcome::Granted);
        }
        self.available += permits;
    }

    fn try_acquire(&self, n: u64) -> Result<(), TryAcquireError> {
        // Zero permits need no place in the queue: only closing refuses them.
        let free = self.queue.is_empty() && self.available >= n;
        if !self.closed && (n == 0 || free) {
            Ok(())
        } else if self.closed {
            Err(TryAcquireError::Closed)
        } else if n > self.capacity {
            Err(TryAcquireError::TooLarge {
                requested: n,
                capacity: self.capacity,
            })
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Starts an acquire with fresh node `id`: `Some(result)` if it ends at
    /// once, `None` if it queues.
    fn start(&mut self, id: usize, n: u64) -> Option<Result<(), AcquireError>> {
        assert_eq!(id, self.waiters.len());
        self.waiters.push(ModelWaiter {
            requested: n,
            need: n,
            interrupted: false,
            outcome: None,
            woken: false,
            over: true,
        });
        if self.try_acquire(n).is_ok() {
            self.available -= n;
            self.held += n;
            return Some(Ok(()));
        }
        if n == 0 || self.closed {
            return Some(Err(AcquireError::Closed));
        }
        if n > self.capacity {
            return Some(Err(AcquireError::TooLarge {
                requested: n,
                capacity: self.capacity,
            }));
        }
        let taken = if self.queue.is_empty() {
            self.available
        } else {
            0
        };
        self.available -= taken;
        self.pending += taken;
        let w = &mut self.waiters[id];
        w.need = n - taken;
        w.over = false;
        self.queue.push_back(id);
        None
    }

    /// Whether waiter `id`'s owner would stop sleeping.
    fn ready(&self, id: usize) -> bool {
        let w = &self.waiters[id];
        w.outcome.is_some() || w.interrupted
    }

    /// Completes waiter `id` (which is ready), as its owner does.
    fn complete(&mut self, id: usize) -> Result<(), AcquireError> {
        self.waiters[id].over = true;
        let result = match self.waiters[id].outcome {
            None => {
                let granted = self.granted(id);
                self.queue.retain(|&q| q != id);
                self.pending -= granted;
                self.grant(granted);
                Err(AcquireError::Interrupted)
            }
            Some(Outcome::Granted) if self.waiters[id].interrupted => {
                self.grant(self.waiters[id].requested);
                Err(AcquireError::Interrupted)
            }
            Some(Outcome::Granted) => Ok(()),
            Some(Outcome::Closed) => Err(AcquireError::Closed),
            Some(Outcome::TooLarge(capacity)) => Err(AcquireError::TooLarge {
                requested: self.waiters[id].requested,
                capacity,
            }),
            Some(Outcome::Interrupted) => Err(AcquireError::Interrupted),
        };
        if result.is_ok() {
            self.held += self.waiters[id].requested;
        }
        result
    }

    fn retire(&mut self, n: u64) {
        self.held -= n;
        self.capacity -= n;
        let mut permits = 0;
        for id in self.queue.clone() {
            if self.waiters[id].requested > self.capacity {
                let granted = self.granted(id);
                permits += granted;
                self.pending -= granted;
                self.finish(id, Outcome::TooLarge(self.capacity));
            }
        }
        self.grant(permits);
    }

    fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let mut permits = 0;
        for id in std::mem::take(&mut self.queue) {
            permits += self.granted(id);
            self.waiters[id].outcome = Some(Outcome::Closed);
        }
        self.pending = 0;
        self.available += permits;
    }
}

/// Runs one input; panics if the semaphore and the model disagree.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(initial) = u.int_in_range(0..=8u64) else {
        return;
    };
    let sem = Sem::new(initial);
    let nodes: Vec<Pin<Box<Node>>> = (0..MAX_WAITERS).map(|_| Box::pin(Node::new())).collect();
    let mut steps: Vec<Option<AcquireStep<'_, StepPark>>> = Vec::new();
    let mut model = Model {
        available: initial,
        capacity: initial,
        ..Model::default()
    };
    let mut trace = Vec::new();
    // The word each queued waiter sleeps on, to match recorded wakes.
    let mut words = [0usize; MAX_WAITERS];
    take_wakes();

    while let Some(op) = next_op(&mut u) {
        trace.push(op);
        let pick = |k: u8, len: usize| (len > 0).then(|| k as usize % len);
        match op {
            Op::Acquire(n) => {
                let id = steps.len();
                if id == MAX_WAITERS {
                    continue;
                }
                let n = u64::from(n % 10);
                let expected = model.start(id, n);
                // SAFETY: every step lives in `steps` until it is polled to
                // the end or dropped (`steps` is dropped before `nodes` and
                // `sem`, on a panic too); none is leaked.
                match unsafe { sem.start_acquire(nodes[id].as_ref(), n) } {
                    Progress::Done(result) => {
                        assert_eq!(
                            Some(result),
                            expected,
                            "acquire({n}) ended at once; {trace:?}"
                        );
                        steps.push(None);
                    }
                    Progress::Waiting(step) => {
                        assert_eq!(expected, None, "acquire({n}) queued; {trace:?}");
                        words[id] = step.sleep_word() as *const _ as usize;
                        steps.push(Some(step));
                    }
                }
            }
            Op::TryAcquire(n) => {
                let n = u64::from(n % 10);
                let expected = model.try_acquire(n);
                assert_eq!(sem.try_acquire(n), expected, "try_acquire({n}); {trace:?}");
                if expected.is_ok() {
                    model.available -= n;
                    model.held += n;
                }
            }
            Op::Release(n) => {
                // Zero is a no-op: it must not even run the grant routine.
                let n = u64::from(n % 10).min(model.held);
                sem.release(n);
                if n > 0 {
                    model.held -= n;
                    model.grant(n);
                }
            }
            Op::AddPermits(n) => {
                let n = u64::from(n % 10);
                sem.add_permits(n);
                if n > 0 {
                    model.capacity += n;
                    model.grant(n);
                }
            }
            Op::Forget(n) => {
                let n = u64::from(n % 10);
                let expected = model.available.min(n);
                assert_eq!(sem.forget_permits(n), expected, "forget({n}); {trace:?}");
                model.available -= expected;
                model.capacity -= expected;
            }
            Op::Retire(n) => {
                let n = u64::from(n % 10).min(model.held);
                sem.retire(n);
                if n > 0 {
                    model.retire(n);
                }
            }
            Op::Close => {
                sem.close();
                model.close();
            }
            Op::Interrupt(k) => {
                let Some(id) = pick(k, steps.len()) else {
                    continue;
                };
                nodes[id].interrupt();
                model.waiters[id].interrupted = true;
            }
            Op::Poll(k) => {
                let Some(id) = pick(k, steps.len()) else {
                    continue;
                };
                let Some(step) = steps[id].take() else {
                    continue;
                };
                match step.poll() {
                    Progress::Done(result) => {
                        assert!(model.ready(id), "waiter {id} ended early; {trace:?}");
                        assert!(
                            model.waiters[id].woken,
                            "waiter {id} was never woken; {trace:?}"
                        );
                        assert_eq!(result, model.complete(id), "waiter {id}; {trace:?}");
                    }
                    Progress::Waiting(step) => {
                        assert!(!model.ready(id), "waiter {id} not ready; {trace:?}");
                        steps[id] = Some(step);
                    }
                }
            }
            Op::Drop(k) => {
                let Some(id) = pick(k, steps.len()) else {
                    continue;
                };
                if steps[id].take().is_some() {
                    model.waiters[id].interrupted = true;
                    let result = model.complete(id);
                    assert!(result.is_err(), "a dropped step cannot succeed; {trace:?}");
                }
            }
        }
        observe_wakes(&words, &mut model);
        check(&sem, &model, &trace);
    }

    // Dropping the remaining steps must leave nothing queued or pending.
    for (id, step) in steps.iter_mut().enumerate() {
        if step.take().is_some() {
            model.waiters[id].interrupted = true;
            let _ = model.complete(id);
        }
    }
    check(&sem, &model, &trace);
    assert!(model.waiters.iter().all(|w| w.over));
    let s = sem.snapshot();
    assert_eq!((s.pending, s.queued), (0, 0), "{trace:?}");
}

/// Marks the waiters whose node word was woken.
fn observe_wakes(words: &[usize], model: &mut Model) {
    for wake in take_wakes() {
        for (id, w) in model.waiters.iter_mut().enumerate() {
            if words[id] == wake.word {
                w.woken = true;
            }
        }
    }
}

fn check(sem: &Sem, model: &Model, trace: &[Op]) {
    let s = sem.snapshot();
    assert_eq!(
        (s.available, s.pending, s.capacity, s.queued),
        (
            model.available,
            model.pending,
            model.capacity,
            model.queue.len()
        ),
        "snapshot vs model (available, pending, capacity, queued); {trace:?}"
    );
    // Granted waits whose owner has not run yet hold their permits too.
    let granted: u64 = model
        .waiters
        .iter()
        .filter(|w| !w.over && w.outcome == Some(Outcome::Granted))
        .map(|w| w.requested)
        .sum();
    assert_eq!(
        s.capacity,
        s.available + s.pending + model.held + granted,
        "permits not conserved; {trace:?}"
    );
    assert_eq!(sem.is_closed(), model.closed);
}
