//! `Context::on_cancel`: the function runs once, where the docs say, and
//! never after its guard stopped it. (Also run under Miri by `.ci/run`.)

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use concur_sync::{testing, Context, Mutex};

const HANG: Duration = Duration::from_secs(30);

/// A function that counts its runs and says on which thread it ran.
fn counted(runs: &Arc<AtomicUsize>) -> (impl FnOnce() + Send + 'static, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let runs = runs.clone();
    let f = move || {
        runs.fetch_add(1, SeqCst);
        let here = thread::current();
        let _ = tx.send(here.name().unwrap_or("unnamed").to_string());
    };
    (f, rx)
}

#[test]
fn a_cancel_runs_it_once_on_the_cancelling_thread_before_cancel_returns() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (ctx, cancel) = Context::background().with_cancel();
    let (f, ran_on) = counted(&runs);
    let guard = ctx.on_cancel(f);
    assert_eq!(runs.load(SeqCst), 0);
    thread::Builder::new()
        .name("canceller".into())
        .spawn(move || {
            cancel.cancel();
            cancel.cancel(); // a second cancel runs nothing
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(runs.load(SeqCst), 1, "ran before cancel() returned");
    assert_eq!(ran_on.recv_timeout(HANG).unwrap(), "canceller");
    assert!(!guard.stop(), "it ran: nothing to stop");
}

#[test]
fn an_ended_context_runs_it_at_once_on_the_caller() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (f, _ran_on) = counted(&runs);
    let guard = ctx.on_cancel(f);
    assert_eq!(runs.load(SeqCst), 1);
    drop(guard);
    // A passed deadline, with no node at all.
    let passed = Context::background().with_timeout(Duration::ZERO);
    let (f, _ran_on) = counted(&runs);
    drop(passed.on_cancel(f));
    assert_eq!(runs.load(SeqCst), 2);
}

#[test]
fn a_deadline_runs_it_on_the_timer_thread() {
    let runs = Arc::new(AtomicUsize::new(0));
    let ctx = Context::background().with_timeout(Duration::from_millis(5));
    let (f, ran_on) = counted(&runs);
    let guard = ctx.on_cancel(f);
    assert_eq!(ran_on.recv_timeout(HANG).unwrap(), "concur-timer");
    assert_eq!(runs.load(SeqCst), 1);
    drop(guard);
    testing::stop_timer();
}

#[test]
fn a_stopped_or_dropped_guard_keeps_it_from_running() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (ctx, cancel) = Context::background().with_cancel();
    let (f, _) = counted(&runs);
    let stopped = ctx.on_cancel(f);
    assert!(stopped.stop());
    assert!(!stopped.stop(), "stopped once");
    let (f, _) = counted(&runs);
    drop(ctx.on_cancel(f));
    cancel.cancel();
    assert_eq!(runs.load(SeqCst), 0);
    drop(stopped);
}

#[test]
fn the_background_context_never_runs_it_and_the_guard_drops_it() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (f, ran_on) = counted(&runs);
    let guard = Context::background().on_cancel(f);
    drop(guard);
    // The function (and its sender) dropped with the guard.
    assert!(ran_on.recv_timeout(HANG).is_err());
    assert_eq!(runs.load(SeqCst), 0);
}

#[test]
fn a_parents_cancel_reaches_a_childs_function() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (parent, cancel) = Context::background().with_cancel();
    let (child, _child_cancel) = parent.with_cancel();
    let child = child.with_timeout(Duration::from_secs(3600));
    let (f, _) = counted(&runs);
    let guard = child.on_cancel(f);
    cancel.cancel();
    assert_eq!(runs.load(SeqCst), 1);
    // The deadline started the timer thread; nothing waits on it now.
    drop(guard);
    testing::stop_timer();
}

#[test]
fn a_panicking_function_does_not_unwind_into_cancel_nor_stop_the_others() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (ctx, cancel) = Context::background().with_cancel();
    let _panics = ctx.on_cancel(|| panic!("a function that panics"));
    let (f, _) = counted(&runs);
    let _counts = ctx.on_cancel(f);
    // A blocked thread on the same context is interrupted too.
    let lock = Arc::new(Mutex::new(()));
    let held = lock.lock();
    let (ctx2, lock2) = (ctx.clone(), lock.clone());
    let (waiting_tx, waiting) = mpsc::channel();
    let blocked = thread::spawn(move || {
        waiting_tx.send(()).unwrap();
        lock2.lock_ctx(&ctx2).map(drop)
    });
    waiting.recv().unwrap();
    cancel.cancel(); // returns normally
    assert_eq!(runs.load(SeqCst), 1);
    assert!(blocked.join().unwrap().is_err());
    drop(held);
}

#[test]
fn many_functions_each_run_exactly_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (ctx, cancel) = Context::background().with_cancel();
    let n = if cfg!(miri) { 20 } else { 10_000 };
    let guards: Vec<_> = (0..n)
        .map(|i| {
            let runs = runs.clone();
            let guard = ctx.on_cancel(move || {
                runs.fetch_add(1, SeqCst);
            });
            // Every other one is stopped first.
            if i % 2 == 1 {
                assert!(guard.stop());
            }
            guard
        })
        .collect();
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| cancel.cancel());
        }
    });
    assert_eq!(runs.load(SeqCst), n / 2);
    drop(guards);
    assert_eq!(runs.load(SeqCst), n / 2);
}
