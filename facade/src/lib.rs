//! concur-sync: synchronization primitives whose every blocking call takes a
//! [`Context`] and ends with [`Error::Cancelled`] or
//! [`Error::DeadlineExceeded`] when that context ends.
//!
//! | type | what it is |
//! |------|------------|
//! | [`Context`] | cancellation tree with deadlines (Go's `context`) |
//! | [`Mutex`] | one `AtomicU32` plus the data; `lock`, `lock_ctx`, `try_lock`; guards that map ([`MutexGuard::map`]), own an `Arc` (`lock_arc`), and may be dropped on another thread |
//! | [`RwLock`] | writer-preferring; `read`/`write` and their `_ctx` forms, `read_recursive`, [`RwLockWriteGuard::downgrade`], mapped and `Arc` guards |
//! | [`Semaphore`] | weighted, FIFO-fair; RAII [`Permit`] / [`OwnedPermit`] |
//! | [`WaitGroup`] | add / done / wait (and `wait_ctx`) |
//! | [`Once`] | initialize once; a failed initializer lets the next caller try |
//! | [`Pool`] | sharded object pool with a reset hook |
//! | [`Group`] / [`scope`] | bounded fan-out on reused workers; every error collected, panics as [`PanicError`] |
//!
//! The locks and counters are the ones of [`concur_core`] (`no_std`, futex
//! parked); this crate adds contexts and RAII. With
//! [`Context::background`] a `*_ctx` call costs what the plain call costs;
//! with a cancellable context, the uncontended path adds one atomic load and
//! reads no clock, and a blocked call registers a node on its own stack and
//! sleeps in a timed futex wait until the deadline: nothing allocates and no
//! thread runs for it.
//!
//! ```
//! use std::time::Duration;
//! use concur_sync::{Context, Error, Semaphore};
//!
//! let sem = Semaphore::new(1);
//! let _held = sem.acquire(&Context::background(), 1)?;
//! let ctx = Context::background().with_timeout(Duration::from_millis(10));
//! assert_eq!(sem.acquire(&ctx, 1).err(), Some(Error::DeadlineExceeded));
//! # Ok::<(), Error>(())
//! ```
//!
//! # Bounding a wait
//!
//! | form | reads the clock | use it for |
//! |------|-----------------|------------|
//! | `ctx.with_timeout(d)` / `with_deadline(at)` | once, when derived | a piece of work that spans several calls or threads: every call given the context shares its deadline |
//! | `m.try_lock_for(d)`, `sem.try_acquire_for(n, d)`, ... | only if the call has to wait | one call, on its own, like parking_lot's `try_lock_for` |
//! | `ctx.with_cancel()` | never | ending work from outside (shutdown, a client that left) |
//!
//! Deadlines need no cleanup: `with_timeout` and `with_deadline` return just
//! the [`Context`]. Cancellation is `with_cancel`'s, whose [`CancelHandle`]
//! cancels when dropped.
//!
//! # Threads and tasks
//!
//! The blocking calls have async twins on the same types: the future waits
//! in the same queue as the threads, so a thread and a task sharing a
//! semaphore are served in one FIFO order, and it ends the same way when
//! its context ends (a cancel wakes the task; a deadline fires from the one
//! lazily started timer thread, which only async waits with a deadline
//! start on Linux, Android and Windows). The futures are executor-agnostic
//! (no runtime dependency), `Send`, allocate nothing (the waiter node lives
//! inside the future), and are cancel-safe: dropping one gives back what
//! it was granted, to the waiters behind it. A blocking call made from
//! inside an async runtime blocks that worker thread but never panics.
//!
//! | blocking | async twin | future |
//! |----------|------------|--------|
//! | [`Semaphore::acquire`] | [`Semaphore::acquire_async`] | [`future::Acquire`] |
//! | [`Semaphore::acquire_owned`] | [`Semaphore::acquire_owned_async`] | an `async fn`'s |
//! | [`Mutex::lock_ctx`] | [`Mutex::lock_async`] | [`future::Lock`] |
//! | [`RwLock::read_ctx`] | [`RwLock::read_async`] | [`future::Read`] |
//! | [`RwLock::write_ctx`] | [`RwLock::write_async`] | [`future::Write`] |
//! | [`WaitGroup::wait_ctx`] | [`WaitGroup::wait_async`] | [`future::WaitGroupWait`] |
//! | [`Once::get_or_init_ctx`] | [`Once::get_or_init_async`] (an async initializer) | an `async fn`'s |
//! | [`Condvar::wait_ctx`] | [`Condvar::wait_async`] | [`future::CondvarWait`] |
//! | [`Condvar::wait_while_ctx`] | [`Condvar::wait_while_async`] | an `async fn`'s |
//! | [`Barrier::wait_ctx`] | [`Barrier::wait_async`] | [`future::BarrierWait`] |
//! | [`Group::wait`] | [`Group::wait_async`] | an `async fn`'s |
//! | [`Group::go`], [`Group::spawn`] | [`Group::go_async`], [`Group::spawn_async`] (await room in a full group) | an `impl Future` |
//! | [`Context::wait`] | [`Context::done`] | [`future::Done`] |
//!
//! The mutex and the rwlock keep no queue (`Mutex<()>` is one `AtomicU32`):
//! a task that must wait for one links its node into a process-wide table
//! keyed by the lock's address, and a bit in the lock's word tells an
//! unlock to look there. An unlock wakes one waiting task and one
//! sleeping thread, and whichever runs first takes the lock (the mutex
//! barges for threads too); tasks are woken in arrival order among
//! themselves. A program that never awaits a lock never touches the table.
//! The wait group's and the once cell's futures wait in the same table.
//! A condvar's waiting task is in the condvar's own list, beside its
//! threads, and takes the mutex back as a future; the barrier waits on
//! its condvar, and the group waits on its condvars the same way. (A
//! [`scope`]'s tasks borrow the caller's stack, so it has no async form:
//! its wait must not be skipped by dropping a future.)
//!
//! ```
//! use std::sync::Arc;
//! use concur_sync::{Context, Error, Semaphore};
//!
//! let sem = Arc::new(Semaphore::new(1));
//! let ctx = Context::background();
//! let held = sem.acquire(&ctx, 1)?;
//! // A task queues for the permit the thread holds; the thread's release
//! // hands it over.
//! let task = {
//!     let (sem, ctx) = (sem.clone(), ctx.clone());
//!     std::thread::spawn(move || {
//!         futures::executor::block_on(async {
//!             let permit = sem.acquire_async(&ctx, 1).await?;
//!             Ok::<u64, Error>(permit.num_permits())
//!         })
//!     })
//! };
//! while sem.waiters() == 0 {
//!     std::thread::yield_now();
//! }
//! drop(held);
//! assert_eq!(task.join().unwrap()?, 1);
//! # Ok::<(), Error>(())
//! ```
//!
//! # Platforms
//!
//! On Linux and Android a blocked thread sleeps in a timed futex wait
//! (`FUTEX_WAIT_BITSET`, absolute `CLOCK_MONOTONIC`), on Windows in
//! `WaitOnAddress` with a timeout: no thread runs for any deadline. On
//! macOS, iOS and FreeBSD the core's parker has no timed wait yet, and one
//! lazily started timer thread interrupts blocked waits at their deadlines.
//! (Windows and macOS are type-checked in CI, not run.)

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_debug_implementations)]

