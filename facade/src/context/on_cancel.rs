//! [`Context::on_cancel`]: a function run once when a context ends (Go's
//! `context.AfterFunc`), for work that cannot wait on a context itself,
//! such as a thread blocked in a socket read that only a `shutdown` ends.
//!
//! It is a context wait like a future's (a [`Watch`] links a waiter node to
//! the context's node and to the deadline timer), polled once with a waker
//! that runs the function. A cancel wakes it on the cancelling thread,
//! after the node's lock; a deadline, on the timer thread.
//!
//! # The callback's state word
//!
//! | value | meaning |
//! |---|---|
//! | `PENDING` | armed: the next wake runs the function |
//! | `RUNNING` | a wake took the function (it has run or is running) |
//! | `STOPPED` | the guard stopped it first: no wake will run it |

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context as TaskContext, Wake, Waker};

use concur_core::UntilInterrupted;

use super::{Context, Watch};

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const STOPPED: u8 = 2;

type Callback = Box<dyn FnOnce() + Send + 'static>;

/// The function and whether it may still run; the waker of the wait.
struct Call {
    state: AtomicU8,
    f: StdMutex<Option<Callback>>,
}

impl Call {
    /// Runs the function, unless it ran or was stopped. A panic in it is
    /// caught and reported: it must not unwind into a cancelling thread
    /// or the timer thread.
    fn fire(&self) {
        if self
            .state
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let f = self.f.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(f) = f {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                report_panic();
            }
        }
    }
}

fn report_panic() {
    #[cfg(any(feature = "tracing", concur_debug))]
    tracing::error!("concur-sync: a Context::on_cancel function panicked");
    #[cfg(not(any(feature = "tracing", concur_debug)))]
    eprintln!("concur-sync: a Context::on_cancel function panicked");
}

impl Wake for Call {
    fn wake(self: Arc<Self>) {
        self.fire();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.fire();
    }
}

/// The wait, pinned on the heap: the watch first (dropped before the
/// waiter node it links).
struct Armed {
    watch: Watch,
    until: UntilInterrupted,
}

/// The guard of [`Context::on_cancel`]: dropping it (or [`stop`]) keeps the
/// function from running, if it has not started.
///
/// [`stop`]: OnCancel::stop
#[must_use = "dropping the guard deregisters the function at once"]
pub struct OnCancel {
    call: Arc<Call>,
    armed: Option<Pin<Box<Armed>>>,
}

impl OnCancel {
    /// Deregisters the function: `true` if this stopped it (it had not
    /// started, and never will), `false` if it has run, is running, or
    /// was stopped already. Like Go's `stop()`, it does not wait for a
    /// running function to return.
    pub fn stop(&self) -> bool {
        self.call
            .state
            .compare_exchange(PENDING, STOPPED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

impl Drop for OnCancel {
    fn drop(&mut self) {
        self.stop();
        // The watch unlinks the wait from the context and the timer; the
        // function (if it never ran) drops with the last `Arc` of `call`.
        self.armed = None;
    }
}

// SAFETY: the only access through `&OnCancel` is `stop`, which touches
// `call` alone (`Sync`); the armed wait is reached only by `drop`, which
// has the guard to itself. (The wait is not `Sync`: its registration's
// links are followed under the context node's lock, never through `&`.)
unsafe impl Sync for OnCancel {}

impl fmt::Debug for OnCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.call.state.load(Ordering::Acquire) {
            PENDING => "pending",
            RUNNING => "ran",
            _ => "stopped",
        };
        f.debug_struct("OnCancel").field("state", &state).finish()
    }
}

impl Context {
    /// Runs `f` once when this context ends: on the thread that cancels
    /// it (after the cancel has interrupted every wait), on the timer
    /// thread at its deadline, or at once, on this thread, if it has
    /// ended already. The background context never ends, so `f` never
    /// runs. Go's `context.AfterFunc`.
    ///
    /// For a wait that cannot take a context, as a thread blocked in a
    /// socket read: `f` shuts the socket down. Dropping the returned guard
    /// (or [`OnCancel::stop`]) deregisters `f`. Keep `f` short: it runs
    /// inside `cancel()` or on the one timer thread. A panic in `f` is
    /// caught and reported (a `tracing` ERROR with the `tracing` feature,
    /// else a line on standard error).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use concur_sync::Context;
    ///
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let closed = Arc::new(AtomicBool::new(false));
    /// let flag = closed.clone();
    /// let _guard = ctx.on_cancel(move || flag.store(true, Ordering::SeqCst));
    /// assert!(!closed.load(Ordering::SeqCst));
    /// cancel.cancel(); // runs it, on this thread, before returning
    /// assert!(closed.load(Ordering::SeqCst));
    /// ```
    pub fn on_cancel(&self, f: impl FnOnce() + Send + 'static) -> OnCancel {
        let call = Arc::new(Call {
            state: AtomicU8::new(PENDING),
            f: StdMutex::new(Some(Box::new(f))),
        });
        if self.node.is_none() && self.deadline.is_none() {
            // Never ends: nothing to link.
            return OnCancel { call, armed: None };
        }
        let mut armed = Box::pin(Armed {
            watch: Watch::default(),
            until: UntilInterrupted::new(),
        });
        // SAFETY: `until` is pinned in the box with the watch, which drops
        // first (field order) and before the box is freed.
        let linked = unsafe {
            let armed = armed.as_mut().get_unchecked_mut();
            let node = Pin::new_unchecked(&armed.until).node();
            Pin::new_unchecked(&mut armed.watch).arm(self, node)
        };
        if linked.is_err() {
            call.fire();
            return OnCancel { call, armed: None };
        }
        let waker = Waker::from(call.clone());
        // SAFETY: pinned in the box.
        let until = unsafe { armed.as_mut().map_unchecked_mut(|a| &mut a.until) };
        if until.poll(&mut TaskContext::from_waker(&waker)).is_ready() {
            // Ended between the link and the poll.
            call.fire();
        }
        OnCancel {
            call,
            armed: Some(armed),
        }
    }
}
