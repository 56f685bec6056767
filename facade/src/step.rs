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
///
/// It owns a clone of the waiter, so leaking it (`mem::forget`) leaks the
/// waiter too: the context then keeps interrupting memory that stays alive,
/// instead of memory that was freed.
#[must_use = "dropping a Registered deregisters the waiter"]
pub struct Registered {
    node: Option<Arc<Node>>,
    entry: Pin<Box<Registration>>,
    // After `entry` in drop order, and only dropped once the entry is
    // unlinked (in `Drop::drop`).
    _waiter: Pin<Arc<Waiter>>,
}

/// Registers `waiter` with `ctx` as a blocked call would, so cancelling
/// `ctx` (or an ancestor) interrupts it. Fails with the context's error if
/// it is already done; on [`Context::background`] registers nothing.
///
/// The waiter is shared (`Pin<Arc<_>>`) rather than borrowed so that the
/// registration can own it: a harness may hold many registrations in any
/// order, and one it leaks must not leave the context pointing at a freed
/// waiter.
///
/// ```
/// use std::sync::Arc;
/// use concur_sync::{step, Context, Error};
/// use concur_core::Waiter;
///
/// let (ctx, cancel) = Context::background().with_cancel();
/// let waiter = Arc::pin(Waiter::new());
/// let registered = step::register(&ctx, waiter.clone())?;
/// cancel.cancel();
/// assert!(waiter.is_interrupted());
/// drop(registered);
/// assert_eq!(step::register(&ctx, waiter).err(), Some(Error::Cancelled));
/// # Ok::<(), Error>(())
/// ```
pub fn register(ctx: &Context, waiter: Pin<Arc<Waiter>>) -> Result<Registered, Error> {
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

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(node) = &self.node {
            node.deregister(self.entry.as_ref());
        }
    }
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered").finish_non_exhaustive()
    }
}