/// The README's examples, compiled and run as doc tests. (`README.md` in
/// this package is the repository's README; `cargo package` copies it in.)
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod async_wait;
mod background;
mod barrier;
mod clock;
mod condvar;
mod context;
pub mod debug;
mod error;
pub mod group;
mod mutex;
mod once;
mod pool;
mod rwlock;
mod semaphore;
#[cfg(feature = "step")]
#[cfg_attr(docsrs, doc(cfg(feature = "step")))]
pub mod step;
pub mod testing;
mod timer;
mod wait;
mod wait_group;
mod wake;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::Condvar;
pub use context::{CancelHandle, Context, OnCancel};
pub use error::Error;
pub use group::{
    scope, BoxError, ConfigError, Group, GroupBuilder, GroupError, PanicError, Scope, TaskError,
};
pub use mutex::{ArcMutexGuard, MappedMutexGuard, Mutex, MutexGuard};
pub use once::Once;
pub use pool::{Pool, PoolGuard};
pub use rwlock::{
    ArcRwLockReadGuard, ArcRwLockWriteGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock,
    RwLockReadGuard, RwLockWriteGuard,
};
pub use semaphore::{OwnedPermit, Permit, Semaphore, TryAcquireError, MAX_PERMITS};

/// The futures of the async twins, named for code that stores one (most
/// code just `.await`s them): see the crate docs' table of blocking calls
/// and their twins.
pub mod future {
    pub use crate::barrier::BarrierWait;
    pub use crate::condvar::CondvarWait;
    pub use crate::context::Done;
    pub use crate::mutex::Lock;
    pub use crate::rwlock::{Read, Write};
    pub use crate::semaphore::Acquire;
    pub use crate::wait_group::WaitGroupWait;
}
pub use wait_group::{WaitGroup, WaitGroupGuard};

