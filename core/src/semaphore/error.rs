//! Why a semaphore call took nothing.

#[cfg(doc)]
use super::{RawSemaphore, MAX_PERMITS};
#[cfg(doc)]
use crate::waiter::Waiter;

/// Why [`RawSemaphore::try_acquire`] took nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryAcquireError {
    /// Not enough permits are available right now (or others are queued).
    NoPermits,
    /// The semaphore is closed.
    Closed,
    /// More permits were requested than the semaphore has in existence (an
    /// [`acquire`](RawSemaphore::acquire) of as many would wait for
    /// [`add_permits`](RawSemaphore::add_permits)).
    TooLarge {
        /// Permits requested.
        requested: u64,
        /// Permits in existence when the request was refused.
        capacity: u64,
    },
}

/// Why [`RawSemaphore::acquire`] took nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcquireError {
    /// The semaphore is closed, or was closed while the call waited.
    Closed,
    /// More than [`MAX_PERMITS`] were requested: no semaphore can ever
    /// hold that many. (A request above the current capacity waits.)
    TooLarge {
        /// Permits requested.
        requested: u64,
        /// Permits in existence when the request was refused.
        capacity: u64,
    },
    /// The call's [`Waiter`] was interrupted.
    Interrupted,
}

/// The one wording of a refused request, for both errors.
fn too_large(f: &mut core::fmt::Formatter<'_>, requested: u64, capacity: u64) -> core::fmt::Result {
    write!(
        f,
        "requested {requested} permits from a semaphore of {capacity}"
    )
}

impl core::fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::NoPermits => f.write_str("not enough permits available"),
            Self::Closed => f.write_str("semaphore closed"),
            Self::TooLarge {
                requested,
                capacity,
            } => too_large(f, requested, capacity),
        }
    }
}

impl core::fmt::Display for AcquireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::Closed => f.write_str("semaphore closed"),
            Self::TooLarge {
                requested,
                capacity,
            } => too_large(f, requested, capacity),
            Self::Interrupted => f.write_str("wait interrupted"),
        }
    }
}

impl core::error::Error for TryAcquireError {}
impl core::error::Error for AcquireError {}
