//! The error every blocking call in concur-sync returns.

use std::fmt;

/// Why a blocking operation did not complete.
///
/// Context errors ([`Cancelled`](Error::Cancelled),
/// [`DeadlineExceeded`](Error::DeadlineExceeded)) come from the
/// [`Context`](crate::Context) the call was given; the others from the
/// primitive. A failed call leaves the primitive as it was: no permit, count
/// or waiter is lost.
///
/// ```
/// use concur_sync::{Context, Error};
///
/// let (ctx, cancel) = Context::background().with_cancel();
/// cancel.cancel();
/// assert_eq!(ctx.err(), Some(Error::Cancelled));
/// assert!(Error::Cancelled.is_context());
/// assert_eq!(Error::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The context was cancelled (its handle cancelled or dropped, or an
    /// ancestor's).
    Cancelled,
    /// The context's deadline passed.
    DeadlineExceeded,
    /// The semaphore was closed.
    Closed,
    /// More permits were requested than any semaphore can hold
    /// ([`MAX_PERMITS`](crate::MAX_PERMITS)), so the request could never be
    /// granted. (A request above a semaphore's current capacity waits for
    /// it to grow instead.)
    TooLarge {
        /// Permits requested.
        requested: u64,
        /// Permits in existence when the request was refused.
        capacity: u64,
    },
}

impl Error {
    /// Whether this error came from a context (cancellation or deadline)
    /// rather than from the primitive.
    pub fn is_context(&self) -> bool {
        matches!(self, Error::Cancelled | Error::DeadlineExceeded)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Cancelled => f.write_str("context cancelled"),
            Error::DeadlineExceeded => f.write_str("context deadline exceeded"),
            Error::Closed => f.write_str("semaphore closed"),
            Error::TooLarge {
                requested,
                capacity,
            } => write!(
                f,
                "requested {requested} permits from a semaphore of {capacity}"
            ),
        }
    }
}

impl std::error::Error for Error {}
