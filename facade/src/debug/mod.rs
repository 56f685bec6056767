//! Debug mode: locks held too long, and threads waiting too long, reported
//! as `tracing` WARN events while it happens.
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
//! [`ENABLED`] says which build this is. The functions below
//! (`threshold`, `set_threshold`, `scans`, `THRESHOLD_ENV`) exist
//! only in debug builds (they are shown on docs.rs, which documents the
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
//! Every [`Mutex`] and [`RwLock`] records, on first use, a small heap state
//! (so the lock itself may still move): the site of the current holder
//! (through `#[track_caller]`), when it took the lock, and the threads
//! and tasks waiting for it, with their own sites (a task's is the site
//! of its `lock_async`, `read_async` or `write_async` call, which is also
//! the site of the hold it starts). A [`Semaphore`] has no single
//! holder; it records its waiters (reported with `holder=none`). For a
//! read-locked [`RwLock`] the first reader stands for all, and readers that
//! keep overlapping count as one long hold. Holds are not tied to threads: a
//! guard that moves to another thread (guards are `Send` where `T: Sync`)
//! and is dropped there ends the hold it started. Durations are exact to one
//! watchdog tick (a tenth of the threshold, at most 100 ms).
//!
//! One watchdog thread for the process, started by the first debug lock
//! used, publishes a coarse millisecond tick (so locking reads no clock: it
//! copies the tick) and scans the registered locks. A lock held past the
//! threshold produces one event while it is still held:
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
//! # What it costs
//!
//! Each lock and semaphore gains one 16-byte cell (a `Mutex<()>` is 24
//! bytes instead of 4), filled on first use with a heap state that is
//! registered with the watchdog under a global lock. An uncontended lock
//! then stores its site and the current tick (no clock read, no system
//! call); a contended one also registers and deregisters its waiter under
//! that lock's state mutex. One watchdog thread runs for the process.
//!
//! Without the cfg none of this exists: no field, no thread, no timer, and
//! no `tracing` dependency unless the feature asks for it.
//!
//! [`Mutex`]: crate::Mutex
//! [`RwLock`]: crate::RwLock
//! [`Semaphore`]: crate::Semaphore

#[cfg(concur_debug)]
mod site;
#[cfg(concur_debug)]
mod watch;

#[cfg(concur_debug)]
pub(crate) use site::AsyncSite;
#[cfg(concur_debug)]
pub(crate) use watch::LockDebug;
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
