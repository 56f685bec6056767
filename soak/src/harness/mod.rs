//! The soak harness: the server under a bounded load, every primitive
//! hammered beside it, faults injected, figures every interval, and the
//! invariants checked at the end.

pub mod args;
pub mod burst;
pub mod faults;
pub mod hammer;
pub mod heap;
pub mod histogram;
pub mod load;
pub mod process;
pub mod rng;
pub mod run;
