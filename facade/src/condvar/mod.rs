//! `Condvar`: a condition variable for [`Mutex`] whose waits take a
//! [`Context`], over the core's [`RawCondvar`] (intrusive waiters, so a
//! cancel or a deadline ends exactly one wait, and a `notify_all` that wakes
//! the waiters two at a time instead of all at once).

mod task;

pub use task::CondvarWait;

use std::fmt;

use concur_core::RawCondvar;

use crate::mutex::MutexGuard;
use crate::wait;
use crate::{Context, Error};

#[cfg(doc)]
use crate::Mutex;

/// A condition variable for [`Mutex`]: wait until another thread changes
/// the data and notifies.
///
/// The waits hand the guard in and back, like std's `Condvar`. The context
/// forms return the guard *and* the outcome, `(guard, Ok(()))` or
/// `(guard, Err(Cancelled | DeadlineExceeded))`: the lock is held again in
/// both cases, as a waiter usually has to restore an invariant or look at
/// the data once more before it gives up, and a `?` on the outcome then
/// releases it by dropping the guard. (std's `wait_timeout` has the same
/// shape for the same reason.)
///
/// A notification that finds a waiter whose context was cancelled goes to
/// the next waiter: a cancelled waiter never swallows a `notify_one`. (A
/// deadline ends a wait when the sleeping thread's timed wait returns; a
/// notification that comes first is taken.) A waiter woken by a
/// notification returns `Ok` even if its context ended in the meantime.
/// As with every condition variable, a wait may also return for no
/// visible reason: wait in a loop, or with [`wait_while`](Self::wait_while).
///
/// A waiter spins and yields the processor for a few microseconds before
/// it sleeps (the mutex's schedule), so a notification that comes quickly
/// costs neither side a futex sleep and a wake-up; a long wait pays about
/// 4 µs of processor time for it.
///
/// One condvar serves one mutex at a time: waiting with another mutex while
/// others wait panics.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use concur_sync::{Condvar, Context, Error, Mutex};
///
/// let queue = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
/// let producer = {
///     let queue = queue.clone();
///     std::thread::spawn(move || {
///         queue.0.lock().push(7);
///         queue.1.notify_one();
///     })
/// };
/// let (items, ready) = &*queue;
/// let ctx = Context::background().with_timeout(Duration::from_secs(10));
/// let (mut items, outcome) = ready.wait_while_ctx(&ctx, items.lock(), |items| items.is_empty());
/// outcome?;
/// assert_eq!(items.pop(), Some(7));
/// # drop(items);
/// producer.join().unwrap();
/// # Ok::<(), Error>(())
/// ```
#[derive(Default)]
pub struct Condvar {
    raw: RawCondvar,
}

impl Condvar {
    /// A condition variable nobody waits on.
    pub const fn new() -> Self {
        Self {
            raw: RawCondvar::new(),
        }
    }

    /// Releases the lock, waits for a notification, and takes the lock
    /// again.
    #[cfg_attr(concur_debug, track_caller)]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let _ = self.wait_raw(&guard, None);
        guard
    }

    /// Waits while `condition` holds for the data (checked first, with the
    /// lock held); returns with the lock held and `condition` false.
    #[cfg_attr(concur_debug, track_caller)]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// [`wait`](Self::wait) until notified or until `ctx` ends; returns the
    /// guard (the lock held again) and the outcome. A context that has
    /// already ended returns at once, without releasing the lock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur_sync::{Condvar, Context, Error, Mutex};
    ///
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let ctx = Context::background().with_timeout(Duration::from_millis(5));
    /// let (guard, outcome) = cv.wait_ctx(&ctx, m.lock());
    /// assert_eq!(outcome, Err(Error::DeadlineExceeded));
    /// drop(guard); // still held until here
    /// ```
    #[cfg_attr(concur_debug, track_caller)]
    pub fn wait_ctx<'a, T: ?Sized>(
        &self,
        ctx: &Context,
        guard: MutexGuard<'a, T>,
    ) -> (MutexGuard<'a, T>, Result<(), Error>) {
        let outcome = self.wait_raw(&guard, Some(ctx));
        (guard, outcome)
    }

    /// [`wait_while`](Self::wait_while) until `condition` is false or `ctx`
    /// ends; returns the guard and the outcome (`Ok` means `condition` is
    /// false). A condition that is already false succeeds even if `ctx`
    /// has ended.
    #[cfg_attr(concur_debug, track_caller)]
    pub fn wait_while_ctx<'a, T: ?Sized>(
        &self,
        ctx: &Context,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, Result<(), Error>) {
        while condition(&mut *guard) {
            if let Err(err) = self.wait_raw(&guard, Some(ctx)) {
                return (guard, Err(err));
            }
        }
        (guard, Ok(()))
    }

    /// Wakes the longest-waiting waiter; returns whether there was one.
    #[inline]
    pub fn notify_one(&self) -> bool {
        self.raw.notify_one()
    }

    /// Wakes every waiter; returns how many. The first two wake at once and
    /// each later one once the waiter two ahead of it holds the lock, so
    /// the next is awake while one holds the lock, and they do not all run
    /// into it at once.
    #[inline]
    pub fn notify_all(&self) -> usize {
        self.raw.notify_all()
    }

    /// Waits currently queued (a snapshot, for metrics and tests).
    pub fn waiters(&self) -> usize {
        self.raw.waiters()
    }

    /// One wait with the lock `guard` holds: through `ctx`, or plain.
    #[cfg_attr(concur_debug, track_caller)]
    fn wait_raw<T: ?Sized>(
        &self,
        guard: &MutexGuard<'_, T>,
        ctx: Option<&Context>,
    ) -> Result<(), Error> {
        let mutex = guard.mutex;
        #[cfg(concur_debug)]
        let site = std::panic::Location::caller();
        #[cfg(concur_debug)]
        {
            // The hold ends for the wait; the re-lock that ends the wait
            // comes after whatever else this thread holds.
            mutex.debug().released(crate::debug::Mode::Mutex);
            mutex
                .debug()
                .before_wait(crate::debug::Mode::Mutex, site, crate::debug::How::Thread);
        }
        // SAFETY: `guard` holds `mutex.raw()` (locked through it and not
        // released), and `RawCondvar::wait` holds it again on every path
        // out, so the guard stays true.
        let wait =
            |node: std::pin::Pin<&concur_core::Waiter>| unsafe { self.raw.wait(node, mutex.raw()) };
        let outcome = match ctx {
            None => wait::with_waiter(None, wait).map_err(|_| Error::Cancelled),
            Some(ctx) => match ctx.err() {
                // Ended already (cancelled, or its deadline passed): do
                // not release the lock at all.
                Some(err) => Err(err),
                None => match ctx.block(wait) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) => Err(ctx.interrupted()),
                    Err(err) => Err(err),
                },
            },
        };
        #[cfg(concur_debug)]
        mutex
            .debug()
            .acquired(crate::debug::Mode::Mutex, site, crate::debug::How::Thread);
        outcome
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.waiters())
            .finish()
    }
}
