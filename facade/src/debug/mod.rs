//! Debug mode: locks held too long (reported while it happens), lock-order
//! inversions (reported before they can deadlock), recursive reads, and
//! contention statistics per lock site.
//!
//! # Turning it on
//!
//! Debug mode is a cfg, not a cargo feature, so that no dependency can
//! switch it on in your production build:
//!
//! ```sh
//! RUSTFLAGS="--cfg concur_debug" cargo test
//! ```
//!
//! [`ENABLED`] says which build this is. The items below (`stats`,
//! `report`, `graph_size`, `threshold`, `set_threshold`, `scans`, ...)
//! exist only in debug builds (they are shown on docs.rs, which documents the
//! debug build). Code of yours that uses them goes under the same cfg;
//! declare it to cargo so `#[cfg(concur_debug)]` does not warn:
//!
//! ```toml
//! [lints.rust]
//! unexpected_cfgs = { level = "warn", check-cfg = ["cfg(concur_debug)"] }
//! ```
//!
//! The events are `tracing` events whether or not the `tracing` feature is
//! on (debug mode depends on `tracing` by itself); install a subscriber to
//! see them.
//!
//! # What it reports
//!
//! Four things, all as `tracing` events, all named by the
//! `#[track_caller]` sites of your calls (a task's is the site of its
//! `*_async` call: a poll's site says nothing).
//!
//! **Locks held too long, while they are held.** Every [`Mutex`] and
//! [`RwLock`] records, on first use, a small heap state (so the lock itself
//! may still move): the site of the current holder, when it took the lock,
//! and the threads and tasks waiting for it, with their own sites. A
//! [`Semaphore`] has no single holder; it records its waiters (reported
//! with `holder=none`). For a read-locked [`RwLock`] the first reader
//! stands for all, and readers that keep overlapping count as one long
//! hold. A guard that moves to another thread and is dropped there ends
//! the hold it started. One watchdog thread for the process, started by
//! the first debug lock used, publishes a millisecond tick (so locking
//! reads no clock: it copies the tick) and scans the locks every tenth of
//! the threshold (at most every 100 ms). A lock held past the threshold
//! produces one event while it is still held:
//!
//! ```text
//! WARN holder=src/store.rs:42 duration=5.001s waiters=2 mutex held too long
//! WARN waiter=src/api.rs:17 holder=src/store.rs:42 duration=5.000s mutex waiting too long
//! ```
//!
//! and, if it stays stuck, again each time the duration doubles. The
//! threshold is 5 s, or `CONCUR_HOLD_THRESHOLD_MS` (read once, at the first
//! debug lock), or whatever `set_threshold` says.
//!
//! **Lock-order inversions, before they deadlock.** Each thread keeps the
//! stack of debug locks it holds. Acquiring B while holding A puts the
//! edge A → B into a process-wide graph (the first time that thread takes
//! that pair: a thread-local set keeps the graph's lock off the common
//! path). An edge that closes a cycle (A → B and B → A, or longer; found
//! by a search from the new edge only) is one WARN, once per cycle, naming
//! every lock in it (`mutex#7`: its kind and a number for the lock's life)
//! and, for each edge, where the first lock was taken, where the second
//! was, and on which thread:
//!
//! ```text
//! WARN potential deadlock: lock order inversion cycle=mutex#7 -> mutex#6 -> mutex#7 locks=2
//!      edges=mutex#7 held from src/audit.rs:63 then mutex#6 taken at src/audit.rs:64 on thread audit;
//!            mutex#6 held from src/bank.rs:57 then mutex#7 taken at src/bank.rs:60 on thread transfer
//! ```
//!
//! What counts: mutex locks, read and write locks, semaphore permits (a
//! thread holding a permit guard holds that semaphore), a [`Once`]
//! initializer run by `get_or_init`, `get_or_try_init` or
//! `get_or_init_ctx` (the locks it takes come after the cell, and a
//! thread that reaches a cell's initialization holding a lock orders the
//! cell after it), and a [`Group`] (its tasks hold it while they run; its
//! blocking `wait` comes after the locks the waiting thread holds). The
//! async forms of those two (`get_or_init_async`, `wait_async`) are not
//! checked. Edges are added before a wait blocks (a condvar wait's re-lock
//! of its mutex included), so a deadlock that does happen was reported
//! first. `try_*` calls cannot block and add no edge (their holds still
//! order what comes after). Unlocking out of order is fine. A lock that is
//! dropped leaves the graph (`graph_size()`).
//!
//! *What can be wrong.* Rust has no hook that runs when a guard moves, so
//! a hold belongs to the thread that acquired it until it ends. A guard
//! moved to another thread and dropped there is detected (each hold
//! carries a token the lock checks) and starts no edge afterwards, with
//! three exceptions: a read guard or permit dropped on another thread
//! while other readers or permit guards of the same lock stay held; a
//! lock taken exactly a multiple of 2^24 times elsewhere (2^8 read
//! sessions begun in the same millisecond, for a read) before the first
//! thread next acquires something; and a read guard or permit of one
//! thread dropped by another thread that holds one of the same lock
//! itself (that thread's entry is the one that ends). Guards that stay held while they move (an
//! `ArcMutexGuard` handed to a worker, an `OwnedPermit` that travels with
//! a job) do order the original thread's later locks after them: a report
//! naming such a hold may be false.
//!
//! *Futures.* A library cannot tell which task polls, so a future's hold
//! is recorded with the task's waker, and orders only later acquisitions
//! made with a waker that `will_wake` the same task, on the same thread.
//! When reads or permits of one lock held by different tasks (or a task
//! and its thread) share a thread, a release cannot tell whose ended, and
//! drops them all from the thread's record. A report involving a task's
//! hold is therefore real for that task; a task that moves between
//! threads (a work-stealing runtime) is checked only within each thread's
//! stretch of it, and `will_wake` is best-effort (orders can be missed,
//! not invented). A blocking guard held across an `.await` belongs to the
//! thread, as any blocking guard does.
//!
//! **Recursive reads.** A thread that holds a read lock of an [`RwLock`]
//! and read-locks it again (not with
//! [`read_recursive`](crate::RwLock::read_recursive)) gets one WARN per
//! pair of sites, "recursive read can deadlock behind a waiting writer",
//! with `held=` (the first read's site) and `site=` (the second's): a
//! writer that queues between the two waits for the first read, and the
//! second waits for the writer.
//!
//! **Contention statistics per lock site.** `stats()` returns a snapshot
//! (sorted by time spent waiting) of every acquisition site: acquisitions,
//! waits, total and maximum wait and hold, and power-of-two histograms of
//! each (`SiteStats`); `report()` emits it as one INFO event per site.
//! Waits are timed with the clock, only when they block (an uncontended
//! acquisition reads no clock); holds with the watchdog's tick, so their
//! resolution is a millisecond. Each thread counts into a shard of its
//! own; a snapshot adds them up.
//!
//! # What it costs
//!
//! Each lock, semaphore and `Once` gains one 16-byte cell (a `Mutex<()>`
//! is 24 bytes instead of 4), filled on first use with a heap state that
//! is registered with the watchdog under a global lock. An uncontended
//! lock then stores its site and the current tick in that state, pushes
//! an entry on its thread's stack (and pops it, counting the hold in the
//! thread's statistics, on release): no clock read, no system call, and
//! for a mutex or a write lock no atomic read-modify-write beyond the
//! lock's own (a read or a permit guard adds one, to count itself in). A lock taken while the
//! thread holds others also looks its pairs up in a thread-local set, and
//! takes the graph's lock only for a pair the thread has not taken
//! before. A contended one also registers and deregisters its waiter
//! under that lock's state mutex, and reads the clock twice. The
//! `mutex_uncontended` bench prices it: see `BENCHMARKS.md`. One watchdog
//! thread runs for the process, waking every millisecond.
//!
//! Debug mode's bookkeeping allocates (the stacks, the graph, the
//! statistics): a global allocator that itself takes concur locks is not
//! supported in a debug build.
//!
//! Without the cfg none of this exists: no field, no thread, no timer, and
//! no `tracing` dependency unless the feature asks for it.
//!
//! [`Mutex`]: crate::Mutex
//! [`RwLock`]: crate::RwLock
//! [`Semaphore`]: crate::Semaphore
//! [`Once`]: crate::Once
//! [`Group`]: crate::Group

