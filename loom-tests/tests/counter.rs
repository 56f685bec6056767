//! Models of `WaitCounter`: waiting for zero, and interrupted waits.

#![cfg(loom)]

use concur_core::{Interrupted, WaitCounter};
use concur_loom_tests::{shared_node, Tracked};
use loom::sync::Arc;
use loom::thread;

/// The counter under test, with the default (loom) parker.
type Counter = WaitCounter;

/// `add(2)`, two threads each write their own cell and call `done()`, the
/// main thread `wait()`s. The wait returns only at zero, and it sees both
/// writes (each `done` publishes what came before it).
#[test]
fn wait_for_two_done() {
    loom::model(|| {
        let counter = Arc::new(Counter::new());
        let cells = Arc::new([Tracked::new(), Tracked::new()]);
        counter.add(2);

        let workers: Vec<_> = (0..2)
            .map(|i| {
                let (counter, cells) = (counter.clone(), cells.clone());
                thread::spawn(move || {
                    cells[i].bump();
                    counter.done();
                })
            })
            .collect();

        counter.wait();
        assert_eq!(counter.count(), 0);
        assert_eq!((cells[0].get(), cells[1].get()), (1, 1));

        for worker in workers {
            worker.join().unwrap();
        }
    });
}

/// An interruptible waiter is interrupted while the count drops to zero,
/// and a plain waiter waits alongside. The interruptible one returns `Ok`
/// (then the count is zero and the work before `done` is visible) or
/// `Interrupted`; the plain one returns once the count is zero (every thread
/// joins).
#[test]
fn interrupt_races_done() {
    loom::model(|| {
        let counter = Arc::new(Counter::new());
        let data = Arc::new(Tracked::new());
        counter.add(1);

        let node = shared_node();
        let interruptible = {
            let (counter, data, node) = (counter.clone(), data.clone(), node.clone());
            thread::spawn(move || {
                let result = counter.wait_interruptible(node.as_ref());
                if result.is_ok() {
                    assert_eq!(counter.count(), 0);
                    assert_eq!(data.get(), 1);
                }
                result
            })
        };
        let plain = {
            let (counter, data) = (counter.clone(), data.clone());
            thread::spawn(move || {
                counter.wait();
                assert_eq!(data.get(), 1);
            })
        };
        let interrupter = thread::spawn(move || node.interrupt());

        data.bump();
        counter.done();

        interrupter.join().unwrap();
        plain.join().unwrap();
        let result = interruptible.join().unwrap();
        assert!(matches!(result, Ok(()) | Err(Interrupted)));
        assert_eq!(counter.count(), 0);
    });
}

/// The interrupt comes while the count stays above zero: the wait must end
/// with `Interrupted` (it cannot have seen zero), and the counter still
/// works afterwards.
#[test]
fn interrupted_wait_with_work_outstanding() {
    loom::model(|| {
        let counter = Arc::new(Counter::new());
        counter.add(1);

        let node = shared_node();
        let waiter = {
            let (counter, node) = (counter.clone(), node.clone());
            thread::spawn(move || counter.wait_interruptible(node.as_ref()))
        };

        node.interrupt();
        assert_eq!(waiter.join().unwrap(), Err(Interrupted));
        assert_eq!(counter.count(), 1);

        counter.done();
        counter.wait();
        assert_eq!(counter.count(), 0);
    });
}
