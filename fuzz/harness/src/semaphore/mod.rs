//! Target `semaphore`: one [`RawSemaphore`] driven step by step against a
//! reference model of its queue.
//!
//! Operations: acquire `n` (queueing a step if it has to wait), try-acquire,
//! release, add / forget / retire permits, close, interrupt waiter `k`, poll
//! waiter `k` (as a wake-up would), drop waiter `k`'s step. After every
//! operation the semaphore's snapshot must equal the model's, permits must
//! be conserved (capacity = available + pending + held), every result must
//! be the model's (so grants are FIFO, nobody barges past the queue, an
//! interrupted head lets the rest through, a grant that loses to an
//! interrupt is given back, a request above the capacity waits aside and
//! takes its arrival place when it fits, zero-permit requests wait their
//! turn), and a wait that ends must have been woken.

pub mod barging;
mod model;

use std::pin::Pin;

use arbitrary::{Arbitrary, Unstructured};

use crate::next_op;
use concur_core::step::{AcquireStep, Progress};
use concur_core::{RawSemaphore, Waiter};
use model::{Model, Outcome};

use crate::park::{take_wakes, StepPark};

type Sem = RawSemaphore<StepPark>;
type Node = Waiter<StepPark>;

/// At most this many waits per input (each needs a fresh node).
pub(crate) const MAX_WAITERS: usize = 48;

/// One operation of an input (both semaphore targets).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub(crate) enum Op {
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
                    model.add_permits(n);
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
    assert_eq!((s.pending, s.queued, s.oversized), (0, 0, 0), "{trace:?}");
    assert_eq!(sem.waiters(), 0, "{trace:?}");
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
        (s.available, s.pending, s.capacity, s.queued, s.oversized),
        (
            model.available,
            model.pending,
            model.capacity,
            model.queue.len(),
            model.oversized.len()
        ),
        "snapshot vs model (available, pending, capacity, queued, oversized); {trace:?}"
    );
    assert_eq!(sem.waiters(), s.queued + s.oversized, "{trace:?}");
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
