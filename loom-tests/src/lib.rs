//! Loom models of the `concur-core` algorithms.
//!
//! This crate owns the model-checking tests of the core: one file per
//! primitive under `tests/` (`semaphore`, `semaphore_resize`,
//! `semaphore_capacity`, `semaphore_barging` and `semaphore_async` (a
//! future's wait, with `loom::future::block_on`), `mutex`, `lock_async`
//! (futures waiting in the task table: mutex, rwlock, wait counter, once),
//! `condvar_async` (a future on the condvar and the barrier), `rwlock_downgrade`,
//! `rwlock`, `counter`, `once`), each exploring every interleaving of a few threads with loom and
//! asserting the invariant it is about (permits conserved, exclusion, FIFO
//! grants, writer preference, nobody left asleep). Under `--cfg loom` every
//! atomic in the core is loom's and the default parker (`LoomPark`) emulates
//! a futex with a loom mutex and condition variable, so a thread left asleep
//! shows up as a loom deadlock, and a missing happens-before edge as a
//! causality violation on a `Tracked` cell.
//!
//! Without `--cfg loom` the tests and this library compile to nothing, so a
//! plain `cargo test --workspace` does not run them. Run them with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p concur-loom-tests --release --target-dir target/loom
//! ```
//!
//! The models are sized for `LOOM_MAX_PREEMPTIONS=2` (the whole suite takes
//! about a minute on two cores), which `.ci/run` uses; `.ci/long` runs them
//! at bound 3. Without a bound the four-thread models run for a very long
//! time. Set `LOOM_LOG=1 LOOM_LOCATION=1` to have loom print
//! the schedule of a failing model.
//!
//! The library itself only holds the helpers the models share.

#[cfg(loom)]
mod helpers;

#[cfg(loom)]
pub use helpers::*;
