//! concur: context-aware synchronization primitives.
//!
//! This crate is the `std` facade over [`concur_core`]: contexts with
//! cancellation and deadlines, and the primitives whose blocking calls take
//! one. It is being built on the core; today it re-exports the core so the
//! workspace layout is final.

pub use concur_core as core;
