//! What a group reports: each failed task as a [`TaskError`] (a returned
//! error, or a panic as a [`PanicError`]), all of them in a [`GroupError`].

use std::fmt;
use std::panic::Location;

use super::BoxError;
use crate::Error;

/// A task that failed: it returned an error or it panicked.
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task returned this error.
    Failed(BoxError),
    /// The task panicked.
    Panicked(PanicError),
}

/// A task's panic, as an error: its message, where the task was spawned,
/// and the worker thread it ran on.
#[derive(Debug, Clone)]
pub struct PanicError {
    pub(super) message: String,
    pub(super) site: &'static Location<'static>,
    pub(super) thread: Option<String>,
}

impl PanicError {
    /// The panic message (`"<non-string panic payload>"` if it had none).
    pub fn message(&self) -> &str {
        &self.message
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
        write!(f, "task spawned at {} panicked", self.site)?;
        if let Some(thread) = &self.thread {
            write!(f, " on thread '{thread}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PanicError {}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(err) => fmt::Display::fmt(err, f),
            TaskError::Panicked(panic) => fmt::Display::fmt(panic, f),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Failed(err) => Some(&**err),
            TaskError::Panicked(panic) => Some(panic),
        }
    }
}

impl TaskError {
    /// Whether the task panicked (rather than returned an error).
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }
}

/// Everything that went wrong in a group since the last wait.
#[derive(Debug)]
pub struct GroupError {
    pub(super) errors: Vec<TaskError>,
    pub(super) omitted: usize,
    pub(super) cancelled: usize,
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

    /// Tasks that never started because the group's context had ended.
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }

    /// Set if the wait itself ended early because its context ended (tasks
    /// may still be running; wait again to collect them).
    pub fn interrupted(&self) -> Option<Error> {
        self.interrupted
    }

    /// All task failures, kept and omitted.
    pub fn failures(&self) -> usize {
        self.errors.len() + self.omitted
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let panics = self.errors.iter().filter(|e| e.is_panic()).count();
        write!(f, "{} task(s) failed", self.failures())?;
        if panics > 0 {
            write!(f, " ({panics} panicked)")?;
        }
        if self.cancelled > 0 {
            write!(f, ", {} cancelled before starting", self.cancelled)?;
        }
        if let Some(err) = self.interrupted {
            write!(f, ", wait ended early: {err}")?;
        }
        for (i, err) in self.errors.iter().enumerate() {
            write!(f, "\n  {}. {err}", i + 1)?;
        }
        if self.omitted > 0 {
            write!(f, "\n  ... and {} more", self.omitted)?;
        }
        Ok(())
    }
}

impl std::error::Error for GroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors
            .first()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
