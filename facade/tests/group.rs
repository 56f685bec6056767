//! Group and scope: limits, thread reuse, error collection, cancellation,
//! scoped borrowing, and the leak guard.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use concur_sync::testing::LeakGuard;
use concur_sync::{BoxError, Context, Error, Group, GroupError, TaskError};

const HANG: Duration = Duration::from_secs(60);

fn ok() -> Result<(), BoxError> {
    Ok(())
}

#[test]
fn limit_zero_is_a_configuration_error() {
    let err = Group::builder().limit(0).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid group configuration: limit must be at least 1"
    );
    assert!(Group::builder().limit(0).scope(|_| ()).is_err());
}

#[test]
fn peak_concurrency_never_exceeds_the_limit() {
    let group = Group::builder().limit(3).build().unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    // Fewer under Miri (slow); still many times the limit.
    for _ in 0..if cfg!(miri) { 30 } else { 300 } {
        let (running, peak) = (running.clone(), peak.clone());
        group.go(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            thread::yield_now();
            running.fetch_sub(1, Ordering::SeqCst);
            ok()
        });
    }
    group.wait(&Context::background()).unwrap();
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&peak),
        "peak concurrency {peak} with limit 3"
    );
    assert!(group.threads_started() <= 3);
}

#[test]
fn ten_thousand_tasks_reuse_two_threads() {
    let group = Group::builder().limit(2).build().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let tasks = if cfg!(miri) { 100 } else { 10_000 };
    for _ in 0..tasks {
        let done = done.clone();
        group.go(move || {
            done.fetch_add(1, Ordering::Relaxed);
            ok()
        });
    }
    group.wait(&Context::background()).unwrap();
    assert_eq!(done.load(Ordering::Relaxed), tasks);
    assert!(
        group.threads_started() <= 2,
        "{} threads started",
        group.threads_started()
    );
}

#[test]
fn try_go_refuses_at_the_limit_and_accepts_after() {
    let group = Group::builder().limit(1).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    assert!(group.try_go(move || Ok(release_rx.recv()?)));
    assert!(!group.try_go(ok), "at the limit");
    release_tx.send(()).unwrap();
    group.wait(&Context::background()).unwrap();
    assert!(group.try_go(ok), "free again");
    group.wait(&Context::background()).unwrap();
}

