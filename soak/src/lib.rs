//! A key-value service written with concur ([`server`]), run by the
//! `server` example (`cargo run --release --example server`) and held
//! under load and faults by the soak harness
//! (`cargo run --release -p concur-soak -- --minutes N`).
//!
//! Not published: it is the project's proof that the primitives hold up in
//! a long-running program, and a worked example of using them together.

pub mod server;
