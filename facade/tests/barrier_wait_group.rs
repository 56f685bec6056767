//! `Barrier` rounds and leaders, a wait that gives up and leaves the round
//! consistent, and the `WaitGroup` guards that count down on a panic (the
//! message of a count below zero is checked in `primitives.rs`).

mod common;

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{eventually, within};
use concur_sync::{Barrier, Context, Error, WaitGroup};

const HANG: Duration = Duration::from_secs(60);

#[test]
fn each_round_has_exactly_one_leader() {
    within(HANG, || {
        const THREADS: usize = 4;
        const ROUNDS: usize = 50;
        let barrier = Barrier::new(THREADS);
        let leaders: usize = thread::scope(|s| {
            let threads: Vec<_> = (0..THREADS)
                .map(|_| s.spawn(|| (0..ROUNDS).filter(|_| barrier.wait().is_leader()).count()))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(leaders, ROUNDS);
        assert!(Barrier::new(0).wait().is_leader(), "0 acts as 1");
    });
}

#[test]
fn a_wait_that_gives_up_leaves_the_round_to_the_others() {
    within(HANG, || {
        let barrier = Arc::new(Barrier::new(3));
        let (tx, rx) = mpsc::channel();
        let (ctx, cancel) = Context::background().with_cancel();
        let quitter = {
            let (barrier, tx) = (barrier.clone(), tx.clone());
            thread::spawn(move || {
                tx.send(barrier.wait_ctx(&ctx).map(|r| r.is_leader()))
                    .unwrap()
            })
        };
        let stayer = {
            let (barrier, tx) = (barrier.clone(), tx.clone());
            thread::spawn(move || tx.send(Ok(barrier.wait().is_leader())).unwrap())
        };
        eventually("two arrived", || barrier.arrived() == 2);
        cancel.cancel();
        assert_eq!(rx.recv().unwrap(), Err(Error::Cancelled));
        quitter.join().unwrap();
        assert_eq!(
            barrier.arrived(),
            1,
            "the quitter left; the stayer waits on"
        );
        // Two more complete the round of three: the stayer and the last.
        let late = {
            let (barrier, tx) = (barrier.clone(), tx.clone());
            thread::spawn(move || tx.send(Ok(barrier.wait().is_leader())).unwrap())
        };
        eventually("two arrived again", || barrier.arrived() == 2);
        let leader = barrier.wait().is_leader();
        let others = [rx.recv().unwrap(), rx.recv().unwrap()];
        assert!(leader, "the third arrival completes the round");
        assert_eq!(others, [Ok(false), Ok(false)]);
        stayer.join().unwrap();
        late.join().unwrap();
        assert_eq!(barrier.arrived(), 0);
    });
}

#[test]
fn a_wait_group_guard_counts_down_when_its_task_panics() {
    within(HANG, || {
        let wg = WaitGroup::new();
        thread::scope(|s| {
            let task = wg.enter();
            let t = s.spawn(move || {
                let _task = task;
                panic!("the task failed");
            });
            wg.wait();
            assert!(t.join().is_err());
        });
        assert_eq!(wg.count(), 0);

        let wg = Arc::new(WaitGroup::new());
        let handles: Vec<_> = (0..4)
            .map(|i| {
                wg.go(move || {
                    if i == 2 {
                        panic!("task {i} failed");
                    }
                })
            })
            .collect();
        wg.wait();
        assert_eq!(wg.count(), 0, "the panicking task counted down too");
        let failed = handles.into_iter().map(|h| h.join()).filter(Result::is_err);
        assert_eq!(failed.count(), 1);
    });
}
