//! The logic of concur's fuzz targets, one module per target.
//!
//! Each `run(data)` decodes `data` (with `arbitrary`) into a sequence of
//! operations, applies them to concur and to a plain reference model, and
//! panics on the first disagreement. Every input is valid: inputs that run
//! out of bytes just end the sequence. The cargo-fuzz targets in
//! `fuzz/fuzz_targets` call these, and `tests/replay.rs` runs them on stable
//! over the checked-in corpus and pseudo-random inputs.
//!
//! The single-threaded targets drive waits step by step (`concur_core::step`,
//! `concur_sync::step`) and park through [`park::StepPark`], which records wakes
//! instead of sleeping, so they can check that every wait that should end
//! was actually woken.

pub mod condvar;
pub mod context;
pub mod futures;
pub mod group;
pub mod park;
pub mod rwlock;
pub mod semaphore;
pub mod threads;
pub mod waitlist;

/// A target's entry point: runs one input, panics on a failed check.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the directories under `fuzz/corpus`).
pub const TARGETS: [(&str, Target); 9] = [
    ("semaphore", semaphore::run),
    ("semaphore_barging", semaphore::barging::run),
    ("waitlist", waitlist::run),
    ("context", context::run),
    ("rwlock", rwlock::run),
    ("group", group::run),
    ("threads", threads::run),
    ("condvar", condvar::run),
    ("futures", futures::run),
];

/// Decodes the next operation, or `None` when the input is used up
/// (`arbitrary` would otherwise keep producing default values forever).
fn next_op<'a, T: arbitrary::Arbitrary<'a>>(u: &mut arbitrary::Unstructured<'a>) -> Option<T> {
    if u.is_empty() {
        return None;
    }
    T::arbitrary(u).ok()
}
