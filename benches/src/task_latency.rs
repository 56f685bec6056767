//! Latency of the async twins, per sample (distributions, p50/p99 in the
//! report), each next to the tokio way of doing the same:
//!
//! * wake-up: a task awaiting an empty semaphore's permit on a
//!   current-thread runtime, woken by `add_permits(1)` from another
//!   thread; from just before that call to the task having its permit
//!   (tokio's `add_permits` beside it);
//! * cancel: a task awaiting that permit with a cancellable context; from
//!   just before `cancel()` to the task seeing `Cancelled` (beside it: a
//!   tokio task in `select!` on the acquire and a oneshot, the usual way
//!   to cancel one);
//! * deadline overshoot: how long after its 1 ms deadline a task's
//!   acquire returned (beside it: `tokio::time::timeout` around tokio's
//!   acquire). A task's deadline fires from concur's one timer thread.

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::{Context, Error, Semaphore};

use crate::measure::Distribution;

/// The task-latency distributions, `samples` each.
pub fn distributions(samples: usize) -> Vec<Distribution> {
    let ms = Duration::from_millis(1);
    vec![
        Distribution::new(
            "task_wake_concur",
            "add_permits(1) on a thread to the awaiting task having it",
            wake(samples, Side::Concur),
        ),
        Distribution::new(
            "task_wake_tokio",
            "the same with tokio's semaphore (add_permits)",
            wake(samples, Side::Tokio),
        ),
        Distribution::new(
            "task_cancel_concur",
            "cancel() on a thread to the awaiting task seeing Cancelled",
            cancel(samples, Side::Concur),
        ),
        Distribution::new(
            "task_cancel_tokio",
            "oneshot send to a tokio task in select! on acquire and the oneshot",
            cancel(samples, Side::Tokio),
        ),
        Distribution::new(
            "task_deadline_overshoot_concur",
            "awaited acquire with a 1 ms deadline: return minus the deadline",
            overshoot(samples / 2, ms, Side::Concur),
        ),
        Distribution::new(
            "task_deadline_overshoot_tokio",
            "tokio::time::timeout(1 ms, acquire): return minus the deadline",
            overshoot(samples / 2, ms, Side::Tokio),
        ),
    ]
}

/// Which implementation a sample series runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// concur's async twins.
    Concur,
    /// tokio's semaphore, with tokio's way of cancelling and timing out.
    Tokio,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

/// Busy-waits `d`, so the task is surely parked before we act.
fn spin_for(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// One round's wait, as the task runs it.
type Round<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

/// Runs `samples` rounds: a runtime thread runs `task(round)` per round
/// after saying it is about to wait; this thread lets it get parked, takes
/// the time, and runs `act(round)`. A sample is the task's return instant
/// minus that time.
fn rounds<S: Send + Sync + 'static>(
    samples: usize,
    shared: S,
    task: impl Fn(&S) -> Round<'_> + Send + 'static,
    act: impl Fn(&S, usize),
) -> Vec<Duration> {
    let shared = Arc::new(shared);
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<bool>();
    let (done_tx, done_rx) = mpsc::channel::<Instant>();
    let waiter = {
        let shared = shared.clone();
        thread::spawn(move || {
            let rt = runtime();
            while go_rx.recv().unwrap_or(false) {
                // Made (its context or receiver taken from the slots)
                // before the acting thread is told to go on.
                let round = task(&shared);
                ready_tx.send(()).unwrap();
                rt.block_on(round);
                done_tx.send(Instant::now()).unwrap();
            }
        })
    };
    let mut out = Vec::with_capacity(samples);
    for round in 0..samples {
        go_tx.send(true).unwrap();
        ready_rx.recv().unwrap();
        spin_for(Duration::from_micros(200));
        let start = Instant::now();
        act(&shared, round);
        out.push(done_rx.recv().unwrap().saturating_duration_since(start));
    }
    go_tx.send(false).unwrap();
    waiter.join().expect("the waiting thread panicked");
    out
}

