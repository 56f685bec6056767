//! `Barrier`: `n` threads meet, and a wait can give up with its context;
//! over the core's [`RawBarrier`] (a mutex, a condvar and a round count).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use concur_core::{BarrierFuture, DefaultPark, RawBarrier, Waiter};

use crate::async_wait::{AsyncWait, Start};
use crate::wait;
use crate::{Context, Error};

/// Makes `n` threads wait for each other, round after round, like std's
/// `Barrier`; [`wait_ctx`](Self::wait_ctx) also gives up when a context ends.
///
/// A wait that gives up leaves the barrier as if it had never arrived: the
/// others of its round keep waiting, and the round completes when `n`
/// threads have arrived and stayed (the one that left may come back, or
/// another thread may take its place). A wait whose round completed before
/// it noticed its context end succeeds. The thread that completes a round
/// is its leader.
///
/// ```
/// use std::time::Duration;
/// use concur_sync::{Barrier, Context, Error};
///
/// let barrier = Barrier::new(3);
/// let leaders = std::thread::scope(|s| {
///     let rounds: Vec<_> = (0..3).map(|_| s.spawn(|| barrier.wait().is_leader())).collect();
///     rounds.into_iter().map(|r| r.join().unwrap()).filter(|&leader| leader).count()
/// });
/// assert_eq!(leaders, 1);
/// // Alone at a barrier of 3, a wait with a deadline gives up:
/// let ctx = Context::background().with_timeout(Duration::from_millis(5));
/// assert_eq!(barrier.wait_ctx(&ctx).err(), Some(Error::DeadlineExceeded));
/// assert_eq!(barrier.arrived(), 0, "it left the round");
/// ```
pub struct Barrier {
    raw: RawBarrier,
}

/// What [`Barrier::wait`] returns: whether this thread was the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this thread completed the round (exactly one per round).
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

impl Barrier {
    /// A barrier for `n` threads (0 acts as 1: every wait returns at once,
    /// as the leader).
    pub const fn new(n: usize) -> Self {
        Self {
            raw: RawBarrier::new(n),
        }
    }

    /// Waits until `n` threads have called `wait` (or `wait_ctx`) in this
    /// round.
    pub fn wait(&self) -> BarrierWaitResult {
        let leader = wait::with_waiter(None, |node| self.raw.wait(node))
            .expect("concur-sync: a plain barrier wait has no interrupter");
        BarrierWaitResult { leader }
    }

    /// [`wait`](Self::wait) until the round completes or `ctx` ends; on
    /// `Err` this thread no longer counts as arrived (see the
    /// [type docs](Self)). A cancelled context fails at once.
    pub fn wait_ctx(&self, ctx: &Context) -> Result<BarrierWaitResult, Error> {
        if let Some(err) = ctx.cancelled() {
            return Err(err);
        }
        match ctx.block(|node| self.raw.wait(node))? {
            Ok(leader) => Ok(BarrierWaitResult { leader }),
            Err(_) => Err(ctx.interrupted()),
        }
    }

    /// Awaits the round: the async twin of [`wait_ctx`](Self::wait_ctx).
    /// Threads and tasks meet in the same rounds. Ends with
    /// [`Error::Cancelled`] / [`Error::DeadlineExceeded`] if `ctx` ends
    /// before the round completes (the task then no longer counts as
    /// arrived); dropping the future while it waits takes its arrival back
    /// the same way. A deadline that has already passed fails the call
    /// before it arrives (the blocking call would still complete a round
    /// it completes at once).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use concur_sync::{Barrier, Context};
    ///
    /// # futures::executor::block_on(async {
    /// let barrier = Arc::new(Barrier::new(2));
    /// let thread = {
    ///     let barrier = barrier.clone();
    ///     std::thread::spawn(move || barrier.wait().is_leader())
    /// };
    /// let task = barrier.wait_async(&Context::background()).await?;
    /// assert!(task.is_leader() != thread.join().unwrap(), "one leader");
    /// # Ok::<(), concur_sync::Error>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn wait_async<'a, 'c>(&'a self, ctx: &'c Context) -> BarrierWait<'a, 'c> {
        BarrierWait {
            barrier: self,
            wait: AsyncWait::new(ctx),
        }
    }

    /// Threads waiting in the current round (a snapshot).
    pub fn arrived(&self) -> usize {
        self.raw.arrived()
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.raw.parties())
            .field("arrived", &self.arrived())
            .finish()
    }
}

/// The future of [`Barrier::wait_async`].
#[must_use = "futures do nothing unless polled"]
pub struct BarrierWait<'a, 'c> {
    barrier: &'a Barrier,
    wait: AsyncWait<'c, BarrierFuture<'a, DefaultPark>>,
}

impl Future for BarrierWait<'_, '_> {
    type Output = Result<BarrierWaitResult, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays pinned in the future.
        let this = unsafe { self.get_unchecked_mut() };
        let raw = &this.barrier.raw;
        // SAFETY: pinned with the future; the same closures every poll.
        unsafe {
            this.wait.poll(
                cx,
                // Arriving takes the barrier's lock: made in place first,
                // so an arrival is always tied to the context.
                || Start::Wait(BarrierFuture::new(raw, Waiter::new())),
                |out, ctx| {
                    out.map(|leader| BarrierWaitResult { leader })
                        .map_err(|_| ctx.interrupted())
                },
            )
        }
    }
}

impl fmt::Debug for BarrierWait<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}
