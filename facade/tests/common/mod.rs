//! Helpers shared by the facade's real-thread tests. They live in this
//! package (not in `core/tests/`) so that the published tarball builds and
//! runs its own tests.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::mpsc;
use std::time::Duration;

/// Runs `body` on another thread and fails the test if it has not finished
/// after `limit`: the limit is generous and only fires on a real hang. A
/// panic in `body` is the test's panic.
pub fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done_tx, done_rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = body();
        let _ = done_tx.send(());
        out
    });
    if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit) {
        panic!("hang: not finished after {limit:?}");
    }
    // Finished, or dropped the sender by panicking: join says which.
    worker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Waits until `cond` holds, for states another thread reaches; fails the
/// test after 60 s (only a real hang gets there).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "hang: never reached: {what}"
        );
        std::thread::yield_now();
    }
}

/// The names of this process's threads (Linux: /proc/self/task/*/comm).
#[cfg(target_os = "linux")]
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

/// xorshift64: deterministic per seed (which must not be 0), good enough to
/// pick operations.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A context for one wait of a stress run: cancellable, with a short
/// deadline 20% of the time, already cancelled 10% of the time. Keep the
/// handle alive for the wait (dropping it cancels).
pub fn random_ctx(rng: &mut Rng) -> (concur_sync::Context, concur_sync::CancelHandle) {
    let (ctx, cancel) = concur_sync::Context::background().with_cancel();
    let ctx = if rng.below(100) < 20 {
        ctx.with_timeout(Duration::from_micros(rng.below(200)))
    } else {
        ctx
    };
    if rng.below(100) < 10 {
        cancel.cancel();
    }
    (ctx, cancel)
}
