//! A thread's stack of holds, in a bare `UnsafeCell`: the path of every
//! debug lock touches it twice, and a `RefCell`'s flag stores would have
//! to drain from the store buffer before the lock's own atomic.
//!
//! Soundness rests on one rule, kept by every method here: a reference
//! into the cell lives for one expression that runs no code which could
//! reach this thread's stack again. No user code runs under it: no waker
//! is cloned or dropped there (a waker's drop can free a task, whose
//! future drops a guard, which pops this stack), no event is emitted, and
//! nothing allocates (a global allocator may itself take a debug lock).
//! Work that may allocate runs on the vector taken out of the cell
//! ([`Stack::with_taken`]); entries leave by value and are dropped by the
//! caller.

use std::cell::UnsafeCell;
use std::panic::Location;
use std::task::Waker;

use super::state::Mode;

/// One hold of the current thread.
pub(super) struct Hold {
    pub(super) id: u64,
    pub(super) token: u64,
    pub(super) site: &'static Location<'static>,
    /// The watchdog tick at acquisition (ms, wrapping after 49 days).
    pub(super) since: u32,
    pub(super) mode: Mode,
    /// The task whose hold this is; `None` for a thread's (boxed: one
    /// word, in the entry every hold writes).
    pub(super) task: Option<Box<Waker>>,
}

impl Hold {
    /// Whether acquiring as `task` (`None`: a thread) after this hold
    /// orders the two.
    pub(super) fn orders(&self, task: Option<&Waker>) -> bool {
        match (&self.task, task) {
            (None, _) => true,
            (Some(held), Some(task)) => held.will_wake(task),
            (Some(_), None) => false,
        }
    }
}

/// What a release needs of its hold.
pub(super) struct Popped {
    pub(super) site: &'static Location<'static>,
    pub(super) since: u32,
    pub(super) task: Option<Box<Waker>>,
}

/// What a check needs of a hold: a copy, so no reference into the stack
/// outlives the method that made it.
#[derive(Clone, Copy)]
pub(super) struct HeldLock {
    pub(super) id: u64,
    pub(super) token: u64,
    pub(super) mode: Mode,
    pub(super) site: &'static Location<'static>,
}

pub(super) struct Stack(UnsafeCell<Vec<Hold>>);

impl Stack {
    pub(super) const fn new() -> Self {
        Self(UnsafeCell::new(Vec::new()))
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        // SAFETY: the module's rule.
        unsafe { (*self.0.get()).len() }
    }

    #[inline(always)]
    pub(super) fn push(&self, hold: Hold) {
        // SAFETY: the module's rule: reads two words.
        let full = unsafe {
            let held = &*self.0.get();
            held.len() == held.capacity()
        };
        if full {
            self.grow();
        }
        // SAFETY: the module's rule: there is room, so `push` allocates
        // nothing (the check above and this line run no code in between).
        unsafe { (*self.0.get()).push(hold) }
    }

    #[cold]
    fn grow(&self) {
        while {
            self.with_taken(|held| held.reserve(held.len().max(4)));
            // SAFETY: the module's rule.
            unsafe { (*self.0.get()).len() == (*self.0.get()).capacity() }
        } {}
    }

    /// Runs `f` on the vector taken out of the cell, so that `f` may
    /// allocate (a lock taken meanwhile finds an empty stack of its own),
    /// then puts it back, ahead of anything pushed meanwhile.
    pub(super) fn with_taken<R>(&self, f: impl FnOnce(&mut Vec<Hold>) -> R) -> R {
        // SAFETY: the module's rule: `take` moves three words.
        let mut held = unsafe { std::mem::take(&mut *self.0.get()) };
        let out = f(&mut held);
        // SAFETY: likewise.
        let pushed = unsafe { std::mem::replace(&mut *self.0.get(), held) };
        // Only an allocator that leaves a lock held gets here.
        for hold in pushed {
            self.push(hold);
        }
        out
    }