#[cfg(concur_debug)]
mod held;
#[cfg(concur_debug)]
mod order;
#[cfg(concur_debug)]
mod site;
#[cfg(concur_debug)]
mod stack;
#[cfg(concur_debug)]
mod state;
#[cfg(concur_debug)]
mod stats;
#[cfg(concur_debug)]
mod watch;

#[cfg(concur_debug)]
#[cfg_attr(docsrs, doc(cfg(concur_debug)))]
pub use order::{graph_size, GraphSize};
#[cfg(concur_debug)]
pub(crate) use site::AsyncSite;
#[cfg(concur_debug)]
pub(crate) use state::{How, LockDebug, Mode};
#[cfg(concur_debug)]
#[cfg_attr(docsrs, doc(cfg(concur_debug)))]
pub use stats::{report, stats, Histogram, SiteStats, HOLD_BUCKETS, WAIT_BUCKETS};
#[cfg(concur_debug)]
#[cfg_attr(docsrs, doc(cfg(concur_debug)))]
pub use watch::{scans, set_threshold, threshold, THRESHOLD_ENV};

/// Whether this is a debug build (`--cfg concur_debug`).
///
/// ```
/// if concur_sync::debug::ENABLED {
///     println!("locks held too long will be reported");
/// }
/// ```
pub const ENABLED: bool = cfg!(concur_debug);
