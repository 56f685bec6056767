//! How a future's wait is tied to its context: [`Watch`] registers the
//! future's waiter node with the context's node (so a cancel interrupts
//! it) and with the deadline timer (so the deadline does), and unlinks
//! both when dropped. A blocked thread needs neither the timer nor this:
//! its deadline rides in its futex wait (`Context::block`).
//!
//! The watch and the node live in the same pinned future, so neither can
//! name the other's lifetime: the watch holds raw pointers to the node and
//! must be dropped before it (the future's field order does that). A
//! future leaked with `mem::forget` of its `Box::pin` leaks both together:
//! the context keeps a registration into leaked memory, which stays valid,
//! and a cancel then interrupts a node nobody polls.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use concur_core::{UntilInterrupted, Waiter};

use super::{Context, Node, Registration};
use crate::timer::Scheduled;
use crate::{clock, Error};

/// The links of one future's wait to its context; see the module docs.
#[derive(Default)]
pub(crate) struct Watch {
    /// The context's node and the registration linked into it.
    entry: Option<(Arc<Node>, Registration)>,
    scheduled: Option<Scheduled<'static>>,
    _pinned: PhantomPinned,
}

impl Watch {
    /// Links `waiter` to `ctx`: a cancel of `ctx`, or its deadline,
    /// interrupts it from now until this watch is dropped. `Err` if `ctx`
    /// has ended already (then nothing is linked). Links once: a second
    /// call does nothing.
    ///
    /// # Safety
    /// `waiter` stays alive and pinned until this watch is dropped, or
    /// both are leaked together.
    pub(crate) unsafe fn arm(
        self: Pin<&mut Self>,
        ctx: &Context,
        waiter: Pin<&Waiter>,
    ) -> Result<(), Error> {
        // SAFETY: nothing is moved out; the registration is written in
        // place before it is linked and stays there until `drop` unlinks it.
        let this = unsafe { self.get_unchecked_mut() };
        if this.entry.is_some() || this.scheduled.is_some() {
            return Ok(());
        }
        if let Some(node) = &ctx.node {
            let (node, entry) = this
                .entry
                .insert((node.clone(), Registration::new(waiter.get_ref())));
            // SAFETY: `entry` is inside this pinned watch and is unlinked
            // (in `drop`) before it moves or goes away.
            let entry = unsafe { Pin::new_unchecked(&*entry) };
            if let Err(seen) = node.register(entry) {
                this.entry = None;
                return Err(ctx.error_when_cancelled(seen));
            }
        }
        if let Some(at) = ctx.deadline {
            if clock::now() >= at {
                return Err(ctx.err().unwrap_or(Error::DeadlineExceeded));
            }
            // SAFETY: the caller keeps `waiter` alive and pinned as long
            // as this watch, which drops the entry.
            this.scheduled = Some(unsafe { Scheduled::pinned(at, &*waiter) });
        }
        Ok(())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some((node, entry)) = &self.entry {
            // SAFETY: linked by `arm` from its place in this pinned watch,
            // where it still is.
            node.deregister(unsafe { Pin::new_unchecked(entry) });
        }
    }
}

// SAFETY: the registration's links are only followed under the context
// node's lock, and its waiter pointer is into the same future, whose node
// is `Sync`; the timer entry is only followed under the timer's lock. So
// the watch may move to, and be dropped on, another thread with its future.
unsafe impl Send for Watch {}

impl Context {
    /// A future that resolves when this context ends, to the error its
    /// calls then return ([`Error::Cancelled`] or
    /// [`Error::DeadlineExceeded`]); at once if it has ended. The
    /// background context never ends, so its `done()` never resolves.
    ///
    /// ```
    /// use concur_sync::{Context, Error};
    ///
    /// # futures::executor::block_on(async {
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let waiter = std::thread::spawn(move || cancel.cancel());
    /// assert_eq!(ctx.done().await, Error::Cancelled);
    /// waiter.join().unwrap();
    /// # });
    /// ```
    pub fn done(&self) -> Done<'_> {
        Done {
            watch: Watch::default(),
            inner: UntilInterrupted::new(),
            ctx: self,
            started: false,
        }
    }
}

/// The future of [`Context::done`].
#[must_use = "futures do nothing unless polled"]
pub struct Done<'a> {
    /// Declared before `inner`: unlinked before the node goes.
    watch: Watch,
    inner: UntilInterrupted,
    ctx: &'a Context,
    started: bool,
}

impl Future for Done<'_> {
    type Output = Error;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Error> {
        // SAFETY: nothing is moved out; `watch` and `inner` stay pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if let Some(err) = this.ctx.err() {
            return Poll::Ready(err);
        }
        if !this.started {
            this.started = true;
            // SAFETY: both are fields of this pinned future, and the watch
            // is dropped first (field order).
            let armed = unsafe {
                let node = Pin::new_unchecked(&this.inner).node();
                Pin::new_unchecked(&mut this.watch).arm(this.ctx, node)
            };
            if let Err(err) = armed {
                return Poll::Ready(err);
            }
        }
        // SAFETY: `inner` is pinned with the future.
        ready!(unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx));
        Poll::Ready(this.ctx.interrupted())
    }
}

impl fmt::Debug for Done<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Done")
            .field("context", self.ctx)
            .finish_non_exhaustive()
    }
}
