//! [`UntilInterrupted`]: a future that waits for nothing but its own
//! node's interrupt, for a caller that awaits the end of whatever
//! interrupts it (a context, a deadline).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::park::{DefaultPark, Park};

use super::Waiter;

/// Resolves once its node is [interrupted](Waiter::interrupt) (at once if
/// it already is). Give [`node`](Self::node) to whoever may interrupt it.
///
/// ```
/// use core::future::Future;
/// use core::pin::pin;
/// use core::task::{Context, Poll, Waker};
/// use concur_core::UntilInterrupted;
///
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut ended = pin!(UntilInterrupted::<concur_core::DefaultPark>::new());
/// assert!(ended.as_mut().poll(&mut cx).is_pending());
/// ended.as_ref().node().interrupt(); // wakes the task that polled it
/// assert_eq!(ended.as_mut().poll(&mut cx), Poll::Ready(()));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct UntilInterrupted<P: Park = DefaultPark> {
    /// The node is claimed for a task's wait (between the first poll and
    /// the end).
    waiting: bool,
    node: Waiter<P>,
}

impl<P: Park> Default for UntilInterrupted<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Park> UntilInterrupted<P> {
    /// A future over a fresh node.
    pub fn new() -> Self {
        Self {
            waiting: false,
            node: Waiter::new(),
        }
    }

    /// The node to interrupt.
    pub fn node(self: Pin<&Self>) -> Pin<&Waiter<P>> {
        // SAFETY: a field of a pinned struct that we never move out of.
        unsafe { self.map_unchecked(|this| &this.node) }
    }
}

impl<P: Park> Future for UntilInterrupted<P> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of the future.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.waiting {
            if this.node.begin_task().is_err() {
                return Poll::Ready(());
            }
            this.waiting = true;
        }
        if this.node.register(cx.waker()) {
            return Poll::Pending;
        }
        this.node.end_task();
        this.waiting = false;
        Poll::Ready(())
    }
}

impl<P: Park> Drop for UntilInterrupted<P> {
    fn drop(&mut self) {
        if self.waiting {
            self.node.end_task();
        }
    }
}
