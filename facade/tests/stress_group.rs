//! The group under many submitting threads: `go`, `try_go` and `go_all`
//! mixed, tasks that succeed, fail or panic, a `wait` racing the
//! submissions, and (second test) the group's context cancelled at a
//! random moment. At the end every task is accounted for exactly once:
//! it started, or was cancelled (never started, or refused by a blocking
//! submission); and every failure or panic of a task that started was
//! reported, by the final `wait` or the racing one.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::within;
use concur_sync::{Context, Group, GroupError};

const HANG: Duration = Duration::from_secs(120);
const SUBMITTERS: usize = 4;
const TASKS_PER_SUBMITTER: usize = 3_000;

/// xorshift64*: a small, seeded generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Tasks that started, and those of them that fail or panic.
#[derive(Default)]
struct Started {
    all: AtomicUsize,
    failing: AtomicUsize,
}

/// A task: counts its start, then succeeds, fails or panics.
fn task(started: &Arc<Started>, kind: u64) -> impl FnOnce() -> Result<(), String> + Send + 'static {
    let started = started.clone();
    move || {
        started.all.fetch_add(1, Ordering::Relaxed);
        if kind < 2 {
            started.failing.fetch_add(1, Ordering::Relaxed);
        }
        match kind {
            0 => Err("failed".to_string()),
            1 => panic!("a stress task panics"),
            _ => Ok(()),
        }
    }
}

/// Submits `TASKS_PER_SUBMITTER` tasks from each of `SUBMITTERS` threads
/// (and cancels `cancel` after `cancel_after` submissions of the first, if
/// given), with a `wait` racing them; returns how many tasks the group
/// must account for, and what the racing `wait` reported.
fn submit_everything(
    group: &Group<String>,
    started: &Arc<Started>,
    seed: u64,
    cancel_after: Option<usize>,
) -> (usize, Result<(), GroupError>) {
    let go = Barrier::new(SUBMITTERS);
    let counted = AtomicUsize::new(0);
    let racing = thread::scope(|s| {
        for t in 0..SUBMITTERS {
            let (go, counted) = (&go, &counted);
            s.spawn(move || {
                let mut rng = Rng(seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                go.wait();
                let mut done = 0;
                while done < TASKS_PER_SUBMITTER {
                    if t == 0 && cancel_after.is_some_and(|n| done >= n) {
                        group.cancel();
                    }
                    let kind = rng.below(16);
                    match rng.below(3) {
                        // A blocking `go` is accounted for either way: run,
                        // or refused and counted as cancelled.
                        0 => {
                            group.go(task(started, kind));
                            counted.fetch_add(1, Ordering::Relaxed);
                            done += 1;
                        }
                        // A refused `try_go` is the caller's to count.
                        1 => {
                            if group.try_go(task(started, kind)) {
                                counted.fetch_add(1, Ordering::Relaxed);
                            }
                            done += 1;
                        }
                        // `go_all` accounts for every task it pulled.
                        _ => {
                            let n = 1 + rng.below(40) as usize;
                            let pulled = AtomicUsize::new(0);
                            let kinds: Vec<u64> = (0..n).map(|_| rng.below(16)).collect();
                            group.go_all(kinds.into_iter().map(|kind| {
                                pulled.fetch_add(1, Ordering::Relaxed);
                                task(started, kind)
                            }));
                            counted.fetch_add(pulled.load(Ordering::Relaxed), Ordering::Relaxed);
                            done += n;
                        }
                    }
                }
            });
        }
        // A `wait` racing the submissions: it takes what went wrong so
        // far, the final wait the rest.
        let racing = s.spawn(|| {
            let ctx = Context::background().with_timeout(Duration::from_millis(2));
            group.wait(&ctx)
        });
        racing.join().unwrap()
    });
    (counted.into_inner(), racing)
}

/// Keeps the tasks' own panics out of the test output (thousands of them);
/// every other panic is reported as usual.
fn quiet_task_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"a stress task panics") {
            default(info);
        }
    }));
}

/// Adds up what `wait` results reported.
#[derive(Default)]
struct Books {
    failed: usize,
    cancelled: usize,
}

impl Books {
    fn add(&mut self, outcome: Result<(), GroupError>) {
        if let Err(err) = outcome {
            self.failed += err.failures();
            self.cancelled += err.cancelled();
        }
    }
}

#[test]
fn every_task_is_accounted_for_exactly_once() {
    quiet_task_panics();
    within(HANG, || {
        for round in 0..4u64 {
            let group = Group::builder()
                .error::<String>()
                .limit(2)
                .queue(8)
                .max_errors(16)
                .build()
                .unwrap();
            let started = Arc::new(Started::default());
            let (counted, racing) = submit_everything(&group, &started, round, None);
            let mut books = Books::default();
            books.add(racing);
            let last = group.wait(&Context::background());
            if let Err(err) = &last {
                assert_eq!(err.unfinished(), 0, "{err:?}");
            }
            books.add(last);
            assert_eq!(books.cancelled, 0, "round {round}: nothing was cancelled");
            assert_eq!(
                started.all.load(Ordering::Relaxed),
                counted,
                "round {round}: every accepted task ran once"
            );
            assert_eq!(
                books.failed,
                started.failing.load(Ordering::Relaxed),
                "round {round}: every failure and panic was reported once"
            );
        }
    });
}

#[test]
fn a_random_cancel_leaves_every_task_accounted_for() {
    quiet_task_panics();
    within(HANG, || {
        for round in 0..6u64 {
            let (ctx, _cancel) = Context::background().with_cancel();
            let group = Group::builder()
                .error::<String>()
                .limit(2)
                .queue(16)
                .context(&ctx)
                .build()
                .unwrap();
            let started = Arc::new(Started::default());
            let cancel_after = Some((round as usize * 457) % TASKS_PER_SUBMITTER);
            let (counted, racing) = submit_everything(&group, &started, round + 100, cancel_after);
            let mut books = Books::default();
            books.add(racing);
            books.add(group.wait(&Context::background()));
            assert_eq!(
                started.all.load(Ordering::Relaxed) + books.cancelled,
                counted,
                "round {round}: every task ran or was cancelled, exactly once"
            );
            assert_eq!(
                books.failed,
                started.failing.load(Ordering::Relaxed),
                "round {round}: every failure and panic was reported once"
            );
            assert!(
                books.cancelled > 0,
                "round {round}: the cancel skipped nothing"
            );
        }
    });
}
