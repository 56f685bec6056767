//! What a shutdown did, for the operator and for the soak's checks.

use std::fmt;
use std::time::Duration;

use concur_sync::GroupError;

/// What [`Server::wait`](super::Server::wait) found and did.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// Requests running when shutdown began.
    pub in_flight: u64,
    /// Connections open when shutdown began.
    pub connections: u64,
    /// From shutdown to the last handler's end.
    pub drained_in: Duration,
    /// Whether the drain deadline passed and the rest were cancelled.
    pub hard_stopped: bool,
    /// Whether handlers outlived the hard stop's grace and had their
    /// sockets shut.
    pub killed: bool,
    /// Requests that ended with `Cancelled` at the hard stop.
    pub cancelled_requests: u64,
    /// Accepted connections still queued at shutdown, never started (the
    /// group counted them as cancelled).
    pub skipped_connections: usize,
    /// Handler tasks of the group that failed or panicked.
    pub failed_handlers: usize,
    /// The first few of those errors, as the group kept them.
    pub first_errors: Vec<String>,
    /// Requests served since start.
    pub requests: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Handlers that panicked since start, threads and tasks.
    pub panics: u64,
    /// Whether every connection permit of the task listener came back.
    pub task_permits_back: bool,
}

impl ShutdownReport {
    pub(super) fn add_group_result(&mut self, result: Result<(), GroupError>) {
        let Err(e) = result else { return };
        self.skipped_connections += e.cancelled();
        self.failed_handlers += e.failures();
        for error in e.errors().iter().take(5 - self.first_errors.len().min(5)) {
            self.first_errors.push(error.to_string());
        }
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drained in {:?} ({} requests in flight, {} connections open at shutdown); ",
            self.drained_in, self.in_flight, self.connections
        )?;
        match self.hard_stopped {
            true => write!(
                f,
                "drain deadline passed, {} requests cancelled{}; ",
                self.cancelled_requests,
                if self.killed { ", sockets shut" } else { "" }
            )?,
            false => f.write_str("nothing cancelled; ")?,
        }
        write!(
            f,
            "{} queued connections never started; {} requests on {} connections served; {} handlers panicked, {} group tasks failed",
            self.skipped_connections, self.requests, self.accepted, self.panics, self.failed_handlers
        )?;
        for error in &self.first_errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}
