//! A leaked step driver (feature `step`) cannot lead into freed memory.
//!
//! Starting a step is `unsafe` (its contract: never leak the step), so safe
//! code cannot leak one: the module docs of `concur_core::step` hold a
//! `compile_fail` test of that. If unsafe code breaks the contract anyway,
//! the node is still in use when its frame ends, and the `Waiter`'s drop
//! check aborts the process before any queue or interrupter can reach the
//! dead node. These death tests run that case in a child process (the test
//! binary itself, selected by an environment variable) and check that it
//! aborted with the drop check's message.
#![cfg(all(feature = "step", not(loom)))]

use std::pin::pin;
use std::process::Command;

use concur_core::step::Progress;
use concur_core::{RawRwLock, RawSemaphore, Waiter};

const CHILD: &str = "CONCUR_DEATH_TEST";

/// In the child: runs `case`, which must abort. In the parent: runs this
/// test in a child and checks it did.
fn expect_abort(test: &str, case: impl FnOnce()) {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        case();
        eprintln!("death test: `{test}` did not abort");
        std::process::exit(0);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        const SIGABRT: i32 = 6;
        assert_eq!(
            out.status.signal(),
            Some(SIGABRT),
            "{test}: {:?}\n{stderr}",
            out.status
        );
    }
    #[cfg(not(unix))]
    assert!(!out.status.success(), "{test}: {:?}\n{stderr}", out.status);
    assert!(
        stderr.contains("a Waiter was dropped while a wait was still using it"),
        "{test}: not the drop check's abort:\n{stderr}"
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a death test runs a child process, which Miri cannot spawn"
)]
fn a_leaked_acquire_step_aborts_before_its_node_dies() {
    expect_abort("a_leaked_acquire_step_aborts_before_its_node_dies", || {
        let sem: RawSemaphore = RawSemaphore::new(1);
        sem.try_acquire(1).unwrap();
        let node = pin!(Waiter::new());
        // SAFETY: none: this breaks the contract on purpose (the step is
        // leaked), to show the drop check stops it.
        let progress = unsafe { sem.start_acquire(node.as_ref(), 1) };
        assert!(matches!(progress, Progress::Waiting(_)));
        std::mem::forget(progress);
        // `node` is dropped here, still linked into `sem`'s queue.
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a death test runs a child process, which Miri cannot spawn"
)]
fn a_leaked_write_step_aborts_before_its_node_dies() {
    expect_abort("a_leaked_write_step_aborts_before_its_node_dies", || {
        let lock: RawRwLock = RawRwLock::new();
        lock.read();
        let node = pin!(Waiter::new());
        // SAFETY: none: the step is leaked on purpose, as above.
        let progress = unsafe { lock.start_write(node.as_ref()) };
        assert!(matches!(progress, Progress::Waiting(_)));
        std::mem::forget(progress);
        // `node` is dropped here, its target still the lock's wake word.
    });
}

/// The same drop check does not fire for steps that end properly.
#[test]
fn steps_that_are_dropped_or_finished_leave_their_nodes_free() {
    let sem: RawSemaphore = RawSemaphore::new(1);
    sem.try_acquire(1).unwrap();
    let lock: RawRwLock = RawRwLock::new();
    lock.read();
    {
        let node = pin!(Waiter::new());
        // SAFETY: the step is dropped at the end of this block.
        let step = unsafe { sem.start_acquire(node.as_ref(), 1) };
        assert!(matches!(step, Progress::Waiting(_)));
        let write = pin!(Waiter::new());
        // SAFETY: the step is dropped at the end of this block.
        let step = unsafe { lock.start_write(write.as_ref()) };
        assert!(matches!(step, Progress::Waiting(_)));
    }
    assert_eq!(sem.snapshot().queued, 0);
    // The dropped writer withdrew: readers are admitted again.
    assert!(lock.try_read());
    // SAFETY: two read locks are held by this thread.
    unsafe {
        lock.read_unlock();
        lock.read_unlock();
    }
}
