//! The semaphore's async twins: [`Semaphore::acquire_async`] and
//! [`Semaphore::acquire_owned_async`], whose futures wait in the same FIFO
//! queue as the blocking [`acquire`](Semaphore::acquire), and end with the
//! same errors when their [`Context`] ends.

use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use concur_core::{AcquireFuture, DefaultPark, Waiter};

use super::{acquire_error, OwnedPermit, Permit, Semaphore};
use crate::context::Watch;
use crate::{Context, Error};

impl Semaphore {
    /// Acquires `n` permits, awaiting them in FIFO order: the async twin of
    /// [`acquire`](Self::acquire), in the same queue, so threads and tasks
    /// are served in one arrival order with the same partial-grant rule.
    /// Ends with [`Error::Cancelled`] / [`Error::DeadlineExceeded`] when
    /// `ctx` ends first (a task needs no thread of its own for that: a
    /// cancel wakes it, and a deadline fires from the one timer thread).
    ///
    /// Dropping the future before it resolves gives back anything it was
    /// granted, to the waiters behind it. The future is `Send`; it
    /// allocates nothing (the waiter node lives inside it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur_sync::{Context, Error, Semaphore};
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(1);
    /// let ctx = Context::background().with_timeout(Duration::from_millis(20));
    /// let held = sem.acquire_async(&ctx, 1).await?;
    /// // The only permit is held: this one waits until the deadline ends it.
    /// assert_eq!(sem.acquire_async(&ctx, 1).await.err(), Some(Error::DeadlineExceeded));
    /// drop(held);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire_async<'a>(&'a self, ctx: &'a Context, n: u64) -> Acquire<'a> {
        Acquire {
            sem: self,
            ctx,
            n,
            started: false,
            has_waiting: false,
            waiting: MaybeUninit::uninit(),
        }
    }

    /// [`acquire_async`](Self::acquire_async) for an `Arc<Semaphore>`,
    /// resolving to a permit that owns a reference to the semaphore (it can
    /// move into another task or thread).
    pub async fn acquire_owned_async(
        self: Arc<Self>,
        ctx: &Context,
        n: u64,
    ) -> Result<OwnedPermit, Error> {
        let permit = self.acquire_async(ctx, n).await?;
        // Handed to the owned permit, which releases them.
        std::mem::forget(permit);
        Ok(OwnedPermit { sem: self, n })
    }
}

/// The future of [`Semaphore::acquire_async`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    ctx: &'a Context,
    n: u64,
    /// Polled at least once.
    started: bool,
    /// `waiting` is initialised (from the first poll that had to wait
    /// until the future is dropped).
    has_waiting: bool,
    /// The wait, made in place only when the fast path fails, so a free
    /// permit costs no node and no watch.
    waiting: MaybeUninit<Waiting<'a>>,
}

/// A future's wait: the node in the semaphore's queue and its links to
/// the context.
struct Waiting<'a> {
    /// Links the node to the context; declared before `inner`, so it is
    /// dropped (and unlinked) before the node is.
    watch: Watch,
    inner: AcquireFuture<'a, DefaultPark>,
}

impl<'a> Acquire<'a> {
    /// The first poll: the fast path, or the wait made in place and
    /// linked. `Some` if the call is over.
    #[inline]
    fn start(&mut self) -> Option<Result<Permit<'a>, Error>> {
        let (sem, n) = (self.sem, self.n);
        if let Some(err) = self.ctx.cancelled() {
            return Some(Err(err));
        }
        // Free permits are taken without making or linking anything.
        match sem.try_take(n) {
            Ok(true) => return Some(Ok(Permit { sem, n })),
            Ok(false) => {}
            Err(err) => return Some(Err(err)),
        }
        let waiting = self.waiting.write(Waiting {
            watch: Watch::default(),
            inner: AcquireFuture::new(&sem.raw, n, Waiter::new()),
        });
        self.has_waiting = true;
        // SAFETY: both live in this pinned future from now until its drop
        // (which drops the watch first), or are leaked together with it.
        let armed = unsafe {
            let node = Pin::new_unchecked(&waiting.inner).node();
            Pin::new_unchecked(&mut waiting.watch).arm(self.ctx, node)
        };
        let err = armed.err()?;
        // Over before it waited: unmake the wait, so that a poll after
        // this `Ready` is caught as one.
        // SAFETY: initialised just above, and dropped once, here.
        unsafe { self.waiting.assume_init_drop() };
        self.has_waiting = false;
        Some(Err(err))
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Permit<'a>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out; the wait stays where it is made
        // (pinned with the future) until the future is dropped.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.started {
            this.started = true;
            if let Some(result) = this.start() {
                return Poll::Ready(result);
            }
        }
        assert!(
            this.has_waiting,
            "concur: semaphore Acquire polled after it completed"
        );
        let (sem, n) = (this.sem, this.n);
        // SAFETY: initialised (`has_waiting`), and pinned with the future.
        let inner = unsafe { Pin::new_unchecked(&mut this.waiting.assume_init_mut().inner) };
        let result = ready!(inner.poll(cx));
        Poll::Ready(
            result
                .map(|()| Permit { sem, n })
                .map_err(|e| acquire_error(e, this.ctx.interrupted())),
        )
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if self.has_waiting {
            // SAFETY: initialised, and dropped once, here, in place.
            unsafe { self.waiting.assume_init_drop() };
        }
    }
}

impl std::fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.n)
            .field("started", &self.started)
            .field("waiting", &self.has_waiting)
            .finish_non_exhaustive()
    }
}