#[test]
fn every_error_and_panic_is_collected() {
    let group = Group::builder().limit(4).build().unwrap();
    let line = line!() + 2;
    for i in 0..20 {
        group.go(move || match i % 5 {
            0 => Err(format!("error {i}").into()),
            1 if i > 5 => panic!("panic {i}"),
            _ => Ok(()),
        });
    }
    let err = group.wait(&Context::background()).unwrap_err();
    assert_eq!(err.cancelled(), 0, "a panic is never a cancellation");
    assert_eq!(err.omitted(), 0);
    let mut failed: Vec<String> = Vec::new();
    let mut panicked: Vec<String> = Vec::new();
    for e in err.errors() {
        match e {
            TaskError::Failed(e) => failed.push(e.to_string()),
            TaskError::Panicked(p) => {
                assert_eq!(p.spawn_site().line(), line, "spawn site is the go call");
                assert!(p.spawn_site().file().ends_with("group.rs"));
                assert!(p.thread().unwrap().starts_with("concur-group-"));
                panicked.push(p.message().to_string());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    failed.sort();
    panicked.sort();
    assert_eq!(failed, ["error 0", "error 10", "error 15", "error 5"]);
    assert_eq!(panicked, ["panic 11", "panic 16", "panic 6"]);
    let shown = err.to_string();
    assert!(shown == "7 of 20 tasks failed (3 panicked)", "{shown}");
    assert!(std::error::Error::source(&err).is_some());
    // The errors were taken: the next wait is clean.
    group.wait(&Context::background()).unwrap();
}

#[test]
fn errors_beyond_the_bound_are_counted() {
    let group = Group::builder().limit(2).max_errors(3).build().unwrap();
    for i in 0..10 {
        group.go(move || Err(format!("e{i}").into()));
    }
    let err = group.wait(&Context::background()).unwrap_err();
    assert_eq!(
        (err.errors().len(), err.omitted(), err.failures()),
        (3, 7, 10)
    );
    assert_eq!(err.to_string(), "10 of 10 tasks failed");
    assert!(
        format!("{err:#}").ends_with("\n  ... and 7 more"),
        "{err:#}"
    );
}

#[test]
fn cancelled_tasks_are_counted_exactly_and_never_start() {
    let (ctx, cancel) = Context::background().with_cancel();
    let group = Arc::new(Group::builder().limit(1).context(&ctx).build().unwrap());
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    group.go(move || {
        started_tx.send(()).unwrap();
        Ok(release_rx.recv()?)
    });
    started_rx.recv_timeout(HANG).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    // Five more, blocked in `go` at the limit (or arriving after the cancel).
    let feeder = {
        let (group, ran) = (group.clone(), ran.clone());
        thread::spawn(move || {
            for _ in 0..5 {
                let ran = ran.clone();
                group.go(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    ok()
                });
            }
        })
    };
    cancel.cancel();
    feeder.join().unwrap();
    release_tx.send(()).unwrap();
    let err = group.wait(&Context::background()).unwrap_err();
    assert_eq!(err.cancelled(), 5);
    assert!(
        err.errors().is_empty(),
        "cancellation is not an error of a task"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a cancelled task ran");
    assert_eq!(err.to_string(), "5 of 6 tasks cancelled before starting");
}

#[test]
fn cancel_on_error_skips_the_rest_but_keeps_the_error() {
    let group = Group::builder()
        .limit(1)
        .cancel_on_error(true)
        .build()
        .unwrap();
    group.go(|| Err("first".into()));
    for _ in 0..5 {
        group.go(ok);
    }
    let err = group.wait(&Context::background()).unwrap_err();
    assert_eq!(
        err.errors().len(),
        1,
        "the error that cancelled is reported"
    );
    assert_eq!(err.errors()[0].to_string(), "first");
    assert_eq!(err.cancelled(), 5);
    assert_eq!(group.context().err(), Some(Error::Cancelled));
}

#[test]
fn wait_ends_early_when_its_context_does() {
    let group = Group::builder().limit(1).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    group.go(move || Ok(release_rx.recv()?));
    let ctx = Context::background().with_timeout(Duration::from_millis(20));
    let err: GroupError = group.wait(&ctx).unwrap_err();
    assert_eq!(err.interrupted(), Some(Error::DeadlineExceeded));
    assert_eq!((err.failures(), err.unfinished()), (0, 1));
    assert_eq!(
        err.to_string(),
        "1 of 1 tasks unfinished: the wait ended early (context deadline exceeded)"
    );
    release_tx.send(()).unwrap();
    group.wait(&Context::background()).unwrap();
}

#[test]
fn drop_cancels_pending_tasks_and_joins_workers() {
    let ran = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let group = Group::builder().limit(2).build().unwrap();
    group.go(move || {
        started_tx.send(()).unwrap();
        Ok(release_rx.recv()?)
    });
    let r = ran.clone();
    group.go(move || {
        r.fetch_add(1, Ordering::SeqCst);
        ok()
    });
    started_rx.recv_timeout(HANG).unwrap();
    let dropper = thread::spawn(move || drop(group));
    release_tx.send(()).unwrap();
    dropper.join().unwrap();
    assert!(ran.load(Ordering::SeqCst) <= 1);
}

#[test]
fn scope_tasks_borrow_from_the_stack() {
    let data: Vec<u64> = (1..=100).collect();
    let mut sums = [0u64; 10];
    concur_sync::scope(|s| {
        for (sum, chunk) in sums.iter_mut().zip(data.chunks(10)) {
            s.spawn(move || *sum = chunk.iter().sum());
        }
    })
    .unwrap();
    assert_eq!(sums.iter().sum::<u64>(), 5050);
    assert_eq!(sums[0], 55);
}

#[test]
fn scope_collects_errors_and_limits_threads() {
    let seen = AtomicUsize::new(0);
    let err = Group::builder()
        .limit(2)
        .scope(|s| {
            for i in 0..50 {
                let seen = &seen;
                s.go(move || {
                    seen.fetch_add(1, Ordering::SeqCst);
                    if i == 7 {
                        panic!("seven");
                    }
                    ok()
                });
            }
            assert!(s.threads_started() <= 2);
        })
        .unwrap()
        .unwrap_err();
    assert_eq!(seen.load(Ordering::SeqCst), 50);
    assert_eq!(err.errors().len(), 1);
    assert!(err.errors()[0].is_panic());
    assert!(err.errors()[0].to_string().contains("seven"));
}

#[test]
fn leak_guard_passes_when_tasks_are_done() {
    let group = Group::builder().limit(2).build().unwrap();
    let guard = LeakGuard::watch(&group);
    group.go(ok);
    group.wait(&Context::background()).unwrap();
    assert_eq!(guard.outstanding(), 0);
    drop(guard); // must not panic
}

#[test]
fn leak_guard_fails_when_a_task_is_still_running() {
    let group = Group::builder().limit(1).build().unwrap();
    let guard = LeakGuard::watch(&group);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let line = line!() + 1;
    group.go(move || {
        started_tx.send(()).unwrap();
        Ok(release_rx.recv()?)
    });
    started_rx.recv_timeout(HANG).unwrap();
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(guard)))
        .expect_err("the guard must fail the test");
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("1 task(s) of a watched group still running"),
        "{message}"
    );
    assert!(message.contains(&format!("group.rs:{line}")), "{message}");
    release_tx.send(()).unwrap();
    group.wait(&Context::background()).unwrap();
}

