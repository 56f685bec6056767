//! Threads the facade starts on first use (the deadline timer, the debug
//! watchdog), and what happens when the OS refuses one.
//!
//! Starting a thread can fail (a process at its thread limit, a sandbox).
//! That is a runtime condition, not a caller bug, and it can happen inside
//! `with_timeout` or the first lock of a debug build, where a panic would
//! be the worst answer. So a refused start is reported as a `tracing` ERROR
//! (a line on standard error without the `tracing` feature)
//! and tried again by the next call that needs the thread; until one
//! succeeds, what the thread would have done waits for it.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// A background thread that is started at most once, successfully.
pub(crate) struct Background {
    /// Set once the thread runs; read without the lock on every call.
    started: AtomicBool,
    /// Serialises attempts, so two callers never start two threads.
    starting: Mutex<()>,
}

impl Background {
    pub(crate) const fn new() -> Self {
        Self {
            started: AtomicBool::new(false),
            starting: Mutex::new(()),
        }
    }

    /// Starts the thread with `spawn` unless it already runs. Returns
    /// whether it runs; a failure is reported (naming `what`) and the next
    /// call tries again.
    pub(crate) fn ensure(&self, what: &str, spawn: impl FnOnce() -> io::Result<()>) -> bool {
        if self.started.load(Ordering::Acquire) {
            return true;
        }
        let one_at_a_time = self.starting.lock().unwrap_or_else(|e| e.into_inner());
        if self.started.load(Ordering::Acquire) {
            return true;
        }
        let error = match spawn() {
            Ok(()) => {
                self.started.store(true, Ordering::Release);
                return true;
            }
            Err(error) => error,
        };
        // Reported after unlocking: a subscriber may itself use a deadline
        // or a debug lock, which would come back here.
        drop(one_at_a_time);
        #[cfg(any(feature = "tracing", concur_debug))]
        tracing::error!(
            %error,
            "concur-sync: cannot start the {what} thread; trying again at its next use"
        );
        #[cfg(not(any(feature = "tracing", concur_debug)))]
        eprintln!(
            "concur-sync: cannot start the {what} thread ({error}); trying again at its next use"
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_start_is_reported_and_retried() {
        let thread = Background::new();
        let refused = || Err(io::Error::new(io::ErrorKind::WouldBlock, "injected"));
        assert!(!thread.ensure("test", refused));
        assert!(
            !thread.ensure("test", refused),
            "a failure is not remembered as a start"
        );
        let mut starts = 0;
        assert!(thread.ensure("test", || {
            starts += 1;
            Ok(())
        }));
        assert!(thread.ensure("test", || unreachable!("started twice")));
        assert_eq!(starts, 1);
    }
}
