//! Models of `OnceState`: the initializer runs once, a failed one lets the
//! next caller run it, and interruptible waits for a running initializer.

#![cfg(loom)]

use concur_core::{Begin, Interrupted, OnceState};
use concur_loom_tests::{shared_node, Tracked};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// The state under test, with the default (loom) parker.
type Once = OnceState;

/// Begins and, if this caller is the runner, initializes `data` and
/// completes. Afterwards the initialization is visible either way.
fn initialize(once: &Once, data: &Tracked, runs: &AtomicUsize) {
    match once.begin() {
        Begin::Run(guard) => {
            runs.fetch_add(1, Ordering::Relaxed);
            data.bump();
            guard.complete();
        }
        Begin::Complete => {}
    }
    // Ordered after the runner's write by `complete` (Release) and the
    // waiter's Acquire; loom reports the race otherwise.
    assert_eq!(data.get(), 1);
}

/// Two concurrent initializers: exactly one runs, and both return with the
/// initialization visible.
#[test]
fn two_initializers_run_once() {
    loom::model(|| {
        let once = Arc::new(Once::new());
        let data = Arc::new(Tracked::new());
        let runs = Arc::new(AtomicUsize::new(0));

        let other = {
            let (once, data, runs) = (once.clone(), data.clone(), runs.clone());
            thread::spawn(move || initialize(&once, &data, &runs))
        };
        initialize(&once, &data, &runs);

        other.join().unwrap();
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert!(once.is_complete());
    });
}

/// One caller's initializer fails (drops its guard without completing); the
/// other's succeeds. The succeeding caller always gets to run (a failure
/// never reads as `Complete`, and a failed runner never leaves it stuck
/// behind `RUNNING`), the failing one either failed or found it complete,
/// and the state ends complete.
#[test]
fn failed_initializer_lets_other_run() {
    loom::model(|| {
        let once = Arc::new(Once::new());
        let data = Arc::new(Tracked::new());

        let failing = {
            let (once, data) = (once.clone(), data.clone());
            thread::spawn(move || match once.begin() {
                // The initializer fails.
                Begin::Run(guard) => drop(guard),
                Begin::Complete => assert_eq!(data.get(), 1),
            })
        };

        match once.begin() {
            Begin::Run(guard) => {
                data.bump();
                guard.complete();
            }
            Begin::Complete => panic!("complete although only this thread completes"),
        }

        failing.join().unwrap();
        assert!(once.is_complete());
        assert_eq!(data.get(), 1);
    });
}

/// The main thread runs the initializer and then fails; a second caller
/// waits in `begin_interruptible` and is interrupted meanwhile. It returns
/// `Interrupted`, or `Run` (it takes over, and completes); never `Complete`.
/// Afterwards the state is not stuck: either complete, or a new `begin`
/// runs.
#[test]
fn interrupt_races_failed_runner() {
    loom::model(|| {
        let once = Arc::new(Once::new());
        let data = Arc::new(Tracked::new());
        let Begin::Run(guard) = once.begin() else {
            panic!("a fresh state is not complete")
        };

        let node = shared_node();
        let waiter = {
            let (once, data, node) = (once.clone(), data.clone(), node.clone());
            thread::spawn(move || match once.begin_interruptible(node.as_ref()) {
                Ok(Begin::Run(guard)) => {
                    data.bump();
                    guard.complete();
                    Ok(true)
                }
                Ok(Begin::Complete) => Ok(false),
                Err(Interrupted) => Err(Interrupted),
            })
        };
        let interrupter = thread::spawn(move || node.interrupt());

        drop(guard);

        interrupter.join().unwrap();
        match waiter.join().unwrap() {
            Ok(true) => {
                assert!(once.is_complete());
                assert_eq!(data.get(), 1);
            }
            Ok(false) => panic!("found complete although nobody completed"),
            Err(Interrupted) => {
                assert!(!once.is_complete());
                let Begin::Run(guard) = once.begin() else {
                    panic!("complete although nobody completed")
                };
                guard.complete();
            }
        }
    });
}

/// The main thread runs the initializer and completes it while a second
/// caller, waiting in `begin_interruptible`, is interrupted. It returns
/// `Complete` (with the initialization visible) or `Interrupted`; never
/// `Run`.
#[test]
fn interrupt_races_completing_runner() {
    loom::model(|| {
        let once = Arc::new(Once::new());
        let data = Arc::new(Tracked::new());
        let Begin::Run(guard) = once.begin() else {
            panic!("a fresh state is not complete")
        };

        let node = shared_node();
        let waiter = {
            let (once, data, node) = (once.clone(), data.clone(), node.clone());
            thread::spawn(move || match once.begin_interruptible(node.as_ref()) {
                Ok(Begin::Run(_)) => panic!("ran the initializer twice"),
                Ok(Begin::Complete) => {
                    assert_eq!(data.get(), 1);
                    Ok(())
                }
                Err(Interrupted) => Err(Interrupted),
            })
        };
        let interrupter = thread::spawn(move || node.interrupt());

        data.bump();
        guard.complete();

        interrupter.join().unwrap();
        let _ = waiter.join().unwrap();
        assert!(once.is_complete());
    });
}
