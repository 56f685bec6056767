//! Target `rwlock`: reader and writer waits on one [`RawRwLock`], driven
//! step by step, with interrupts and spurious wake-ups, against the lock's
//! contract.
//!
//! Blocked waits sleep in a futex model ([`Sleepers`]): a wait is asleep if
//! its wake word still held the value it slept on, and only a recorded wake
//! of that word (or a spurious `Poll`) runs it again. Checked after every
//! operation: at most one writer and never a writer with readers; no reader
//! gets in while a writer waits (writer preference); an interrupted wait
//! finishes on its next run; the lock's flags match the holders. At the end
//! every lock is released and the awake waits are run until none is left:
//! a wait still asleep then was never woken (a lost wake-up). Finally the
//! lock must be free with no writer still counted.

use std::pin::Pin;
use std::sync::atomic::Ordering;

use arbitrary::{Arbitrary, Unstructured};

use crate::next_op;
use concur_core::step::{Progress, RwLockStep, RwMode};
use concur_core::{Interrupted, RawRwLock, Waiter};

use crate::park::{take_wakes, Sleepers, StepPark};

type Lock = RawRwLock<StepPark>;
type Node = Waiter<StepPark>;

const MAX_WAITERS: usize = 48;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Read,
    Write,
    TryRead,
    TryWrite,
    Unlock(u8),
    Interrupt(u8),
    Poll(u8),
    Drop(u8),
}

struct Harness<'a> {
    lock: &'a Lock,
    nodes: &'a [Pin<Box<Node>>],
    held: Vec<RwMode>,
    waits: Vec<Option<RwLockStep<'a, StepPark>>>,
    sleepers: Sleepers,
    trace: Vec<Op>,
}

type Started<'a> = Progress<Result<(), Interrupted>, RwLockStep<'a, StepPark>>;

impl<'a> Harness<'a> {
    /// The ids of the waits for `mode` still in progress.
    fn waiting(&self, mode: RwMode) -> impl Iterator<Item = usize> + '_ {
        (0..self.waits.len())
            .filter(move |&id| self.waits[id].as_ref().is_some_and(|s| s.mode() == mode))
    }

    /// Replays the wakes recorded since the last call.
    fn wakes(&mut self) {
        let wakes = take_wakes();
        self.sleepers.apply(&wakes);
    }

    /// The lock was just taken in `mode`.
    fn acquired(&mut self, mode: RwMode) {
        if mode == RwMode::Read {
            assert_eq!(
                self.waiting(RwMode::Write).count(),
                0,
                "a reader got in while a writer waits; {:?}",
                self.trace
            );
        }
        self.held.push(mode);
    }

    /// Records what a wait (`id`, for `mode`) did on its latest run.
    fn settle(&mut self, id: usize, mode: RwMode, progress: Started<'a>) {
        self.wakes();
        match progress {
            Progress::Done(Ok(())) => self.acquired(mode),
            Progress::Done(Err(Interrupted)) => assert!(
                self.nodes[id].is_interrupted(),
                "wait {id} interrupted without an interrupt; {:?}",
                self.trace
            ),
            Progress::Waiting(step) => {
                assert!(
                    !self.nodes[id].is_interrupted(),
                    "interrupted wait {id} went back to sleep; {:?}",
                    self.trace
                );
                let (word, value) = step.sleep_word();
                // A futex wait returns at once if the word already changed.
                if word.load(Ordering::Acquire) == value {
                    self.sleepers.sleep(word as *const _ as usize, id);
                }
                self.waits[id] = Some(step);
            }
        }
    }

    fn start(&mut self, mode: RwMode) {
        let id = self.waits.len();
        if id == MAX_WAITERS {
            return;
        }
        self.waits.push(None);
        let node = self.nodes[id].as_ref();
        // SAFETY: every step lives in `self.waits` until it is polled to the
        // end or dropped with the harness (before the nodes and the lock it
        // borrows, on a panic too); none is leaked.
        let progress = unsafe {
            match mode {
                RwMode::Read => self.lock.start_read(node),
                RwMode::Write => self.lock.start_write(node),
            }
        };
        self.settle(id, mode, progress);
    }

    /// Runs wait `id` once more, as after a wake (or a spurious return).
    fn poll(&mut self, id: usize) {
        let Some(step) = self.waits[id].take() else {
            return;
        };
        self.sleepers.forget(id);
        let mode = step.mode();
        self.settle(id, mode, step.poll());
    }

    fn unlock(&mut self, index: usize) {
        match self.held.swap_remove(index) {
            // SAFETY: `held` lists the locks this harness holds; each entry
            // is released once, here.
            RwMode::Read => unsafe { self.lock.read_unlock() },
            // SAFETY: as above.
            RwMode::Write => unsafe { self.lock.write_unlock() },
        }
        self.wakes();
    }

    fn check(&self) {
        let writers = self.held.iter().filter(|m| **m == RwMode::Write).count();
        assert!(
            writers == 0 || self.held.len() == 1,
            "exclusion broken: {:?}; {:?}",
            self.held,
            self.trace
        );
        assert_eq!(
            self.lock.is_locked(),
            !self.held.is_empty(),
            "{:?}",
            self.trace
        );
        assert_eq!(
            self.lock.is_write_locked(),
            writers == 1,
            "{:?}",
            self.trace
        );
        // Nobody sleeps through a chance to enter: with no writer holding or
        // waiting, no reader is asleep; with the lock free, some waiting
        // writer is awake.
        if writers == 0 && self.waiting(RwMode::Write).count() == 0 {
            let stuck: Vec<usize> = self
                .waiting(RwMode::Read)
                .filter(|&id| self.sleepers.is_asleep(id))
                .collect();
            assert!(
                stuck.is_empty(),
                "readers {stuck:?} asleep, free to enter; {:?}",
                self.trace
            );
        }
        if self.held.is_empty() && self.waiting(RwMode::Write).count() > 0 {
            assert!(
                self.waiting(RwMode::Write)
                    .any(|id| !self.sleepers.is_asleep(id)),
                "every waiting writer asleep on a free lock; {:?}",
                self.trace
            );
        }
    }
}

