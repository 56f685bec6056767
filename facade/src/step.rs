//! Hooks for single-threaded harnesses (feature `step`): the pieces of a
//! blocking call, and a test clock, callable one at a time.
//!
//! A fuzzer or model checker drives contexts with these instead of real
//! threads and a real clock: it [`register`]s waiters as blocked calls
//! would, checks which ones a cancellation interrupted, and moves the
//! contexts' clock itself with [`set_clock`], so deadlines pass when it
//! says. Blocking calls still sleep on the real clock (the kernel's timed
//! futex knows nothing of the test clock), so a harness that sets the clock
//! does not block.
//! See also `concur_core::step`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use concur_core::Waiter;

use crate::context::{Node, Registration};
use crate::{clock, Context, Error};

/// Makes the contexts' clock (what [`Context::err`] and
/// [`Context::with_timeout`] read) say `now`, process-wide, until
/// [`use_real_clock`]. Instants before the process first read the clock
/// read as that first reading.
///
/// ```
/// use std::time::{Duration, Instant};
/// use concur_sync::{step, Context, Error};
///
/// let t0 = Instant::now() + Duration::from_secs(3600);
/// step::set_clock(t0);
/// let ctx = Context::background().with_timeout(Duration::from_millis(5));
/// assert_eq!(ctx.deadline(), Some(t0 + Duration::from_millis(5)));
/// step::set_clock(t0 + Duration::from_millis(4));
/// assert_eq!(ctx.err(), None);
/// step::set_clock(t0 + Duration::from_millis(5));
/// assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
/// step::use_real_clock();
/// ```
pub fn set_clock(now: Instant) {
    clock::fake::set(Some(now));
}

/// Goes back to the real clock after [`set_clock`].
pub fn use_real_clock() {
    clock::fake::set(None);
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
        node.register(entry.as_ref())
            .map_err(|seen| ctx.error_when_cancelled(seen))?;
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
