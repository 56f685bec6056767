//! Waking a batch of futures' wakers that a lock holder collected: every
//! one is woken even if one panics, and the first panic goes on once all
//! are done.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::Waker;

/// Wakes every waker; re-raises the first panic of a waker afterwards.
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    let mut panicked = None;
    for waker in wakers {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            panicked.get_or_insert(panic);
        }
    }
    if let Some(panic) = panicked {
        resume_unwind(panic);
    }
}
