//! The rwlock's waits for futures: [`ReadFuture`] and [`WriteFuture`],
//! which wait in the process-wide [`TaskTable`](crate::table::TaskTable)
//! under the lock's address while threads sleep on its wake words. A
//! writer's key is the address of `state`; a reader's has the low bit set,
//! so a release wakes one writer or every reader of the lock in one walk.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::{
    read_lockable, readers, unlocked, RawRwLock, MAX_READERS, TASKS, WRITER_UNIT, WRITE_LOCKED,
};
use crate::park::Park;
use crate::sync::Ordering;
use crate::table::{TableSide, TableWait};
use crate::waiter::{Interrupted, Waiter};

/// The readers' side of a lock, as a future waits for it.
struct ReadSide<'a, P: Park>(&'a RawRwLock<P>);

/// The writers' side of a lock, as a future waits for it.
struct WriteSide<'a, P: Park>(&'a RawRwLock<P>);

impl<P: Park> RawRwLock<P> {
    /// Takes a read lock as a future: see [`ReadFuture`].
    pub fn read_async(&self) -> ReadFuture<'_, P> {
        ReadFuture::new(self, Waiter::new())
    }

    /// Takes the write lock as a future: see [`WriteFuture`].
    pub fn write_async(&self) -> WriteFuture<'_, P> {
        WriteFuture::new(self, Waiter::new())
    }

    /// Wakes the futures waiting for the lock that may now enter: one
    /// writer, or (with `readers`) every reader.
    #[cold]
    pub(super) fn wake_tasks(&self, readers: bool) {
        let key = self.key() | usize::from(readers);
        crate::table::wake::<P>(key, readers, || self.unmark());
    }

    pub(super) fn key(&self) -> usize {
        &self.state as *const _ as usize
    }

    fn unmark(&self) {
        self.state.fetch_and(!TASKS, Ordering::Relaxed);
    }

    /// Under the bucket lock: moves `state` to what `enter` makes of it,
    /// if it returns some, or marks the held lock for the table.
    fn enter_or_mark(&self, enter: impl Fn(u64) -> Option<u64>) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let (new, took) = match enter(state) {
                Some(new) => (new, true),
                None if state & TASKS != 0 => return false,
                None => (state | TASKS, false),
            };
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return took,
                Err(now) => state = now,
            }
        }
    }
}

/// A reader enters a lock no writer holds or awaits.
fn reader_enters(state: u64) -> Option<u64> {
    // As a thread's read: a count at its limit is a bug, not a wait.
    assert!(
        readers(state) < MAX_READERS,
        "concur-core: RawRwLock read-locked {MAX_READERS} times at once"
    );
    read_lockable(state).then_some(state + 1)
}

/// A waiting (counted) writer enters a free lock and stops being counted.
fn writer_enters(state: u64) -> Option<u64> {
    unlocked(state).then(|| state - WRITER_UNIT + WRITE_LOCKED)
}

impl<P: Park> TableSide<P> for ReadSide<'_, P> {
    fn key(&self) -> usize {
        self.0.key() | 1
    }
    fn try_take(&self) -> bool {
        self.0.try_read()
    }
    fn take_or_mark(&self) -> bool {
        self.0.enter_or_mark(reader_enters)
    }
    fn unmark(&self) {
        self.0.unmark();
    }
    fn give_up(&self, _woken: bool) {
        // Readers are woken all together: a wake this one took was no
        // other reader's, and writers are woken apart.
    }
}

