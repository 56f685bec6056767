//! What debug mode records of a future's wait for a lock: the site of the
//! `*_async` call (a future is polled from the executor, so the site of a
//! poll says nothing), its time waiting (reported like a thread's), and
//! the hold it starts.

use std::panic::Location;
use std::task::{Poll, Waker};

use super::state::{How, LockDebug, Mode, WaitingGuard};
use crate::Error;

/// The debug record of one lock future; see the module docs.
pub(crate) struct AsyncSite<'a> {
    site: &'static Location<'static>,
    waiting: Option<WaitingGuard<'a>>,
}

impl<'a> AsyncSite<'a> {
    /// The site of the caller's caller (the `*_async` call).
    #[track_caller]
    pub(crate) fn here() -> Self {
        Self::at(Location::caller())
    }

    /// The record of a future made for a call at `site`.
    pub(crate) fn at(site: &'static Location<'static>) -> Self {
        Self {
            site,
            waiting: None,
        }
    }

    /// After a poll of the future by the task `waker` wakes: a pending one
    /// counts as waiting, until it resolves; one that took the lock starts
    /// a hold of `mode` at the site, which orders that task's later
    /// acquisitions.
    pub(crate) fn polled(
        &mut self,
        debug: &'a LockDebug,
        mode: Mode,
        waker: &Waker,
        polled: &Poll<Result<(), Error>>,
    ) {
        match polled {
            Poll::Pending => {
                if self.waiting.is_none() {
                    self.waiting = Some(debug.waiting(mode, self.site, How::Task(waker)));
                }
            }
            Poll::Ready(result) => {
                self.waiting = None;
                if result.is_ok() {
                    debug.acquired(mode, self.site, How::Task(waker));
                }
            }
        }
    }
}