/// Compile-time checks of sizes and thread-safety, next to std's.
mod assertions {
    use super::*;
    use static_assertions::{
        assert_eq_size, assert_impl_all, assert_not_impl_any, const_assert_eq,
    };

    // Production sizes: a mutex is exactly one word. (Debug mode adds one
    // lazily filled cell to the locks, the semaphore and `Once`.)
    #[cfg(not(concur_debug))]
    const_assert_eq!(std::mem::size_of::<Mutex<()>>(), 4);
    // What the debug module's docs say debug mode costs.
    #[cfg(concur_debug)]
    const_assert_eq!(std::mem::size_of::<Mutex<()>>(), 24);
    #[cfg(not(concur_debug))]
    const_assert_eq!(std::mem::size_of::<RwLock<()>>(), 16);
    #[cfg(not(concur_debug))]
    const_assert_eq!(std::mem::size_of::<Semaphore>(), 80);
    const_assert_eq!(std::mem::size_of::<WaitGroup>(), 8);
    #[cfg(not(concur_debug))]
    const_assert_eq!(std::mem::size_of::<Once<()>>(), 4);
    // The waiter count, the list lock, the intrusive list and the mutex it
    // serves.
    const_assert_eq!(std::mem::size_of::<Condvar>(), 40);
    assert_impl_all!(Condvar: Send, Sync, Default);
    // Three words: the node pointer and a deadline held inline.
    assert_eq_size!(Context, [usize; 3]);

