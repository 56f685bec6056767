//! `Context`: cancellation and deadlines, propagated down a tree, delivered
//! to every thread blocked with the context.
//!
//! A context is two things, held inline: an optional shared [`Node`] (made
//! by [`Context::with_cancel`]; `None` for [`Context::background`] and
//! what is derived from it by deadline alone) and an optional deadline.
//! Deriving a deadline copies the node pointer and stores the earlier of the
//! two deadlines: it registers nothing, starts nothing and, from
//! `background()`, allocates nothing.
//!
//! # Ending
//!
//! A context ends when its node (or an ancestor's) is cancelled, or when
//! its deadline passes. Cancellation is pushed: it interrupts every wait
//! registered with the node and its descendants (see `node`). A deadline is
//! pulled: [`Context::err`] compares it with the clock, and a blocked call
//! hands it to its core wait, which sleeps in a timed futex wait until it
//! (on Linux, Android and Windows; elsewhere the fallback `timer` thread
//! interrupts the wait). No thread runs for a deadline there.
//!
//! `err()` never changes once it has returned an error: the node records
//! the latest deadline seen passed before it was cancelled, so the first of
//! the two events, cancel or deadline, stays the answer (see `node`'s state
//! word).

mod node;
mod on_cancel;
mod watch;

use std::error::Error as StdError;
use std::fmt;
use std::pin::{pin, Pin};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use concur_core::{WaitCounter, Waiter};

use crate::clock;
use crate::wait::{self, Until};
use crate::Error;
use node::{ended_by, Cause};
pub(crate) use node::{Node, Registration};
pub use on_cancel::OnCancel;
pub use watch::Done;
pub(crate) use watch::Watch;

/// A cancellation scope: pass it to every blocking call that should end
/// when the work it belongs to is abandoned or runs out of time.
///
/// Cheap to clone (at most an `Arc` clone and a copied deadline; three
/// words), `Send + Sync`.
///
/// A call that does not have to wait succeeds even if the context's
/// deadline has passed (a free lock is taken, a free permit granted), so
/// the uncontended path reads no clock; a call that has to wait fails with
/// [`Error::DeadlineExceeded`] once the deadline passes. A cancelled
/// context fails every call at once, waiting or not.
///
/// ```
/// use std::time::Duration;
/// use concur_sync::{Context, Error, Mutex};
///
/// let m = Mutex::new(0);
/// let held = m.lock();
/// let ctx = Context::background().with_timeout(Duration::from_millis(20));
/// // The lock is held: the call waits until the deadline ends it.
/// assert_eq!(m.lock_ctx(&ctx).err(), Some(Error::DeadlineExceeded));
/// drop(held);
/// // Free now: taken, although the deadline has passed.
/// assert!(m.lock_ctx(&ctx).is_ok());
/// ```
#[derive(Clone, Default)]
pub struct Context {
    node: Option<Arc<Node>>,
    deadline: Option<Instant>,
}

/// Cancels its [`Context`] (and every context derived from it) when
/// [`cancel`](CancelHandle::cancel) is called or when it is dropped.
///
/// Like the guard a lock returns, it does its work on drop: keep it for as
/// long as the context should live. `let (ctx, _guard) = ...` keeps it to
/// the end of the scope; `let (ctx, _) = ...` drops it at once, which
/// cancels the context at once (the known pitfall, as with `let _ =
/// m.lock()`).
///
/// ```
/// use concur_sync::{Context, Error};
///
/// let (parent, cancel) = Context::background().with_cancel();
/// let (child, _child_cancel) = parent.with_cancel();
/// let worker = std::thread::spawn(move || child.wait());
/// drop(cancel); // dropping cancels, like `cancel.cancel()`
/// assert_eq!(worker.join().unwrap(), Error::Cancelled);
/// assert_eq!(parent.err(), Some(Error::Cancelled));
///
/// let (ctx, _) = Context::background().with_cancel(); // the pitfall
/// assert_eq!(ctx.err(), Some(Error::Cancelled));
/// ```
#[must_use = "dropping a CancelHandle cancels its context"]
pub struct CancelHandle {
    node: Arc<Node>,
}

