//! Step-by-step drivers of the blocking algorithms (feature `step`).
//!
//! A blocking call is a loop: try, and if that fails, sleep on a futex word
//! until woken, then try again. The types here run the same code as the
//! blocking calls, but hand control back instead of sleeping, so one thread
//! can drive many waits and interleave them with other operations in any
//! order it likes. Fuzzers and model checkers use them to explore orders of
//! events deterministically; nothing here is needed to use the primitives.
//!
//! A `*Step` value is a wait in progress. Its `poll` retries once and either
//! finishes or hands the step back. Between polls the step is "asleep" on
//! [`sleep_word`](RwLockStep::sleep_word): the driver decides when it would
//! have been woken (with a [`Park`] that records wakes instead of sleeping,
//! it can check that it *is* woken). Dropping a step that has not finished
//! interrupts its node and completes the wait, so nothing is ever left
//! queued or counted.
//!
//! # Why starting a step is `unsafe`
//!
//! A step borrows its primitive and its node, and while it waits the
//! primitive points at the node (a semaphore's queue links it) or the node
//! points at the primitive (an rwlock waiter's target word). Only the step's
//! drop undoes that, and Rust does not promise that a value is dropped:
//! a leaked step (`mem::forget`, a reference cycle) would leave those
//! pointers behind after the borrows end, and the next release or interrupt
//! would follow them into freed memory. The blocking calls avoid this by
//! keeping the wait inside one call frame; a harness that interleaves many
//! waits in any order cannot, so it promises instead, with `unsafe`, that
//! every step it starts is dropped or polled to the end. (As a last line of
//! defence, a [`Waiter`] dropped while a wait still uses it aborts the
//! process rather than let a queue point at freed memory.)
//!
//! ```compile_fail,E0133
//! use core::pin::pin;
//! use concur_core::{RawSemaphore, Waiter};
//!
//! let sem: RawSemaphore = RawSemaphore::new(0);
//! let node = pin!(Waiter::new());
//! // error[E0133]: starting a step needs `unsafe`, so leaking it cannot
//! // happen by accident in safe code.
//! core::mem::forget(sem.start_acquire(node.as_ref(), 1));
//! ```
//!
//! [`ListHarness`] exposes the intrusive wait list itself.

mod acquire;
mod condvar;
mod list;
mod rwlock;

pub use acquire::AcquireStep;
pub use condvar::CondvarStep;
pub use list::ListHarness;
pub use rwlock::{RwLockStep, RwMode};

#[cfg(doc)]
use crate::{park::Park, waiter::Waiter};

/// What one step of a wait did: finished with a result, or still waiting.
#[derive(Debug)]
pub enum Progress<T, S> {
    /// The call returned this.
    Done(T),
    /// The call would sleep; poll the step again once it may have been woken.
    Waiting(S),
}

impl<T, S> Progress<T, S> {
    /// The result, if the call finished.
    pub fn done(self) -> Option<T> {
        match self {
            Self::Done(result) => Some(result),
            Self::Waiting(_) => None,
        }
    }
}
