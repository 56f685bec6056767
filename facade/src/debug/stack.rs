//! A thread's stack of holds, in a bare `UnsafeCell`: the path of every
//! debug lock touches it twice, and a `RefCell`'s flag stores would have
//! to drain from the store buffer before the lock's own atomic.
//!
//! Soundness rests on one rule, kept by every method here: a reference
//! into the cell lives for one expression that runs no code which could
//! reach this thread's stack again. No user code runs under it: no waker
//! is cloned or dropped there (a waker's drop can free a task, whose
//! future drops a guard, which pops this stack), no event is emitted, and
//! nothing allocates (so not even a global allocator that takes a debug
//! lock, which debug mode does not support, could alias the vector: work
//! that may allocate runs on the vector taken out of the cell, see
//! [`Stack::with_taken`]). Entries leave by value and are dropped by the
//! caller.

use std::cell::UnsafeCell;
use std::panic::Location;
use std::task::Waker;

use super::state::Mode;

/// One hold of the current thread.
pub(super) struct Hold {
    pub(super) lock: HeldLock,
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

/// A hold without its task: what a push takes, and the copy a check or
/// a release gets (so no reference into the stack outlives the method
/// that made it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct HeldLock {
    pub(super) id: u64,
    pub(super) token: u64,
    pub(super) site: &'static Location<'static>,
    /// The watchdog tick at acquisition (ms, wrapping after 49 days).
    pub(super) since: u32,
    pub(super) mode: Mode,
}

/// What a release takes out of the stack.
pub(super) struct Popped {
    pub(super) lock: HeldLock,
    pub(super) task: Option<Box<Waker>>,
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

    /// The common push, of a thread's hold that needs no check: onto an
    /// empty stack, or (`checked` false: a `try_*`) onto any stack with
    /// room below `limit`. `false`, with nothing done, for anything else.
    #[inline(always)]
    pub(super) fn try_push(&self, lock: HeldLock, checked: bool, limit: usize) -> bool {
        // SAFETY: the module's rule: the write below is into spare
        // capacity, so nothing allocates, and the entry owns nothing.
        unsafe {
            let held = &mut *self.0.get();
            let len = held.len();
            if (checked && len != 0) || len >= limit || len == held.capacity() {
                return false;
            }
            held.as_mut_ptr().add(len).write(Hold { lock, task: None });
            held.set_len(len + 1);
        }
        true
    }

    /// The common pop: the top entry is the thread's own hold of `id` in
    /// `mode`, with `token` (a shared hold: the only entry). Its site and
    /// tick; `None`, with nothing done, for anything else.
    #[inline(always)]
    pub(super) fn try_pop(
        &self,
        id: u64,
        mode: Mode,
        token: Option<u64>,
    ) -> Option<(&'static Location<'static>, u32)> {
        // SAFETY: the module's rule: the entry removed owns nothing (no
        // task), so shortening the vector runs no code.
        unsafe {
            let held = &mut *self.0.get();
            let len = held.len();
            let h = held.last()?;
            let (lock, owned) = (&h.lock, h.task.is_some());
            let mine = lock.id == id && lock.mode == mode && !owned;
            let told = match token {
                Some(token) => lock.token == token,
                None => len == 1,
            };
            if !(mine && told) {
                return None;
            }
            let out = (lock.site, lock.since);
            held.set_len(len - 1);
            Some(out)
        }
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

    /// Takes out the hold a release of `id` in `mode` ends: for an
    /// exclusive hold, the one with the lock's current `token`; for a
    /// shared one (a read, a permit), the most recent, unless holds of
    /// different owners (threads, tasks) share this thread's stack: then
    /// a release cannot tell whose hold ended, and all of them are taken
    /// out (orders missed, never invented), the others into `also`.
    /// Returns the site and tick of the most recent; the wakers and holds
    /// it took leave by value, for the caller to drop.
    #[inline(always)]
    pub(super) fn pop(
        &self,
        id: u64,
        mode: Mode,
        token: Option<u64>,
        also: &mut Vec<Hold>,
    ) -> Option<Popped> {
        let is_it = |h: &Hold| {
            let lock = &h.lock;
            lock.id == id && lock.mode == mode && token.is_none_or(|t| lock.token == t)
        };
        // SAFETY: the module's rule: nothing here allocates or runs a
        // waker's code (the waker leaves by value).
        unsafe {
            let held = &mut *self.0.get();
            let at = match held.last_mut() {
                Some(h) if is_it(h) => held.len() - 1,
                _ => held.iter().rposition(is_it)?,
            };
            if token.is_none() && held[..at].iter().any(is_it) {
                return self.pop_ambiguous(is_it, also);
            }
            let h = &mut held[at];
            let popped = Popped {
                lock: h.lock,
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

    /// `pop` of a shared hold that several entries could stand for.
    #[cold]
    fn pop_ambiguous(&self, is_it: impl Fn(&Hold) -> bool, also: &mut Vec<Hold>) -> Option<Popped> {
        let mut taken = self.take_unless(|h| !is_it(h));
        let last = taken.pop()?;
        let owner = last.task.as_deref();
        let same_owner = taken.iter().all(|h| match (h.task.as_deref(), owner) {
            (None, None) => true,
            (Some(a), Some(b)) => a.will_wake(b),
            _ => false,
        });
        if same_owner {
            // One owner's holds: only the most recent ends; the others go back.
            for h in taken.drain(..) {
                self.push(h);
            }
        }
        *also = taken;
        Some(Popped {
            lock: last.lock,
            task: last.task,
        })
    }

    /// Copies of the holds acquiring as `task` would be ordered after.
    pub(super) fn ordering(&self, task: Option<&Waker>) -> Vec<HeldLock> {
        // (`will_wake` compares pointers and runs no waker code.)
        self.with_taken(|held| {
            held.iter()
                .filter(|h| h.orders(task))
                .map(|h| h.lock)
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
mod tests;
