//! Hooks for single-threaded harnesses (feature `step`): the pieces of a
//! blocking call and of the deadline timer, callable one at a time.
//!
//! A fuzzer or model checker drives contexts with these instead of real
//! threads and a real clock: it [`register`]s waiters as blocked calls
//! would, checks which ones a cancellation interrupted, and plays the timer
//! itself with [`fire_deadlines`] on a clock of its own. Give such contexts
//! deadlines far in the future so the real timer thread never reaches them
//! first.
//! See also `concur_core::step`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use concur_core::Waiter;

use crate::context::{Node, Registration};
use crate::{timer, Context, Error};

/// Does, on this thread, what the deadline timer does when its clock reaches
/// `until`: ends every context whose own deadline is at or before `until`
/// (and their descendants) with [`Error::DeadlineExceeded`], earliest
/// deadline first (ties in creation order). Returns how many deadlines
/// fired. A context has a timer entry only if its deadline is earlier than
/// its parent's, and only until it ends.
///
/// ```
/// use std::time::{Duration, Instant};
/// use concur_sync::{step, Context, Error};
///
/// let far = Instant::now() + Duration::from_secs(3600);
/// let (ctx, _cancel) = Context::background().with_deadline(far);
/// let (child, _c) = ctx.with_cancel();
/// assert_eq!(step::fire_deadlines(far - Duration::from_millis(1)), 0);
/// assert_eq!(step::fire_deadlines(far), 1);
/// assert_eq!(child.err(), Some(Error::DeadlineExceeded));
/// ```
pub fn fire_deadlines(until: Instant) -> usize {
    timer::fire_due(until)
}

/// A waiter registered with a context as a blocked call registers it; see
/// [`register`]. Dropping it deregisters.
#[must_use = "dropping a Registered deregisters the waiter"]
pub struct Registered<'a> {
    node: Option<Arc<Node>>,
    entry: Pin<Box<Registration>>,
    _waiter: Pin<&'a Waiter>,
}

/// Registers `waiter` with `ctx` as a blocked call would, so cancelling
/// `ctx` (or an ancestor) interrupts it. Fails with the context's error if
/// it is already done; on [`Context::background`] registers nothing.
///
/// ```
/// use std::pin::pin;
/// use concur_sync::{step, Context, Error};
/// use concur_core::Waiter;
///
/// let (ctx, cancel) = Context::background().with_cancel();
/// let waiter = pin!(Waiter::new());
/// let registered = step::register(&ctx, waiter.as_ref())?;
/// cancel.cancel();
/// assert!(waiter.is_interrupted());
/// drop(registered);
/// assert_eq!(step::register(&ctx, waiter.as_ref()).err(), Some(Error::Cancelled));
/// # Ok::<(), Error>(())
/// ```
pub fn register<'a>(ctx: &Context, waiter: Pin<&'a Waiter>) -> Result<Registered<'a>, Error> {
    let entry = Box::pin(Registration::new(&waiter));
    let node = ctx.node().cloned();
    if let Some(node) = &node {
        node.register(entry.as_ref())?;
    }
    Ok(Registered {
        node,
        entry,
        _waiter: waiter,
    })
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Some(node) = &self.node {
            node.deregister(self.entry.as_ref());
        }
    }
}

impl std::fmt::Debug for Registered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered").finish_non_exhaustive()
    }
}
