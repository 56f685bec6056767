//! What a group reports: each failed task as a [`TaskError`] (a returned
//! error, or a panic as a [`PanicError`]), all of them in a [`GroupError`].
//!
//! The errors follow the Rust API guidelines on `Display` and `source`: a
//! [`TaskError`] is transparent (it shows what its task returned and hands
//! on that error's own `source`), and a [`GroupError`] shows a one-line
//! summary and returns the first task error as its `source`, so an
//! `anyhow` (or any) chain reads each message once:
//! `loading the catalogue: 3 of 200 tasks failed: fetching item 7: HTTP 503`.
//! The alternate form (`{:#}`) of a [`GroupError`] lists every kept error
//! with its full chain, one per line.

use std::error::Error as StdError;
use std::fmt;
use std::panic::Location;

use super::BoxError;
use crate::Error;

/// A task that failed: it returned an error or it panicked.
///
/// Transparent: its `Display` and `source` are those of the task's error
/// (or of the [`PanicError`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task returned this error.
    Failed(BoxError),
    /// The task panicked.
    Panicked(PanicError),
}

/// A task's panic, as an error: its message, which task it was, where it
/// was spawned, and the worker thread it ran on.
///
/// Captured without touching the process's panic hook, so the panic's own
/// location is not known here; the hook (the default one prints it) still
/// reports it, and the message and the spawn site say which code to look at.
#[derive(Debug, Clone)]
pub struct PanicError {
    pub(super) message: String,
    pub(super) task: u64,
    pub(super) site: &'static Location<'static>,
    pub(super) thread: Option<String>,
}

impl PanicError {
    /// The panic message (`"<non-string panic payload>"` if it had none).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Which task panicked: its index among the tasks the group accepted,
    /// from 0, in order of acceptance (a refused `try_go` takes no index).
    pub fn task(&self) -> u64 {
        self.task
    }

    /// Where the task was spawned ([`Group::go`](super::Group::go)'s caller).
    pub fn spawn_site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The name of the worker thread the task panicked on.
    pub fn thread(&self) -> Option<&str> {
        self.thread.as_deref()
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {} (spawned at {}) panicked", self.task, self.site)?;
        if let Some(thread) = &self.thread {
            write!(f, " on thread '{thread}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl StdError for PanicError {}

impl TaskError {
    /// Whether the task panicked (rather than returned an error).
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// The error itself: what the task returned, or the [`PanicError`].
    pub fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        match self {
            TaskError::Failed(err) => &**err,
            TaskError::Panicked(panic) => panic,
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_error(), f)
    }
}

impl StdError for TaskError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.as_error().source()
    }
}

/// Everything that went wrong in a group since the last wait, with counts
/// that account for every task accepted in that time: [`succeeded`]
/// \+ [`failures`] + [`cancelled`] + [`unfinished`].
///
/// [`succeeded`]: Self::succeeded
/// [`failures`]: Self::failures
/// [`cancelled`]: Self::cancelled
/// [`unfinished`]: Self::unfinished
///
/// `Display` is one line; `{:#}` adds every kept error with its chain.
#[derive(Debug)]
pub struct GroupError {
    pub(super) errors: Vec<TaskError>,
    pub(super) omitted: usize,
    pub(super) succeeded: usize,
    pub(super) cancelled: usize,
    pub(super) unfinished: usize,
    pub(super) interrupted: Option<Error>,
}

impl GroupError {
    /// The task errors kept in full, in order of completion.
    pub fn errors(&self) -> &[TaskError] {
        &self.errors
    }

    /// The task errors, by value.
    pub fn into_errors(self) -> Vec<TaskError> {
        self.errors
    }

    /// Errors beyond the group's `max_errors`, counted but not kept.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// All task failures, kept and omitted.
    pub fn failures(&self) -> usize {
        self.errors.len() + self.omitted
    }

    /// Tasks that finished without an error.
    pub fn succeeded(&self) -> usize {
        self.succeeded
    }

    /// Tasks that never started because the group's context had ended.
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }

    /// Tasks still queued or running when an interrupted wait returned
    /// (0 unless [`interrupted`](Self::interrupted)); a later wait collects
    /// them.
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// Set if the wait itself ended early because its context ended.
    pub fn interrupted(&self) -> Option<Error> {
        self.interrupted
    }

    /// Every task accepted since the last wait.
    fn accepted(&self) -> usize {
        self.succeeded + self.failures() + self.cancelled + self.unfinished
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first count said is "k of n tasks", the others just "k".
        let mut of = Some(self.accepted());
        let mut count = |f: &mut fmt::Formatter<'_>, k: usize| match of.take() {
            Some(n) => write!(f, "{k} of {n} tasks"),
            None => write!(f, ", {k}"),
        };
        if self.failures() > 0 {
            count(f, self.failures())?;
            f.write_str(" failed")?;
            let panics = self.errors.iter().filter(|e| e.is_panic()).count();
            if panics > 0 {
                write!(f, " ({panics} panicked)")?;
            }
        }
        if self.cancelled > 0 {
            count(f, self.cancelled)?;
            f.write_str(" cancelled before starting")?;
        }
        if let Some(err) = self.interrupted {
            count(f, self.unfinished)?;
            write!(f, " unfinished: the wait ended early ({err})")?;
        }
        if f.alternate() {
            for (i, err) in self.errors.iter().enumerate() {
                write!(f, "\n  {}. {err}", i + 1)?;
                let mut cause = err.source();
                while let Some(next) = cause {
                    write!(f, ": {next}")?;
                    cause = next.source();
                }
            }
            if self.omitted > 0 {
                write!(f, "\n  ... and {} more", self.omitted)?;
            }
        }
        Ok(())
    }
}

impl StdError for GroupError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.errors.first().map(|e| e as &(dyn StdError + 'static))
    }
}