impl<P: Park> TableSide<P> for WriteSide<'_, P> {
    fn key(&self) -> usize {
        self.0.key()
    }
    fn try_take(&self) -> bool {
        self.0.try_write()
    }
    fn begin(&self) {
        self.0.announce_writer();
    }
    fn retake(&self) -> bool {
        let mut state = self.0.state.load(Ordering::Relaxed);
        while let Some(new) = writer_enters(state) {
            match self.0.state.compare_exchange_weak(
                state,
                new,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }
    fn take_or_mark(&self) -> bool {
        self.0.enter_or_mark(writer_enters)
    }
    fn unmark(&self) {
        self.0.unmark();
    }
    fn give_up(&self, _woken: bool) {
        // Withdrawing redoes the waking: a wake we took, and readers our
        // count kept out, are seen to.
        self.0.withdraw_writer();
    }
}

macro_rules! lock_future {
    ($(#[$doc:meta])* $name:ident, $side:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        #[must_use = "futures do nothing unless polled"]
        pub struct $name<'a, P: Park> {
            lock: &'a RawRwLock<P>,
            wait: TableWait<P>,
        }

        impl<'a, P: Park> $name<'a, P> {
            /// A future that takes `lock`, waiting with `node` (made with
            /// [`Waiter::new`]; a deadline in it is not seen by a future's
            /// wait: whoever owns the deadline interrupts the node).
            pub fn new(lock: &'a RawRwLock<P>, node: Waiter<P>) -> Self {
                Self { lock, wait: TableWait::new(node) }
            }

            /// The node the future waits with, to interrupt it.
            pub fn node(self: Pin<&Self>) -> Pin<&Waiter<P>> {
                // SAFETY: a field of a pinned struct, never moved out.
                unsafe { self.map_unchecked(|this| this.wait.node()) }
            }
        }

        impl<P: Park> Future for $name<'_, P> {
            type Output = Result<(), Interrupted>;

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                // SAFETY: nothing is moved out; the wait stays pinned.
                let this = unsafe { self.get_unchecked_mut() };
                // SAFETY: pinned, and polled and dropped with this lock.
                unsafe { this.wait.poll(&$side(this.lock), cx) }
            }
        }

        impl<P: Park> Drop for $name<'_, P> {
            fn drop(&mut self) {
                self.wait.drop_with(&$side(self.lock));
            }
        }
    };
}

lock_future! {
    /// The future of [`RawRwLock::read_async`]: resolves to `Ok(())` once
    /// a read lock is the caller's (release it with
    /// [`RawRwLock::read_unlock`]), or to `Err(Interrupted)` once its
    /// [`node`](Self::node) is interrupted while it waits.
    ///
    /// Writer preference holds for futures as for threads: it waits while a
    /// writer, thread or future, holds or awaits the lock. Dropping it while
    /// it waits is cancel-safe.
    ///
    /// ```
    /// use core::future::Future;
    /// use core::pin::pin;
    /// use core::task::{Context, Poll, Waker};
    /// use concur_core::RawRwLock;
    ///
    /// let l: RawRwLock = RawRwLock::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// l.write();
    /// let mut read = pin!(l.read_async());
    /// assert!(read.as_mut().poll(&mut cx).is_pending());
    /// // SAFETY: write-locked above by this thread.
    /// unsafe { l.write_unlock() }; // wakes the reader's task
    /// assert_eq!(read.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    /// // SAFETY: the future took a read lock for us.
    /// unsafe { l.read_unlock() };
    /// ```
    ReadFuture, ReadSide
}

lock_future! {
    /// The future of [`RawRwLock::write_async`]: resolves to `Ok(())` once
    /// the write lock is the caller's (release it with
    /// [`RawRwLock::write_unlock`]), or to `Err(Interrupted)` once its
    /// [`node`](Self::node) is interrupted while it waits.
    ///
    /// While it waits it counts among the waiting writers, so new readers
    /// (threads and futures) wait behind it. Dropping it while it waits is
    /// cancel-safe: it withdraws, and passes on a wake it took.
    /// Leaking it while it waits leaves it counted, which keeps readers
    /// out for good, as a leaked write guard does.
    ///
    /// ```
    /// use core::future::Future;
    /// use core::pin::pin;
    /// use core::task::{Context, Poll, Waker};
    /// use concur_core::RawRwLock;
    ///
    /// let l: RawRwLock = RawRwLock::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// l.read();
    /// let mut write = pin!(l.write_async());
    /// assert!(write.as_mut().poll(&mut cx).is_pending());
    /// assert!(!l.try_read(), "a waiting writer future stops new readers");
    /// // SAFETY: read-locked above by this thread.
    /// unsafe { l.read_unlock() }; // wakes the writer's task
    /// assert_eq!(write.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    /// // SAFETY: the future took the write lock for us.
    /// unsafe { l.write_unlock() };
    /// ```
    WriteFuture, WriteSide
}