impl Context {
    /// The root context: never cancelled, no deadline. Free: no allocation,
    /// no registration, and blocking calls given it cost what the plain calls
    /// cost.
    pub const fn background() -> Self {
        Self {
            node: None,
            deadline: None,
        }
    }

    /// A child that is cancelled when the returned handle is cancelled or
    /// dropped, or when `self` is. It keeps `self`'s deadline.
    ///
    /// Allocates the shared node the handle cancels.
    pub fn with_cancel(&self) -> (Context, CancelHandle) {
        let node = match &self.node {
            None => Arc::new(Node::new()),
            Some(parent) => {
                let child = Arc::new(Node::new());
                match parent.adopt(&child) {
                    Ok(()) => child,
                    // The parent has ended: the child answers as it does.
                    Err(seen) => Arc::new(Node::cancelled(seen, parent.cause())),
                }
            }
        };
        let ctx = Context {
            node: Some(node.clone()),
            deadline: self.deadline,
        };
        (ctx, CancelHandle { node })
    }

    /// A child that also ends with [`Error::DeadlineExceeded`] at `deadline`
    /// (or earlier, if `self` has an earlier deadline). Needs no cleanup:
    /// it ends when `self` ends or the deadline passes, and registers
    /// nothing anywhere. A deadline already past gives a context that is
    /// already done; the child of a context that has already ended reports
    /// that context's error.
    pub fn with_deadline(&self, deadline: Instant) -> Context {
        if self.cancelled_seen().is_some() {
            return self.clone();
        }
        Context {
            node: self.node.clone(),
            deadline: Some(self.deadline.map_or(deadline, |own| own.min(deadline))),
        }
    }

    /// [`with_deadline`](Self::with_deadline) at now + `timeout` (one clock
    /// read). A zero timeout gives a context that is already done; a timeout
    /// too large for `Instant` means no deadline of its own (it never
    /// panics).
    ///
    /// For one call, the per-call forms (`Mutex::try_lock_for`,
    /// `Semaphore::try_acquire_for`, ...) are cheaper still: they read the
    /// clock only if they have to wait. A context's deadline is for a piece
    /// of work that spans several calls or threads.
    pub fn with_timeout(&self, timeout: Duration) -> Context {
        match clock::now().checked_add(timeout) {
            Some(deadline) => self.with_deadline(deadline),
            None => self.clone(),
        }
    }

    /// `None` while the context is live; then why it ended. Once it has
    /// returned an error it returns the same one forever.
    pub fn err(&self) -> Option<Error> {
        if let Some(err) = self.cancelled() {
            return Some(err);
        }
        let deadline = self.deadline?;
        if clock::now() < deadline {
            return None;
        }
        Some(match &self.node {
            Some(node) => node.deadline_passed(clock::nanos(deadline)),
            None => Error::DeadlineExceeded,
        })
    }

