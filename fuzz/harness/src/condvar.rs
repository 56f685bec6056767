//! Target `condvar`: one [`RawCondvar`] driven step by step against a model
//! of its list.
//!
//! Operations: start a wait (the harness takes the mutex, the wait links
//! its node and releases it), `notify_one`, `notify_all`, interrupt waiter
//! `k`, poll waiter `k` (as a wake-up would; a finished wait holds the
//! mutex, which the harness releases), drop waiter `k`'s step. After every
//! operation the number of linked waiters must be the model's, every
//! result must be the model's (FIFO notification, interrupted waiters
//! skipped, a notified waiter returns `Ok` even if interrupted later), and
//! every wake the model expects must have reached the right node word: the
//! notified head at once, the first two waiters of a `notify_all` chain at
//! once and each later one when the waiter two ahead of it finishes. At
//! the end every notified waiter was woken.

use std::collections::VecDeque;
use std::pin::Pin;

use arbitrary::{Arbitrary, Unstructured};

use crate::next_op;
use crate::park::{take_wakes, StepPark};
use concur_core::step::{CondvarStep, Progress};
use concur_core::{Interrupted, RawCondvar, RawMutex, Waiter};

type Node = Waiter<StepPark>;

/// At most this many waits per input (each needs a fresh node).
const MAX_WAITERS: usize = 32;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Wait,
    NotifyOne,
    NotifyAll,
    Interrupt(u8),
    Poll(u8),
    Drop(u8),
}

/// A modelled wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the list.
    Linked,
    /// Unlinked by a notifier; `next` is the waiter two behind in the
    /// chain, which this one wakes when it finishes.
    Notified { next: Option<usize> },
    /// Unlinked by a notifier because it was interrupted.
    Skipped,
    /// Finished (polled to the end or dropped).
    Over,
}

#[derive(Debug)]
struct Model {
    list: VecDeque<usize>,
    state: Vec<State>,
    interrupted: Vec<bool>,
    /// Whether a wake the model expects reached the waiter (checked
    /// against the recorded wakes).
    woken: Vec<bool>,
    /// Whether the waiter was ever notified.
    notified: Vec<bool>,
}

impl Model {
    fn notify_one(&mut self) -> (bool, Vec<usize>) {
        let mut woken = Vec::new();
        while let Some(head) = self.list.pop_front() {
            woken.push(head);
            if self.interrupted[head] {
                self.state[head] = State::Skipped;
                continue;
            }
            self.state[head] = State::Notified { next: None };
            self.notified[head] = true;
            return (true, woken);
        }
        (false, woken)
    }

    fn notify_all(&mut self) -> (usize, Vec<usize>) {
        let mut woken = Vec::new();
        let (skipped, chain): (Vec<usize>, Vec<usize>) =
            self.list.drain(..).partition(|&id| self.interrupted[id]);
        for &id in &skipped {
            self.state[id] = State::Skipped;
            woken.push(id);
        }
        // Two links wide: the first two are woken now, and each notified
        // waiter wakes the one two behind it when it finishes.
        for (i, &id) in chain.iter().enumerate() {
            self.state[id] = State::Notified {
                next: chain.get(i + 2).copied(),
            };
            self.notified[id] = true;
        }
        woken.extend(chain.iter().take(2).copied());
        (chain.len(), woken)
    }

    /// Finishes wait `id` (ready, or dropped: interrupted first); returns
    /// its result and the waiter it must wake.
    fn finish(&mut self, id: usize) -> (Result<(), Interrupted>, Option<usize>) {
        let state = std::mem::replace(&mut self.state[id], State::Over);
        match state {
            State::Notified { next } => (Ok(()), next),
            State::Skipped => (Err(Interrupted), None),
            State::Linked => {
                self.list.retain(|&q| q != id);
                (Err(Interrupted), None)
            }
            State::Over => unreachable!("finished twice"),
        }
    }

    fn ready(&self, id: usize) -> bool {
        self.state[id] != State::Linked || self.interrupted[id]
    }
}

