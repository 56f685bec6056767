//! What debug mode records of a future's wait for a lock: the site of the
//! `*_async` call (a future is polled from the executor, so the site of a
//! poll says nothing), its time waiting (reported like a thread's), and
//! the hold it starts.

use std::panic::Location;
use std::task::Poll;

use super::watch::{LockDebug, WaitingGuard};
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
        Self {
            site: Location::caller(),
            waiting: None,
        }
    }

    /// After a poll of the future: a pending one counts as waiting, until
    /// it resolves; one that took the lock starts a hold at the site
    /// (through `acquired`).
    pub(crate) fn polled(
        &mut self,
        debug: &'a LockDebug,
        kind: &'static str,
        polled: &Poll<Result<(), Error>>,
        acquired: impl FnOnce(&'a LockDebug, &'static Location<'static>),
    ) {
        match polled {
            Poll::Pending => {
                if self.waiting.is_none() {
                    self.waiting = Some(debug.waiting(kind, self.site));
                }
            }
            Poll::Ready(result) => {
                self.waiting = None;
                if result.is_ok() {
                    acquired(debug, self.site);
                }
            }
        }
    }
}