    assert_impl_all!(Context: Send, Sync, Clone);
    // The async twins' futures can be spawned on a multi-thread runtime.
    assert_impl_all!(future::Acquire<'static, 'static>: Send);
    assert_impl_all!(future::Lock<'static, 'static, Cell>: Send);
    assert_impl_all!(future::Read<'static, 'static, u8>: Send);
    assert_impl_all!(future::Write<'static, 'static, u8>: Send);
    assert_impl_all!(future::Done<'static>: Send);
    assert_impl_all!(OnCancel: Send, Sync);
    assert_impl_all!(future::WaitGroupWait<'static, 'static>: Send);
    assert_impl_all!(future::CondvarWait<'static, 'static, Cell>: Send);
    assert_impl_all!(future::BarrierWait<'static, 'static>: Send);
    assert_impl_all!(CancelHandle: Send, Sync);
    assert_impl_all!(Error: Send, Sync, std::error::Error, Copy);

    // As std: Mutex<T> is Send + Sync for T: Send; not for !Send T.
    assert_impl_all!(Mutex<std::cell::Cell<u8>>: Send, Sync);
    assert_not_impl_any!(Mutex<std::rc::Rc<u8>>: Send, Sync);

    // Guards, unlike std's, may move between threads (a futex lock is not
    // tied to one), with exactly the bounds their access needs: `&mut T`
    // moves (`T: Send`); `&T` is shared beside other readers (`T: Sync`); a
    // write guard can become a reader (`T: Send + Sync`).
    type Cell = std::cell::Cell<u8>;
    type Rc = std::rc::Rc<u8>;
    /// `Sync` but not `Send`: a guard that hands out `&mut` to it must not
    /// be `Send`, or the value could be swapped out on another thread.
    type SyncOnly = std::sync::MutexGuard<'static, u8>;
    assert_impl_all!(MutexGuard<'static, u8>: Send, Sync);
    assert_impl_all!(MutexGuard<'static, Cell>: Send);
    assert_not_impl_any!(MutexGuard<'static, Cell>: Sync);
    assert_not_impl_any!(MutexGuard<'static, SyncOnly>: Send);
    assert_not_impl_any!(MutexGuard<'static, Rc>: Send, Sync);
    assert_impl_all!(MappedMutexGuard<'static, u8>: Send, Sync);
    assert_not_impl_any!(MappedMutexGuard<'static, Cell>: Sync);
    assert_not_impl_any!(MappedMutexGuard<'static, SyncOnly>: Send);
    assert_impl_all!(ArcMutexGuard<u8>: Send, Sync);
    assert_not_impl_any!(ArcMutexGuard<Cell>: Sync);
    assert_not_impl_any!(ArcMutexGuard<SyncOnly>: Send);

    // As std: RwLock<T> is Sync only for T: Send + Sync.
    assert_impl_all!(RwLock<u8>: Send, Sync);
    assert_impl_all!(RwLock<Cell>: Send);
    assert_not_impl_any!(RwLock<Cell>: Sync);
    assert_impl_all!(RwLockReadGuard<'static, u8>: Send, Sync);
    assert_impl_all!(RwLockReadGuard<'static, SyncOnly>: Send, Sync);
    assert_not_impl_any!(RwLockReadGuard<'static, Cell>: Send, Sync);
    assert_impl_all!(RwLockWriteGuard<'static, u8>: Send, Sync);
    assert_not_impl_any!(RwLockWriteGuard<'static, Cell>: Send, Sync);
    assert_not_impl_any!(RwLockWriteGuard<'static, SyncOnly>: Send);
    assert_impl_all!(MappedRwLockReadGuard<'static, u8>: Send, Sync);
    assert_not_impl_any!(MappedRwLockReadGuard<'static, Cell>: Send, Sync);
    assert_impl_all!(MappedRwLockWriteGuard<'static, u8>: Send, Sync);
    assert_impl_all!(MappedRwLockWriteGuard<'static, Cell>: Send);
    assert_not_impl_any!(MappedRwLockWriteGuard<'static, SyncOnly>: Send);
    assert_impl_all!(ArcRwLockReadGuard<u8>: Send, Sync);
    assert_not_impl_any!(ArcRwLockReadGuard<Cell>: Send, Sync);
    assert_impl_all!(ArcRwLockWriteGuard<u8>: Send, Sync);
    assert_not_impl_any!(ArcRwLockWriteGuard<Cell>: Send, Sync);

    assert_impl_all!(Semaphore: Send, Sync);
    assert_impl_all!(Permit<'static>: Send, Sync);
    assert_impl_all!(OwnedPermit: Send, Sync);
    assert_impl_all!(WaitGroup: Send, Sync);

    // As OnceLock: Sync needs T: Send + Sync.
    assert_impl_all!(Once<u8>: Send, Sync);
    assert_not_impl_any!(Once<std::cell::Cell<u8>>: Sync);
    assert_not_impl_any!(Once<std::rc::Rc<u8>>: Send, Sync);

    assert_impl_all!(Pool<Vec<u8>>: Send, Sync);
    assert_impl_all!(Group: Send, Sync);
    assert_impl_all!(GroupError: Send, Sync, std::error::Error);
    assert_impl_all!(TaskError: Send, Sync, std::error::Error);
    assert_not_impl_any!(Pool<std::rc::Rc<u8>>: Sync);
}