#[test]
fn a_task_waiting_for_its_own_group_panics_instead_of_hanging() {
    let group = Arc::new(Group::builder().limit(2).build().unwrap());
    let g = group.clone();
    group.go(move || Ok(g.wait(&Context::background())?));
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || tx.send(group.wait(&Context::background())).unwrap());
    let err = rx.recv_timeout(HANG).expect("hang").unwrap_err();
    waiter.join().unwrap();
    assert!(err.errors()[0].is_panic());
    assert!(
        err.errors()[0]
            .to_string()
            .contains("waited for its own group"),
        "{err}"
    );
}

#[test]
fn a_group_dropped_by_its_own_task_does_not_hang() {
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let group = Arc::new(Group::builder().limit(1).build().unwrap());
    let g = group.clone();
    group.go(move || {
        go_rx.recv().unwrap();
        drop(g); // the last handle: Group::drop runs on this worker
        tx.send(()).unwrap();
        ok()
    });
    drop(group);
    go_tx.send(()).unwrap();
    rx.recv_timeout(HANG)
        .expect("Group::drop on its own worker hung");
}

#[test]
fn wait_with_an_ended_context_and_nothing_pending_is_ok() {
    let group = Group::builder().limit(1).build().unwrap();
    group.go(ok);
    group.wait(&Context::background()).unwrap();
    let (ended, cancel) = Context::background().with_cancel();
    cancel.cancel();
    group.wait(&ended).unwrap();
}

#[test]
fn try_go_refused_by_a_cancelled_group_is_not_also_counted() {
    let group = Group::builder().limit(1).build().unwrap();
    group.cancel();
    assert!(!group.try_go(ok));
    group.go(ok); // counted: go promises that a refused task is counted
    let err = group.wait(&Context::background()).unwrap_err();
    assert_eq!(err.cancelled(), 1);
}
