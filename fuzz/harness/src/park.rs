//! A [`Park`] for step-driven harnesses, and the sleepers it wakes.
//!
//! [`StepPark`] never sleeps: a harness drives waits with
//! `concur_core::step`, which returns where a blocking call would call
//! `wait`. Wakes are recorded (per thread) so the harness can replay them
//! against its own table of [`Sleepers`], with futex semantics: a wait only
//! ends when its word was woken after it went to sleep.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use std::sync::atomic::AtomicU32;

use concur_core::table::TaskTable;
use concur_core::{NoDeadline, Park, TimedOut};

/// Records wakes; a blocking wait is a harness bug and aborts.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepPark;

thread_local! {
    static WAKES: RefCell<Vec<Wake>> = const { RefCell::new(Vec::new()) };
}

/// One recorded wake: the word's address and whether it woke everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// Address of the futex word.
    pub word: usize,
    /// `wake_all` rather than `wake_one`.
    pub all: bool,
}

// SAFETY: `wait` never returns (reaching it is a harness bug, reported by
// aborting, since a parker must not unwind); the wakes only record the
// address.
unsafe impl Park for StepPark {
    type Deadline = NoDeadline;

    fn wait(_word: &AtomicU32, _expected: u32) {
        eprintln!("step harness: a blocking wait was reached; steps must not sleep");
        std::process::abort();
    }
    fn wait_until(_: &AtomicU32, _: u32, deadline: NoDeadline) -> Result<(), TimedOut> {
        match deadline {}
    }
    fn wake_one(word: *const AtomicU32) {
        WAKES.with(|w| {
            w.borrow_mut().push(Wake {
                word: word as usize,
                all: false,
            })
        });
    }
    fn wake_all(word: *const AtomicU32) {
        WAKES.with(|w| {
            w.borrow_mut().push(Wake {
                word: word as usize,
                all: true,
            })
        });
    }
    fn task_table<'a>() -> Option<&'a TaskTable<Self>> {
        static TABLE: TaskTable<StepPark> = TaskTable::new();
        Some(&TABLE)
    }
}

/// Takes the wakes recorded on this thread since the last call.
pub fn take_wakes() -> Vec<Wake> {
    WAKES.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// Which waits are asleep on which word, in the order they fell asleep.
#[derive(Debug, Default)]
pub struct Sleepers {
    by_word: HashMap<usize, VecDeque<usize>>,
}

impl Sleepers {
    /// Puts wait `id` to sleep on `word`.
    pub fn sleep(&mut self, word: usize, id: usize) {
        self.by_word.entry(word).or_default().push_back(id);
    }

    /// Removes `id` wherever it sleeps (it woke spuriously or finished).
    pub fn forget(&mut self, id: usize) {
        for queue in self.by_word.values_mut() {
            queue.retain(|&s| s != id);
        }
    }

    /// Whether `id` is asleep.
    pub fn is_asleep(&self, id: usize) -> bool {
        self.by_word.values().any(|q| q.contains(&id))
    }

    /// Applies recorded wakes (oldest first), returning the waits woken.
    pub fn apply(&mut self, wakes: &[Wake]) -> Vec<usize> {
        let mut woken = Vec::new();
        for wake in wakes {
            if let Some(queue) = self.by_word.get_mut(&wake.word) {
                if wake.all {
                    woken.extend(queue.drain(..));
                } else if let Some(id) = queue.pop_front() {
                    woken.push(id);
                }
            }
        }
        woken
    }
}
