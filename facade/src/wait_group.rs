//! `WaitGroup`: wait for a number of tasks to finish.

use std::fmt;

use concur_core::WaitCounter;

use crate::{Context, Error};

/// Counts outstanding tasks; [`wait`](WaitGroup::wait) blocks until the count
/// is zero. Reusable once a wait has returned. 8 bytes.
///
/// ```
/// use concur_sync::WaitGroup;
///
/// let wg = WaitGroup::new();
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         wg.add(1);
///         s.spawn(|| {
///             // ... work ...
///             wg.done();
///         });
///     }
///     wg.wait();
///     assert_eq!(wg.count(), 0);
/// });
/// ```
#[derive(Default)]
pub struct WaitGroup {
    counter: WaitCounter,
}

impl WaitGroup {
    /// A group with a count of zero.
    pub const fn new() -> Self {
        Self {
            counter: WaitCounter::new(),
        }
    }

    /// Adds `n` to the count.
    ///
    /// # Panics
    /// If the count would exceed 2^31 - 1; nothing changes then.
    #[inline]
    pub fn add(&self, n: u32) {
        self.counter.add(n);
    }

    /// Marks one task done, waking the waiters when the count reaches zero.
    ///
    /// # Panics
    /// If the count is already zero (more `done` than `add`); nothing changes
    /// then.
    #[inline]
    pub fn done(&self) {
        self.counter.done();
    }

    /// Blocks until the count is zero.
    #[inline]
    pub fn wait(&self) {
        self.counter.wait();
    }

    /// Blocks until the count is zero or `ctx` ends. A cancelled context
    /// fails the call even if the count is zero; a passed deadline fails it
    /// only if it has to wait.
    #[inline]
    pub fn wait_ctx(&self, ctx: &Context) -> Result<(), Error> {
        if let Some(err) = ctx.cancelled() {
            return Err(err);
        }
        if self.counter.count() == 0 {
            return Ok(());
        }
        ctx.block(|node| self.counter.wait_interruptible(node))?
            .map_err(|_| ctx.interrupted())
    }

    /// The current count (a snapshot).
    pub fn count(&self) -> u32 {
        self.counter.count()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
