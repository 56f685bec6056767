//! The waker slot of a future's node: claiming a node for a task's wait,
//! registering the task's waker, and taking it out to wake it.
//!
//! A future's node lives inside the future and its owner is a task, which
//! cannot sleep on the word: it registers a [`Waker`](core::task::Waker)
//! in the node instead (`TASK`), and whoever ends the wait takes that waker
//! out and wakes it. Exactly one party touches the slot at a time, with no
//! lock:
//!
//! * the owner stores its waker only while the wait has not ended, inside
//!   `REGISTERING`, which it sets with a compare-exchange that requires
//!   neither `DONE` nor `INTERRUPTED`;
//! * the one visitor that ends the wait (the first of a granter setting
//!   `DONE` and an interrupter setting `INTERRUPTED`) takes the waker,
//!   unless its read-modify-write saw `REGISTERING`: then it leaves the
//!   slot alone, and the owner, clearing `REGISTERING`, sees the end
//!   itself and handles it instead of waiting. A later visitor of the
//!   same ending finds the wait ended and wakes nobody: the owner is awake
//!   already, or about to look.
//!
//! Taking the waker touches the node after the bit that lets its owner
//! finish, so the visitor announces itself in the same read-modify-write
//! (a granter `VISIT`, an interrupter `WAKING`), and the owner does not let
//! the node go, or queue it again, while either is set (`settle_visit`).
//! All of these are read-modify-writes of the one word, so they are
//! totally ordered, and the owner's registration either precedes a
//! visitor's end (which then takes the new waker) or follows it (and fails):
//! no wake-up is lost. Granters wake after their list lock is released
//! (the `locked` module), so a waker that re-enters the primitive or panics
//! finds no lock held.

use core::task::Waker;

use crate::park::{wait_or_clean_up, Park};
use crate::spin::SpinWait;
use crate::sync::{AtomicU32, OnUnwind, Ordering};

use super::{
    Interrupted, Waiter, DONE, INTERRUPTED, IN_USE, REGISTERING, SLEEPER, TASK, VISIT, WAKING,
};

impl<P: Park> Waiter<P> {
    /// Claims the node for a queued wait made by a future: wakes go to the
    /// waker registered with [`register`](Self::register), never to the
    /// node word. The caller ends the wait with
    /// [`end_task`](Self::end_task).
    pub(crate) fn begin_task(&self) -> Result<(), Interrupted> {
        self.begin(TASK)
    }

    /// Ends a wait claimed by [`begin_task`](Self::begin_task), once the
    /// node is unlinked: waits for a visitor still taking the waker out, so
    /// the node may be dropped or reused when this returns.
    ///
    /// An interrupter may come to visit until `TASK` is clear, even after
    /// the owner has its outcome (a wait that took its permits without
    /// being linked has no `DONE` to turn visitors away): the one
    /// read-modify-write that clears `TASK` also reads whether one came.
    /// Later interrupters take the thread path, which touches nothing but
    /// the word's address.
    pub(crate) fn end_task(&self) {
        let prev = self.word.fetch_and(!(IN_USE | TASK), Ordering::AcqRel);
        if prev & (VISIT | WAKING) != 0 {
            self.settle_visit();
        }
    }

    /// Whether a granter or a release ended the wait (`DONE`).
    pub(crate) fn is_done(&self) -> bool {
        self.word.load(Ordering::Acquire) & DONE != 0
    }

    /// Makes a woken node ready to wait again (clears `DONE`), for a
    /// future that lost the lock it was woken for. The caller has settled
    /// the visit that woke it and links the node again only after this.
    pub(crate) fn rearm_task(&self) {
        self.word.fetch_and(!DONE, Ordering::Relaxed);
    }

    /// Interrupts the node from its owner (a future dropped while it
    /// waits): nobody sleeps on the word, and its own waker need not run.
    pub(crate) fn interrupt_own(&self) {
        self.word.fetch_or(INTERRUPTED, Ordering::AcqRel);
    }

    /// Makes `waker` the one to wake when the wait ends. Returns `false` if
    /// the wait has ended (`DONE` or interrupted), before or during the
    /// registration: the caller then reads the outcome instead of waiting,
    /// and no visitor wakes it.
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if word & (DONE | INTERRUPTED) != 0 {
                return false;
            }
            match self.word.compare_exchange_weak(
                word,
                word | REGISTERING,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        // A visitor that ends the wait from here on sees `REGISTERING` and
        // leaves the slot to us (nobody waits for us to clear it).
        let registering = OnUnwind::new(|| {
            self.word.fetch_and(!REGISTERING, Ordering::Release);
        });
        // SAFETY: the slot is ours while `REGISTERING` is set (above).
        let old = self.waker.with_mut(|slot| unsafe {
            match &*slot {
                Some(old) if old.will_wake(waker) => None,
                _ => (*slot).replace(waker.clone()),
            }
        });
        registering.disarm();
        // Release: a visitor whose ending read-modify-write comes after
        // this one takes the waker just stored.
        let prev = self.word.fetch_and(!REGISTERING, Ordering::AcqRel);
        // Dropped after the slot is released: a waker's drop is executor code.
        drop(old);
        prev & (DONE | INTERRUPTED) == 0
    }

    /// Takes the registered waker out.
    ///
    /// # Safety
    /// The caller is the one visitor of this ending of the wait: its
    /// read-modify-write that ended it saw neither an earlier end nor
    /// `REGISTERING`, and set `VISIT` or `WAKING`, which it still holds.
    pub(crate) unsafe fn take_waker(&self) -> Option<Waker> {
        // SAFETY: the caller's obligations make the slot ours: the owner
        // registers only while the wait has not ended, and no other visitor
        // takes from this ending.
        self.waker.with_mut(|slot| unsafe { (*slot).take() })
    }

    /// Clears the visitor's `bit` (`VISIT` or `WAKING`) and wakes the owner
    /// if it sleeps waiting for that. The node may be gone as soon as the
    /// bit is clear: only its word's address is used after.
    pub(crate) fn let_go(&self, bit: u32) {
        let word: *const AtomicU32 = &self.word;
        let prev = self.word.fetch_and(!(bit | SLEEPER), Ordering::Release);
        if prev & SLEEPER != 0 {
            P::wake_all(word);
        }
    }

    /// Waits until no visitor holds the node (`VISIT` and `WAKING`
    /// clear): then a node whose wait ended may be queued again, or let
    /// go. Visitors hold it for a few instructions; the owner spins a
    /// little, then sleeps on its word (`SLEEPER` asks for a wake).
    pub(crate) fn settle_visit(&self) {
        let mut spin = SpinWait::<P>::new();
        let mut word = self.word.load(Ordering::Acquire);
        while word & (VISIT | WAKING) != 0 {
            if spin.spin() {
                word = self.word.load(Ordering::Acquire);
                continue;
            }
            if word & SLEEPER == 0 {
                match self.word.compare_exchange_weak(
                    word,
                    word | SLEEPER,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => word |= SLEEPER,
                    Err(now) => {
                        word = now;
                        continue;
                    }
                }
            }
            wait_or_clean_up::<P>(&self.word, word, || {
                // The parker unwound, and the unwind may end the node: the
                // visitor must be done first. It is a few instructions away.
                while self.word.load(Ordering::Acquire) & (VISIT | WAKING) != 0 {
                    P::yield_now();
                }
            });
            word = self.word.load(Ordering::Acquire);
        }
    }
}
