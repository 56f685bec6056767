//! `Semaphore`: a weighted FIFO semaphore with RAII permits and
//! context-aware acquisition. The permits are in `permit`.

mod permit;
mod task;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concur_core::{AcquireError, RawSemaphore};

use crate::wait::{self, Until};
use crate::{Context, Error};

pub use concur_core::{TryAcquireError, MAX_PERMITS};
use permit::Blocking;
pub use permit::{OwnedPermit, Permit};
pub use task::Acquire;

/// A weighted counting semaphore: acquire `n` permits, give them back by
/// dropping the [`Permit`].
///
/// FIFO-fair: a request waits behind earlier ones, and newcomers never barge
/// past a queue (a request for zero permits neither). Releases go to the
/// head of the queue first, partially if need be, so a large request at the
/// head is not starved by smaller ones behind it (which wait behind it).
/// The one exception is opt-in: [`new_barging`](Self::new_barging).
///
/// A request for more permits than exist right now waits, like Go's and
/// tokio's, for [`add_permits`](Self::add_permits) or the end of its
/// context, and holds up nobody meanwhile: it waits aside, holding nothing,
/// and when the capacity grows enough it takes its place in the queue by
/// arrival. Only a request above [`MAX_PERMITS`] fails at once, with
/// [`Error::TooLarge`]; [`try_acquire`](Self::try_acquire) above the
/// capacity says [`TryAcquireError::TooLarge`].
///
/// ```
/// use std::sync::Arc;
/// use concur_sync::{Context, Semaphore, TryAcquireError};
///
/// let sem = Arc::new(Semaphore::new(2));
/// let ctx = Context::background();
/// let a = sem.acquire(&ctx, 1)?;
/// let b = sem.try_acquire(1).expect("one left");
/// assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoPermits);
/// drop(a);
/// // An owned permit can move to another thread.
/// let owned = sem.clone().acquire_owned(&ctx, 1)?;
/// std::thread::spawn(move || drop(owned)).join().unwrap();
/// drop(b);
/// assert_eq!(sem.available(), 2);
/// # Ok::<(), concur_sync::Error>(())
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
    #[cfg(concur_debug)]
    debug: crate::debug::LockDebug,
}

/// The facade's error for a failed core acquire; `interrupted` is what an
/// interrupt means for this call.
fn acquire_error(err: AcquireError, interrupted: Error) -> Error {
    match err {
        AcquireError::Closed => Error::Closed,
        AcquireError::TooLarge {
            requested,
            capacity,
        } => Error::TooLarge {
            requested,
            capacity,
        },
        AcquireError::Interrupted => interrupted,
    }
}

impl Semaphore {
    /// A semaphore holding `permits` permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`MAX_PERMITS`] (2^63 - 1).
    pub const fn new(permits: u64) -> Self {
        Self {
            raw: RawSemaphore::new(permits),
            #[cfg(concur_debug)]
            debug: crate::debug::LockDebug::new(),
        }
    }

    /// A semaphore holding `permits` permits that lets a running thread
    /// take free permits past the queue (barging), with bounded bypass.
    ///
    /// A release offers its permits to the head of the queue and wakes it
    /// rather than handing them over; whoever asks first while the head is
    /// waking up takes them, and the head queues again at its place. A head
    /// that loses [`FAIR_AFTER`](concur_core::FAIR_AFTER) (4) offers, or a
    /// large request that already holds part of its permits, gets the next
    /// permits handed to it, so no request waits behind more than that many
    /// lost offers per place in the queue.
    ///
    /// Use it where throughput under oversubscription matters more than
    /// the order of service: with many more threads than cores, the FIFO
    /// hand-off makes every acquire a sleep and a wake-up (a convoy), while
    /// barging lets the running thread go on. On 2 cores with 8 threads
    /// contending for one permit, `semaphore_contended_8` measured the
    /// barging mode several hundred times faster per acquire, at the cost
    /// of a longer longest wait (BENCHMARKS.md has both, in one run).
    ///
    /// ```
    /// use concur_sync::{Context, Semaphore};
    ///
    /// let sem = Semaphore::new_barging(1);
    /// assert!(sem.is_barging());
    /// drop(sem.acquire(&Context::background(), 1)?);
    /// assert_eq!(sem.available(), 1);
    /// # Ok::<(), concur_sync::Error>(())
    /// ```
    ///
    /// # Panics
    /// If `permits` exceeds [`MAX_PERMITS`] (2^63 - 1).
    pub const fn new_barging(permits: u64) -> Self {
        Self {
            raw: RawSemaphore::new_barging(permits),
            #[cfg(concur_debug)]
            debug: crate::debug::LockDebug::new(),
        }
    }

