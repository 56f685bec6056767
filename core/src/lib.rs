//! The `no_std`, allocation-free core of concur: the locks and the semaphore
//! under [`concur-sync`](https://docs.rs/concur-sync).
//!
//! Lock-free fast paths and futex-parked slow paths for:
//!
//! * [`RawSemaphore`], weighted and FIFO-fair, with an intrusive waiter queue;
//! * [`RawMutex`], one `AtomicU32`;
//! * [`RawRwLock`], writer-preferring;
//! * [`WaitCounter`], add / done / wait for zero (under a wait group);
//! * [`OnceState`], run once, retry after a failed initializer.
//!
//! Every blocking operation has an interruptible form that takes a pinned
//! [`Waiter`]. Another thread holding `&Waiter` can call
//! [`Waiter::interrupt`] to end the wait with an error; the core knows
//! nothing of contexts or clocks, the facade (`concur-sync`) builds those on this
//! hook. Nothing is lost to an interrupt: a partly granted waiter gives its
//! permits back, an interrupted waiter that absorbed a wake passes it on.
//!
//! The semaphore, the mutex and the rwlock can also be awaited
//! ([`AcquireFuture`], [`LockFuture`], [`ReadFuture`], [`WriteFuture`]),
//! with no executor dependency: a future's node registers its task's
//! waker instead of sleeping. The semaphore's futures queue with its
//! threads; the one-word locks' futures wait in a process-wide [`table`]
//! keyed by the lock's address, which a lock's release consults only when
//! a bit in its word says futures wait.
//!
//! Threads sleep through the [`Park`] trait ([`park`]): the OS futex by
//! default, an emulation under loom, or anything an embedder supplies.
//! Every atomic goes through one shim so `--cfg loom` checks all of it; the
//! models live in the `concur-loom-tests` crate.
//!
//! The core needs 64-bit atomics (`target_has_atomic = "64"`).
#![no_std]
#![warn(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(loom)]
extern crate std;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod barrier;
pub mod condvar;
pub mod counter;
mod list;
#[cfg(all(feature = "lock_api", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "lock_api")))]
pub mod lock_api;
mod locked;
pub mod mutex;
pub mod once;
pub mod park;
pub mod rwlock;
pub mod semaphore;
mod spin;
#[cfg(feature = "step")]
#[cfg_attr(docsrs, doc(cfg(feature = "step")))]
pub mod step;
mod sync;
pub mod table;
pub mod waiter;

pub use barrier::{BarrierFuture, RawBarrier};
pub use condvar::{CondvarFuture, RawCondvar};
pub use counter::{WaitCounter, WaitFuture, MAX_COUNT};
pub use mutex::{LockFuture, RawMutex};
pub use once::{Begin, BeginFuture, OnceGuard, OnceState};
pub use park::{Clock, ClockSpinPark, DefaultPark, NoDeadline, Park, SpinPark, TimedOut};
pub use rwlock::{RawRwLock, ReadFuture, WriteFuture};
pub use semaphore::{
    AcquireError, AcquireFuture, RawSemaphore, Snapshot, TryAcquireError, FAIR_AFTER, MAX_PERMITS,
};
pub use waiter::{Interrupted, UntilInterrupted, Waiter};

#[cfg(all(feature = "futex", not(loom)))]
pub use park::FutexPark;
#[cfg(all(
    feature = "futex",
    not(loom),
    any(target_os = "linux", target_os = "android", windows)
))]
pub use park::MonotonicDeadline;

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::{assert_impl_all, const_assert_eq};

    const_assert_eq!(core::mem::size_of::<RawMutex>(), 4);
    const_assert_eq!(core::mem::size_of::<RawRwLock>(), 16);
    const_assert_eq!(core::mem::size_of::<WaitCounter>(), 8);
    const_assert_eq!(core::mem::size_of::<OnceState>(), 4);
    assert_impl_all!(RawMutex: Send, Sync);
    assert_impl_all!(RawRwLock: Send, Sync);
    assert_impl_all!(RawSemaphore: Send, Sync);
    assert_impl_all!(WaitCounter: Send, Sync);
    assert_impl_all!(OnceState: Send, Sync);
    assert_impl_all!(Waiter: Send, Sync);
}