    /// Takes out the most recent hold of `id` in `mode`: its site, its
    /// tick, and its task's waker (to be dropped by the caller).
    #[inline(always)]
    pub(super) fn pop(&self, id: u64, mode: Mode) -> Option<Popped> {
        // SAFETY: the module's rule: nothing here allocates or runs a
        // waker's code (the waker leaves by value).
        unsafe {
            let held = &mut *self.0.get();
            let at = match held.last_mut() {
                Some(h) if h.id == id && h.mode == mode => held.len() - 1,
                _ => held.iter().rposition(|h| h.id == id && h.mode == mode)?,
            };
            let h = &mut held[at];
            let popped = Popped {
                site: h.site,
                since: h.since,
                task: h.task.take(),
            };
            if at + 1 == held.len() {
                // Its task taken, the entry owns nothing: no drop to run.
                held.set_len(at);
            } else {
                held.remove(at);
            }
            Some(popped)
        }
    }

    /// Copies of the holds acquiring as `task` would be ordered after.
    pub(super) fn ordering(&self, task: Option<&Waker>) -> Vec<HeldLock> {
        // (`will_wake` compares pointers and runs no waker code.)
        self.with_taken(|held| {
            held.iter()
                .filter(|h| h.orders(task))
                .map(|h| HeldLock {
                    id: h.id,
                    token: h.token,
                    mode: h.mode,
                    site: h.site,
                })
                .collect()
        })
    }

    /// Takes out the holds `keep` refuses, to be dropped by the caller.
    pub(super) fn take_unless(&self, mut keep: impl FnMut(&Hold) -> bool) -> Vec<Hold> {
        self.with_taken(|held| {
            let mut taken = Vec::new();
            let mut at = 0;
            while at < held.len() {
                if keep(&held[at]) {
                    at += 1;
                } else {
                    taken.push(held.remove(at));
                }
            }
            taken
        })
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::{Hold, Mode, Stack};

    struct Counted(Arc<AtomicUsize>);
    impl Wake for Counted {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn hold(id: u64, mode: Mode, task: Option<Waker>) -> Hold {
        Hold {
            id,
            token: id * 10,
            site: Location::caller(),
            since: 7,
            mode,
            task: task.map(Box::new),
        }
    }

    #[test]
    fn pops_the_most_recent_matching_hold_from_anywhere() {
        let stack = Stack::new();
        for id in 0..40 {
            stack.push(hold(id % 4, Mode::Mutex, None));
        }
        stack.push(hold(9, Mode::Read, None));
        assert_eq!(stack.len(), 41);
        assert!(stack.pop(9, Mode::Write).is_none());
        assert!(stack.pop(9, Mode::Read).is_some());
        // Out of order: one from the middle.
        assert!(stack.pop(2, Mode::Mutex).is_some());
        assert_eq!(stack.len(), 39);
        let left: Vec<u64> = stack.ordering(None).iter().map(|h| h.id).collect();
        assert_eq!(left.len(), 39);
        assert_eq!(left.iter().filter(|&&id| id == 2).count(), 9);
    }

    #[test]
    fn wakers_leave_by_value_and_drop_once() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let waker = Waker::from(Arc::new(Counted(dropped.clone())));
        let stack = Stack::new();
        stack.push(hold(1, Mode::Mutex, Some(waker.clone())));
        stack.push(hold(2, Mode::Read, Some(waker.clone())));
        stack.push(hold(3, Mode::Mutex, None));
        // A task's hold orders only that task's acquisitions. (Under Miri
        // a vtable gets a new address at each use, so a clone's `will_wake`
        // is false: the task's holds then order nothing, which is safe.)
        assert_eq!(stack.ordering(None).len(), 1);
        let same_task = if cfg!(miri) { 1 } else { 3 };
        assert_eq!(stack.ordering(Some(&waker)).len(), same_task);
        let popped = stack.pop(1, Mode::Mutex).expect("held");
        assert_eq!(popped.since, 7);
        drop(popped.task);
        let taken = stack.take_unless(|h| h.id == 3);
        assert_eq!((taken.len(), stack.len()), (1, 1));
        drop(taken);
        drop(waker);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the last waker reference dropped"
        );
        drop(stack);
    }
}