    /// Whether the context has ended.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// The deadline, if this context or an ancestor has one (the earliest).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Why the context ended, in more detail than [`err`](Self::err): the
    /// cause given to [`CancelHandle::cancel_with`] if that cancel (of this
    /// context or an ancestor) is what ended it; otherwise the [`Error`]
    /// itself. `None` while the context is live.
    ///
    /// ```
    /// use concur_sync::{Context, Error};
    ///
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let (child, _guard) = ctx.with_cancel();
    /// cancel.cancel_with(std::io::Error::other("client went away"));
    /// assert_eq!(child.err(), Some(Error::Cancelled));
    /// assert_eq!(child.cause().unwrap().to_string(), "client went away");
    /// ```
    pub fn cause(&self) -> Option<Arc<dyn StdError + Send + Sync + 'static>> {
        let err = self.err()?;
        let given = match err {
            Error::Cancelled => self.node.as_ref().and_then(|n| n.cause()),
            _ => None,
        };
        Some(given.unwrap_or_else(|| shared(err)))
    }

    /// Blocks until the context ends and returns why. On
    /// [`background`](Self::background) this blocks forever.
    pub fn wait(&self) -> Error {
        let never = WaitCounter::new();
        never.add(1);
        loop {
            match self.block(|node| never.wait_interruptible(node)) {
                Err(err) => return err,
                Ok(Err(_interrupted)) => {
                    if let Some(err) = self.err() {
                        return err;
                    }
                }
                Ok(Ok(())) => unreachable!("concur-sync: a count that never reaches zero did"),
            }
        }
    }

    /// The error a call fails with before it waits: the cancellation's, if
    /// the node is cancelled. Reads no clock (a passed deadline does not
    /// stop a call that need not wait).
    #[inline]
    pub(crate) fn cancelled(&self) -> Option<Error> {
        Some(self.error_when_cancelled(self.cancelled_seen()?))
    }

    /// This context's error once its node is cancelled with `seen` (see
    /// `node`'s state word).
    #[inline]
    pub(crate) fn error_when_cancelled(&self, seen: u64) -> Error {
        ended_by(self.deadline.map(clock::nanos), seen)
    }

    #[inline]
    fn cancelled_seen(&self) -> Option<u64> {
        self.node.as_ref()?.cancelled_seen()
    }

    /// Runs a blocking core call with a fresh waiter that ends at this
    /// context's deadline and is registered with its node, so cancelling
    /// the context interrupts the call.
    ///
    /// Returns `Err` without calling `call` if the context is already
    /// cancelled; otherwise `Ok` with what `call` returned. A call that
    /// reports an interrupt means the context has ended: read
    /// [`interrupted`](Self::interrupted).
    #[inline]
    pub(crate) fn block<R>(&self, call: impl FnOnce(Pin<&Waiter>) -> R) -> Result<R, Error> {
        wait::with_waiter(self.deadline.map(Until::At), |waiter| {
            let Some(node) = &self.node else {
                return Ok(call(waiter));
            };
            let entry = pin!(Registration::new(&waiter));
            node.register(entry.as_ref())
                .map_err(|seen| self.error_when_cancelled(seen))?;
            /// Unlinks the entry however `call` exits: a panic must not leave
            /// a pointer into this stack frame in the node's list.
            struct Linked<'a>(&'a Node, Pin<&'a Registration>);
            impl Drop for Linked<'_> {
                fn drop(&mut self) {
                    self.0.deregister(self.1);
                }
            }
            let _linked = Linked(node, entry.as_ref());
            Ok(call(waiter))
        })
    }

    /// The shared node; `None` for the background context.
    #[cfg(feature = "step")]
    pub(crate) fn node(&self) -> Option<&Arc<Node>> {
        self.node.as_ref()
    }

    /// The error a call that was interrupted through this context returns:
    /// a wait ends early only when the context is cancelled or its deadline
    /// has passed (the futex deadline is never earlier than the context's).
    #[inline]
    pub(crate) fn interrupted(&self) -> Error {
        self.err().unwrap_or(Error::DeadlineExceeded)
    }
}

/// `err` as a shared error, without allocating after the first time.
fn shared(err: Error) -> Arc<dyn StdError + Send + Sync + 'static> {
    static CANCELLED: OnceLock<Cause> = OnceLock::new();
    static DEADLINE: OnceLock<Cause> = OnceLock::new();
    match err {
        Error::Cancelled => CANCELLED.get_or_init(|| Arc::new(err)).clone(),
        Error::DeadlineExceeded => DEADLINE.get_or_init(|| Arc::new(err)).clone(),
        other => Arc::new(other),
    }
}

impl CancelHandle {
    /// Cancels the context and every context derived from it, waking every
    /// thread blocked with any of them. Idempotent: the first cancel (or
    /// deadline) sticks.
    pub fn cancel(&self) {
        self.end(None);
    }

    /// [`cancel`](Self::cancel), recording `cause` as the reason:
    /// [`Context::cause`] returns it for every context this cancel ends
    /// (Go's `WithCancelCause`). [`Context::err`] still says
    /// [`Error::Cancelled`]. Ignored if the context has already ended.
    pub fn cancel_with(&self, cause: impl StdError + Send + Sync + 'static) {
        if self.node.cancelled_seen().is_none() {
            self.end(Some(Arc::new(cause)));
        }
    }

    fn end(&self, cause: Option<Cause>) {
        if self.node.cancelled_seen().is_none() {
            self.node.cancel(clock::nanos(clock::now()), cause);
        }
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node.is_none() && self.deadline.is_none() {
            return f.write_str("Context::background()");
        }
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.node.cancelled_seen().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests;
