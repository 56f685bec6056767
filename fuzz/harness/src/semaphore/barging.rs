//! Target `semaphore_barging`: a [`RawSemaphore`] in barging mode driven
//! step by step, checked by invariants instead of a reference model (who
//! wins an offer depends on the order of polls, which is the point).
//!
//! The same operations as the FIFO target. After every operation: permits
//! are conserved (capacity = available + pending + held by callers + held
//! by granted waits not yet polled), and a wait that ended was ready and
//! woken. At the end,
//! with every held permit released, every wait is polled until none is
//! ready: each request that fits the capacity must have been granted (a
//! waiter asleep beside free permits, an offer that was lost, is a hang in
//! a real program), and the semaphore must be settled.

use std::pin::Pin;

use arbitrary::Unstructured;

use concur_core::step::{AcquireStep, Progress};
use concur_core::{AcquireError, RawSemaphore, Waiter};

use super::{Op, MAX_WAITERS};
use crate::next_op;
use crate::park::{take_wakes, StepPark};

type Sem = RawSemaphore<StepPark>;
type Node = Waiter<StepPark>;

/// One queued wait: its request, its step, and whether its word was woken.
struct Wait<'a> {
    n: u64,
    step: Option<AcquireStep<'a, StepPark>>,
    woken: bool,
}

/// Runs one input; panics if an invariant breaks.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(initial) = u.int_in_range(0..=8u64) else {
        return;
    };
    let sem = Sem::new_barging(initial);
    let nodes: Vec<Pin<Box<Node>>> = (0..MAX_WAITERS).map(|_| Box::pin(Node::new())).collect();
    let mut waits: Vec<Wait<'_>> = Vec::new();
    let mut held = 0u64;
    let mut trace = Vec::new();
    take_wakes();

    while let Some(op) = next_op::<Op>(&mut u) {
        trace.push(op);
        let pick = |k: u8, len: usize| (len > 0).then(|| k as usize % len);
        match op {
            Op::Acquire(n) => {
                let id = waits.len();
                if id == MAX_WAITERS {
                    continue;
                }
                let n = u64::from(n % 10);
                // SAFETY: every step lives in `waits` until it is polled to
                // the end or dropped (`waits` is dropped before `nodes` and
                // `sem`, on a panic too); none is leaked.
                let step = match unsafe { sem.start_acquire(nodes[id].as_ref(), n) } {
                    Progress::Done(Ok(())) => {
                        held += n;
                        None
                    }
                    Progress::Done(Err(_)) => None,
                    Progress::Waiting(step) => Some(step),
                };
                waits.push(Wait {
                    n,
                    step,
                    woken: false,
                });
            }
            Op::TryAcquire(n) => {
                let n = u64::from(n % 10);
                if sem.try_acquire(n).is_ok() {
                    held += n;
                }
            }
            Op::Release(n) => {
                let n = u64::from(n % 10).min(held);
                sem.release(n);
                held -= n;
            }
            Op::AddPermits(n) => sem.add_permits(u64::from(n % 10)),
            Op::Forget(n) => {
                sem.forget_permits(u64::from(n % 10));
            }
            Op::Retire(n) => {
                let n = u64::from(n % 10).min(held);
                sem.retire(n);
                held -= n;
            }
            Op::Close => sem.close(),
            Op::Interrupt(k) => {
                if let Some(id) = pick(k, waits.len()) {
                    nodes[id].interrupt();
                }
            }
            Op::Poll(k) => {
                if let Some(id) = pick(k, waits.len()) {
                    observe_wakes(&mut waits);
                    held += poll(&mut waits[id], &trace);
                }
            }
            Op::Drop(k) => {
                if let Some(id) = pick(k, waits.len()) {
                    waits[id].step = None;
                }
            }
        }
        observe_wakes(&mut waits);
        check(&sem, held, &waits, &trace);
    }

    // The end: everything held goes back, then every ready wait is polled
    // (a granted one gives its permits straight back) until none is ready.
    sem.release(held);
    loop {
        let mut progress = false;
        for id in 0..waits.len() {
            observe_wakes(&mut waits);
            if waits[id].step.as_ref().is_some_and(|s| s.is_ready()) {
                progress = true;
                let got = poll(&mut waits[id], &trace);
                sem.release(got);
            }
        }
        if !progress {
            break;
        }
    }
    let capacity = sem.capacity();
    for (id, wait) in waits.iter().enumerate() {
        if wait.step.is_some() && !sem.is_closed() {
            assert!(
                wait.n > capacity,
                "waiter {id} for {} sleeps beside {} free permits; {trace:?}",
                wait.n,
                sem.available()
            );
        }
    }
    waits.clear();
    check(&sem, 0, &waits, &trace);
    let s = sem.snapshot();
    assert_eq!(
        (s.available, s.pending, s.queued, s.oversized),
        (s.capacity, 0, 0, 0),
        "{trace:?}"
    );
    assert_eq!(sem.waiters(), 0, "{trace:?}");
}

/// Polls one wait; returns the permits it got (0 unless it ended granted).
fn poll(wait: &mut Wait<'_>, trace: &[Op]) -> u64 {
    let Some(step) = wait.step.take() else {
        return 0;
    };
    let ready = step.is_ready();
    match step.poll() {
        Progress::Done(result) => {
            assert!(ready, "a wait ended that was not ready; {trace:?}");
            assert!(wait.woken, "a wait ended that was never woken; {trace:?}");
            match result {
                Ok(()) => wait.n,
                Err(AcquireError::Interrupted | AcquireError::Closed) => 0,
                Err(e) => panic!("unexpected {e:?}; {trace:?}"),
            }
        }
        Progress::Waiting(step) => {
            // Not ready, or an offer lost to a barging caller: queued again
            // (and, back at the head in front of a partial grant, possibly
            // handed its permits at once: ready again, and woken).
            wait.woken = false;
            wait.step = Some(step);
            0
        }
    }
}

/// Marks the waits whose node word was woken.
fn observe_wakes(waits: &mut [Wait<'_>]) {
    for wake in take_wakes() {
        for wait in waits.iter_mut() {
            if let Some(step) = &wait.step {
                if step.sleep_word() as *const _ as usize == wake.word {
                    wait.woken = true;
                }
            }
        }
    }
}

/// Permits are conserved: besides the available, the pending and those
/// callers hold, the only permits are those of waits granted but not yet
/// polled, which are among the ready ones.
fn check(sem: &Sem, held: u64, waits: &[Wait<'_>], trace: &[Op]) {
    let s = sem.snapshot();
    let accounted = s.available + s.pending + held;
    let ready: u64 = waits
        .iter()
        .filter(|w| w.step.as_ref().is_some_and(|s| s.is_ready()))
        .map(|w| w.n)
        .sum();
    assert!(
        accounted <= s.capacity && s.capacity <= accounted + ready,
        "permits not conserved (held {held}, ready waits for {ready}): {s:?}; {trace:?}"
    );
    assert_eq!(sem.waiters(), s.queued + s.oversized, "{trace:?}");
}