/// Wake-up samples: see the module docs.
pub fn wake(samples: usize, side: Side) -> Vec<Duration> {
    match side {
        Side::Concur => rounds(
            samples,
            Semaphore::new(0),
            |sem| {
                Box::pin(async move {
                    let permit = sem.acquire_async(&Context::background(), 1).await;
                    // Gone with its capacity, as tokio's `forget`.
                    permit.expect("granted").forget();
                })
            },
            |sem, _| sem.add_permits(1),
        ),
        Side::Tokio => rounds(
            samples,
            tokio::sync::Semaphore::new(0),
            |sem| {
                Box::pin(async move {
                    sem.acquire().await.expect("open").forget();
                })
            },
            |sem, _| sem.add_permits(1),
        ),
    }
}

/// A cancel for the next round, handed from the acting thread to the task.
type Slot<T> = std::sync::Mutex<Option<T>>;

/// Cancel samples: see the module docs.
pub fn cancel(samples: usize, side: Side) -> Vec<Duration> {
    match side {
        Side::Concur => {
            // Each round's context is made here and its handle kept for
            // the acting side.
            type Shared = (Semaphore, Slot<Context>, Slot<concur_sync::CancelHandle>);
            let shared: Shared = (Semaphore::new(0), Slot::default(), Slot::default());
            let arm = |s: &Shared| {
                let (ctx, cancel) = Context::background().with_cancel();
                *s.1.lock().unwrap() = Some(ctx);
                *s.2.lock().unwrap() = Some(cancel);
            };
            arm(&shared);
            rounds(
                samples,
                shared,
                |s| {
                    let ctx = s.1.lock().unwrap().take().expect("armed");
                    Box::pin(async move {
                        let got = s.0.acquire_async(&ctx, 1).await.map(drop);
                        assert_eq!(got, Err(Error::Cancelled));
                    })
                },
                move |s, _| {
                    let cancel = s.2.lock().unwrap().take().expect("armed");
                    cancel.cancel();
                    // The next round's context; the task's return instant
                    // is taken on its own thread, so this is not timed.
                    arm(s);
                },
            )
        }
        Side::Tokio => {
            type Shared = (
                tokio::sync::Semaphore,
                Slot<tokio::sync::oneshot::Receiver<()>>,
                Slot<tokio::sync::oneshot::Sender<()>>,
            );
            let shared: Shared = (
                tokio::sync::Semaphore::new(0),
                Slot::default(),
                Slot::default(),
            );
            let arm = |s: &Shared| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                *s.1.lock().unwrap() = Some(rx);
                *s.2.lock().unwrap() = Some(tx);
            };
            arm(&shared);
            rounds(
                samples,
                shared,
                |s| {
                    let rx = s.1.lock().unwrap().take().expect("armed");
                    Box::pin(async move {
                        tokio::select! {
                            _ = s.0.acquire() => panic!("no permit is ever added"),
                            _ = rx => {}
                        }
                    })
                },
                move |s, _| {
                    let tx = s.2.lock().unwrap().take().expect("armed");
                    let _ = tx.send(());
                    arm(s);
                },
            )
        }
    }
}

/// Deadline overshoot samples: see the module docs.
pub fn overshoot(samples: usize, timeout: Duration, side: Side) -> Vec<Duration> {
    let rt = runtime();
    match side {
        Side::Concur => {
            let sem = Semaphore::new(0);
            (0..samples)
                .map(|_| {
                    rt.block_on(async {
                        let ctx = Context::background().with_timeout(timeout);
                        let deadline = ctx.deadline().expect("a deadline");
                        let got = sem.acquire_async(&ctx, 1).await.map(drop);
                        let returned = Instant::now();
                        assert_eq!(got, Err(Error::DeadlineExceeded));
                        returned.saturating_duration_since(deadline)
                    })
                })
                .collect()
        }
        Side::Tokio => {
            let sem = tokio::sync::Semaphore::new(0);
            (0..samples)
                .map(|_| {
                    rt.block_on(async {
                        let deadline = Instant::now() + timeout;
                        let got = tokio::time::timeout(timeout, sem.acquire()).await;
                        let returned = Instant::now();
                        assert!(got.is_err(), "no permit is ever added");
                        returned.saturating_duration_since(deadline)
                    })
                })
                .collect()
        }
    }
}