    /// Whether this semaphore lets running threads barge past its queue
    /// ([`new_barging`](Self::new_barging)).
    pub fn is_barging(&self) -> bool {
        self.raw.is_barging()
    }

    /// Acquires `n` permits, waiting in FIFO order until they are granted,
    /// the semaphore is closed, or `ctx` ends.
    ///
    /// A cancelled context fails the call even if permits are free; a
    /// passed deadline fails it only if it has to wait. A failed call holds
    /// nothing: anything it was partly granted while it waited has gone to
    /// the waiters behind it. More than exist now waits for
    /// [`add_permits`](Self::add_permits) (see the [type docs](Self));
    /// more than [`MAX_PERMITS`] is [`Error::TooLarge`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use concur_sync::{Context, Semaphore};
    ///
    /// // A producer adds the permits later; the consumer waits for them.
    /// let sem = Arc::new(Semaphore::new(0));
    /// let consumer = {
    ///     let sem = sem.clone();
    ///     std::thread::spawn(move || sem.acquire(&Context::background(), 2).map(|p| p.leak()))
    /// };
    /// sem.add_permits(2);
    /// assert_eq!(consumer.join().unwrap()?, 2);
    /// # Ok::<(), concur_sync::Error>(())
    /// ```
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn acquire(&self, ctx: &Context, n: u64) -> Result<Permit<'_>, Error> {
        self.acquire_raw(ctx, n)?;
        Ok(self.permit(n, Blocking::Yes))
    }

    /// [`acquire`](Self::acquire) for an `Arc<Semaphore>`, returning a permit
    /// that owns a reference to the semaphore.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn acquire_owned(self: Arc<Self>, ctx: &Context, n: u64) -> Result<OwnedPermit, Error> {
        self.acquire_raw(ctx, n)?;
        Ok(self.owned_permit(n, Blocking::Yes))
    }

    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    fn acquire_raw(&self, ctx: &Context, n: u64) -> Result<(), Error> {
        if let Some(err) = ctx.cancelled() {
            return Err(err);
        }
        match self.try_take(n)? {
            true => Ok(()),
            false => self.acquire_slow(ctx, n),
        }
    }

    /// The fast path: `Ok(true)` if taken, `Ok(false)` if the call must wait.
    #[inline]
    fn try_take(&self, n: u64) -> Result<bool, Error> {
        match self.raw.try_acquire(n) {
            Ok(()) => Ok(true),
            Err(TryAcquireError::Closed) => Err(Error::Closed),
            // Above the capacity (or above MAX_PERMITS, which the core's
            // acquire refuses): the waiting path decides.
            Err(TryAcquireError::NoPermits | TryAcquireError::TooLarge { .. }) => Ok(false),
        }
    }

    #[cold]
    #[cfg_attr(concur_debug, track_caller)]
    fn acquire_slow(&self, ctx: &Context, n: u64) -> Result<(), Error> {
        #[cfg(concur_debug)]
        let _waiting = self.debug.waiting(
            crate::debug::Mode::Permit,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        ctx.block(|node| self.raw.acquire(node, n))?
            .map_err(|e| acquire_error(e, ctx.interrupted()))
    }

    /// Acquires `n` permits, waiting in FIFO order at most `timeout`:
    /// [`Error::DeadlineExceeded`] if they were not granted in time (and
    /// then it holds nothing), [`Error::Closed`] / [`Error::TooLarge`] as
    /// for [`acquire`](Self::acquire). Reads the clock only if it has to
    /// wait; for a deadline shared by several calls, give them a
    /// [`Context::with_timeout`] instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur_sync::{Error, Semaphore};
    ///
    /// let sem = Semaphore::new(1);
    /// let held = sem.try_acquire_for(1, Duration::from_millis(5))?;
    /// let late = sem.try_acquire_for(1, Duration::from_millis(5));
    /// assert_eq!(late.err(), Some(Error::DeadlineExceeded));
    /// drop(held);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_acquire_for(&self, n: u64, timeout: Duration) -> Result<Permit<'_>, Error> {
        self.acquire_until(n, Until::After(timeout))?;
        Ok(self.permit(n, Blocking::Yes))
    }

    /// [`try_acquire_for`](Self::try_acquire_for) with a deadline: waits until
    /// `deadline` at the latest. Free permits are granted even after it.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_acquire_until(&self, n: u64, deadline: Instant) -> Result<Permit<'_>, Error> {
        self.acquire_until(n, Until::At(deadline))?;
        Ok(self.permit(n, Blocking::Yes))
    }

    /// The per-call timeout forms: free permits at once, else a wait until
    /// `until` (the clock is read only then).
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    fn acquire_until(&self, n: u64, until: Until) -> Result<(), Error> {
        match self.try_take(n)? {
            true => Ok(()),
            false => self.acquire_until_cold(n, until),
        }
    }

    #[cold]
    #[cfg_attr(concur_debug, track_caller)]
    fn acquire_until_cold(&self, n: u64, until: Until) -> Result<(), Error> {
        #[cfg(concur_debug)]
        let _waiting = self.debug.waiting(
            crate::debug::Mode::Permit,
            std::panic::Location::caller(),
            crate::debug::How::Thread,
        );
        wait::with_waiter(Some(until), |node| self.raw.acquire(node, n))
            .map_err(|e| acquire_error(e, Error::DeadlineExceeded))
    }

    /// Acquires `n` permits if they are available now and nobody is queued
    /// (zero permits too wait behind a queue); otherwise says why not:
    /// [`NoPermits`](TryAcquireError::NoPermits),
    /// [`Closed`](TryAcquireError::Closed), or
    /// [`TooLarge`](TryAcquireError::TooLarge) above the capacity.
    ///
    /// ```
    /// use concur_sync::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(2);
    /// let held = sem.try_acquire(2)?;
    /// assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoPermits);
    /// assert_eq!(
    ///     sem.try_acquire(3).unwrap_err(),
    ///     TryAcquireError::TooLarge { requested: 3, capacity: 2 }
    /// );
    /// drop(held);
    /// sem.close();
    /// assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::Closed);
    /// # Ok::<(), TryAcquireError>(())
    /// ```
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_acquire(&self, n: u64) -> Result<Permit<'_>, TryAcquireError> {
        self.raw.try_acquire(n)?;
        Ok(self.permit(n, Blocking::No))
    }

    /// [`try_acquire`](Self::try_acquire) for an `Arc<Semaphore>`.
    #[inline]
    #[cfg_attr(concur_debug, track_caller)]
    pub fn try_acquire_owned(self: Arc<Self>, n: u64) -> Result<OwnedPermit, TryAcquireError> {
        self.raw.try_acquire(n)?;
        Ok(self.owned_permit(n, Blocking::No))
    }

    /// Returns `n` permits kept without a guard (see [`Permit::leak`]),
    /// granting waiters first.
    ///
    /// # Panics
    /// If more permits would be available than exist ("released more than
    /// acquired"); nothing changes then.
    pub fn release(&self, n: u64) {
        self.raw.release(n);
    }

    /// Adds `n` new permits, granting waiters first. Requests that were
    /// waiting for more permits than existed and now fit join the queue at
    /// their arrival place.
    ///
    /// # Panics
    /// If the capacity would exceed [`MAX_PERMITS`]; nothing changes then.
    pub fn add_permits(&self, n: u64) {
        self.raw.add_permits(n);
    }

    /// Removes up to `n` available permits from existence; returns how many.
    pub fn forget_permits(&self, n: u64) -> u64 {
        self.raw.forget_permits(n)
    }

    /// Closes the semaphore: every waiter and every later acquire fails with
    /// [`Error::Closed`]. Held permits can still be released. Idempotent.
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }

    /// Permits available now (0 while requests are queued).
    pub fn available(&self) -> u64 {
        self.raw.available()
    }

    /// Permits in existence: available, held, and partly granted.
    pub fn capacity(&self) -> u64 {
        self.raw.capacity()
    }

    /// Acquires waiting right now: queued, or waiting for the capacity to
    /// grow. A snapshot (it may change at once), for metrics and tests.
    ///
    /// ```
    /// use concur_sync::Semaphore;
    ///
    /// assert_eq!(Semaphore::new(1).waiters(), 0);
    /// ```
    pub fn waiters(&self) -> usize {
        self.raw.waiters()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .field("waiters", &self.waiters())
            .finish()
    }
}