/// Runs one input; panics if the condvar and the model disagree.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mutex: RawMutex<StepPark> = RawMutex::new();
    let condvar: RawCondvar<StepPark> = RawCondvar::new();
    let nodes: Vec<Pin<Box<Node>>> = (0..MAX_WAITERS).map(|_| Box::pin(Node::new())).collect();
    let mut steps = Steps {
        steps: Vec::new(),
        mutex: &mutex,
    };
    let mut words: Vec<usize> = Vec::new();
    let mut model = Model {
        list: VecDeque::new(),
        state: Vec::new(),
        interrupted: Vec::new(),
        woken: Vec::new(),
        notified: Vec::new(),
    };
    let mut trace = Vec::new();
    take_wakes();

    while let Some(op) = next_op(&mut u) {
        trace.push(op);
        let pick = |k: u8, len: usize| (len > 0).then(|| k as usize % len);
        // The waiters whose word the model expects this operation to wake.
        let mut expect: Vec<usize> = Vec::new();
        match op {
            Op::Wait => {
                let id = steps.steps.len();
                if id == MAX_WAITERS {
                    continue;
                }
                mutex.lock();
                // SAFETY: this thread holds `mutex`; every step lives in
                // `steps` until it is polled to the end or dropped (`steps`
                // is dropped before `nodes`, `condvar` and `mutex`).
                match unsafe { condvar.start_wait(nodes[id].as_ref(), &mutex) } {
                    Progress::Waiting(step) => {
                        words.push(step.sleep_word() as *const _ as usize);
                        steps.steps.push(Some(step));
                    }
                    Progress::Done(result) => {
                        panic!("a fresh wait ended at once: {result:?}; {trace:?}")
                    }
                }
                assert!(!mutex.is_locked(), "the wait released the mutex; {trace:?}");
                model.list.push_back(id);
                model.state.push(State::Linked);
                model.interrupted.push(false);
                model.woken.push(false);
                model.notified.push(false);
            }
            Op::NotifyOne => {
                let (any, woken) = model.notify_one();
                assert_eq!(condvar.notify_one(), any, "notify_one; {trace:?}");
                expect = woken;
            }
            Op::NotifyAll => {
                let (count, woken) = model.notify_all();
                assert_eq!(condvar.notify_all(), count, "notify_all; {trace:?}");
                expect = woken;
            }
            Op::Interrupt(k) => {
                let Some(id) = pick(k, steps.steps.len()) else {
                    continue;
                };
                nodes[id].interrupt();
                if model.state[id] != State::Over && !model.interrupted[id] {
                    model.interrupted[id] = true;
                    expect.push(id);
                }
            }
            Op::Poll(k) => {
                let Some(id) = pick(k, steps.steps.len()) else {
                    continue;
                };
                let Some(step) = steps.steps[id].take() else {
                    continue;
                };
                match step.poll() {
                    Progress::Done(result) => {
                        let held = mutex.is_locked();
                        if held {
                            // SAFETY: the finished wait locked it for this
                            // thread. Released before any check, so a
                            // failed check unwinds (dropping the other
                            // steps) with the mutex free.
                            unsafe { mutex.unlock() };
                        }
                        assert!(held, "a finished wait holds the mutex; {trace:?}");
                        assert!(model.ready(id), "waiter {id} ended early; {trace:?}");
                        let (expected, next) = model.finish(id);
                        assert_eq!(result, expected, "waiter {id}; {trace:?}");
                        expect.extend(next);
                    }
                    Progress::Waiting(step) => {
                        assert!(!model.ready(id), "waiter {id} is ready; {trace:?}");
                        steps.steps[id] = Some(step);
                    }
                }
            }
            Op::Drop(k) => {
                let Some(id) = pick(k, steps.steps.len()) else {
                    continue;
                };
                if steps.steps[id].take().is_some() {
                    if model.state[id] == State::Linked {
                        model.interrupted[id] = true;
                    }
                    let (_, next) = model.finish(id);
                    expect.extend(next);
                    // SAFETY: ending the dropped wait locked it for us.
                    unsafe { mutex.unlock() };
                }
            }
        }
        observe(&words, &mut model, &expect, &trace);
        assert_eq!(
            condvar.waiters(),
            model.list.len(),
            "linked waiters; {trace:?}"
        );
    }

    // Dropping what is left ends every wait and passes every chain on.
    for id in 0..steps.steps.len() {
        if steps.steps[id].take().is_some() {
            if model.state[id] == State::Linked {
                model.interrupted[id] = true;
            }
            let (_, next) = model.finish(id);
            // SAFETY: as for `Op::Drop`.
            unsafe { mutex.unlock() };
            observe(
                &words,
                &mut model,
                &next.into_iter().collect::<Vec<_>>(),
                &trace,
            );
        }
    }
    assert_eq!(condvar.waiters(), 0, "{trace:?}");
    for id in 0..model.state.len() {
        if model.notified[id] {
            assert!(
                model.woken[id],
                "notified waiter {id} was never woken; {trace:?}"
            );
        }
    }
}

/// The steps in progress; on an unwind (a failed check) each is dropped
/// with the mutex free, as ending it takes the mutex, which is then
/// released again.
struct Steps<'a> {
    steps: Vec<Option<CondvarStep<'a, StepPark>>>,
    mutex: &'a RawMutex<StepPark>,
}

impl Drop for Steps<'_> {
    fn drop(&mut self) {
        for step in self.steps.iter_mut() {
            if step.take().is_some() {
                // SAFETY: ending the dropped wait locked it for us.
                unsafe { self.mutex.unlock() };
            }
        }
    }
}

/// Checks that every expected wake was recorded (extra wakes, e.g. of a
/// word that is awake already, are allowed) and marks them.
fn observe(words: &[usize], model: &mut Model, expect: &[usize], trace: &[Op]) {
    let wakes = take_wakes();
    for &id in expect {
        assert!(
            wakes.iter().any(|w| w.word == words[id]),
            "waiter {id} was not woken; {trace:?}"
        );
        model.woken[id] = true;
    }
}