/// Runs one input; panics on a broken guarantee or a lost wake-up.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let lock = Lock::new();
    let nodes: Vec<Pin<Box<Node>>> = (0..MAX_WAITERS).map(|_| Box::pin(Node::new())).collect();
    take_wakes();
    let mut h = Harness {
        lock: &lock,
        nodes: &nodes,
        held: Vec::new(),
        waits: Vec::new(),
        sleepers: Sleepers::default(),
        trace: Vec::new(),
    };
    while let Some(op) = next_op(&mut u) {
        h.trace.push(op);
        let pick = |k: u8, len: usize| (len > 0).then(|| k as usize % len);
        match op {
            Op::Read => h.start(RwMode::Read),
            Op::Write => h.start(RwMode::Write),
            Op::TryRead => {
                if lock.try_read() {
                    h.acquired(RwMode::Read);
                }
            }
            Op::TryWrite => {
                let free = h.held.is_empty();
                assert_eq!(lock.try_write(), free, "try_write; {:?}", h.trace);
                if free {
                    h.acquired(RwMode::Write);
                }
            }
            Op::Unlock(k) => {
                if let Some(i) = pick(k, h.held.len()) {
                    h.unlock(i);
                }
            }
            Op::Interrupt(k) => {
                if let Some(id) = pick(k, h.waits.len()) {
                    nodes[id].interrupt();
                    h.wakes();
                    if h.waits[id].is_some() {
                        assert!(
                            !h.sleepers.is_asleep(id),
                            "interrupt did not wake wait {id}; {:?}",
                            h.trace
                        );
                    }
                }
            }
            Op::Poll(k) => {
                if let Some(id) = pick(k, h.waits.len()) {
                    h.poll(id);
                }
            }
            Op::Drop(k) => {
                if let Some(id) = pick(k, h.waits.len()) {
                    if h.waits[id].take().is_some() {
                        h.sleepers.forget(id);
                        h.wakes();
                    }
                }
            }
        }
        h.check();
    }

    // Quiesce: release everything, then run awake waits (releasing what
    // they take) until none is awake. A wait left then slept through the
    // release that concerned it.
    while !h.held.is_empty() {
        h.unlock(0);
    }
    for _round in 0..10_000 {
        let awake: Vec<usize> = (0..h.waits.len())
            .filter(|&id| h.waits[id].is_some() && !h.sleepers.is_asleep(id))
            .collect();
        if awake.is_empty() {
            break;
        }
        for id in awake {
            h.poll(id);
            h.check();
            while !h.held.is_empty() {
                h.unlock(0);
            }
        }
    }
    let stuck: Vec<usize> = (0..h.waits.len())
        .filter(|&id| h.waits[id].is_some())
        .collect();
    assert!(
        stuck.is_empty(),
        "lost wake-up: waits {stuck:?} asleep with the lock free; {:?}",
        h.trace
    );
    assert!(!lock.is_locked());
    // No writer is still counted: a reader can get in, then a writer.
    assert!(
        lock.try_read(),
        "a withdrawn writer is still counted; {:?}",
        h.trace
    );
    // SAFETY: the read lock was just taken.
    unsafe { lock.read_unlock() };
    assert!(lock.try_write());
    // SAFETY: the write lock was just taken.
    unsafe { lock.write_unlock() };
    take_wakes();
}
