//! Benchmarks of concur against std, parking_lot, tokio, crossbeam,
//! async-lock and rayon. The criterion suite and the report binary land with
//! the benchmarks issue; this crate exists now so the workspace layout is final.
