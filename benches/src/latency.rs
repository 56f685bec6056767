//! Latencies, as distributions (the report prints median and p99; the
//! criterion groups time the same loops, so they show the mean).
//!
//! * Wake-up (`wakeup_ping_pong`): two threads pass a token back and forth,
//!   each blocking until the other hands it over; one sample is one round
//!   trip, i.e. two wake-ups. concur's semaphore vs std's `Condvar` and
//!   `thread::park`.
//! * Cancel (`cancel_latency`): a thread blocks in `Semaphore::acquire` with a
//!   cancellable context; a sample is from just before `cancel()` to the
//!   blocked call having returned, as seen by the waiter.
//! * Deadline overshoot: a thread blocks with a 1 ms timeout; a sample is
//!   how late after the deadline the call returned (`lock_ctx`, `acquire`,
//!   and parking_lot's `try_lock_until` as the anchor).
//! * Mutex cancel (`mutex_cancel_latency`): cancelling one thread blocked in
//!   `lock_ctx`, alone or with 7 other sleepers on the same mutex, which
//!   the interrupt's wake-all also wakes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::{Context, Error, Semaphore};

use crate::measure::Distribution;
use crate::Group;

/// Which implementation passes the token in a ping-pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingPong {
    /// Two `concur_sync::Semaphore`s of 0 permits.
    Concur,
    /// Two `Mutex<bool>` + `Condvar` pairs.
    Condvar,
    /// `thread::park` / `unpark` with a flag each way.
    Park,
}

impl PingPong {
    /// All kinds, concur first.
    pub const ALL: [PingPong; 3] = [PingPong::Concur, PingPong::Condvar, PingPong::Park];

    /// The series name in the report (`wakeup_` and the case name).
    pub fn series(self) -> &'static str {
        match self {
            PingPong::Concur => "wakeup_concur",
            PingPong::Condvar => "wakeup_std_condvar",
            PingPong::Park => "wakeup_thread_park",
        }
    }

    /// The case name.
    pub fn name(self) -> &'static str {
        match self {
            PingPong::Concur => "concur",
            PingPong::Condvar => "std_condvar",
            PingPong::Park => "thread_park",
        }
    }
}

/// A semaphore of one permit, held (leaked) already: acquiring blocks until
/// someone releases it. (A semaphore of 0 permits would refuse a request of
/// 1 as too large.)
fn empty_semaphore() -> Semaphore {
    let sem = Semaphore::new(1);
    sem.try_acquire(1).expect("a free permit").leak();
    sem
}

/// A flag one thread sets and another sleeps on, through a condition variable.
struct CondvarFlag {
    set: Mutex<bool>,
    changed: Condvar,
}

impl CondvarFlag {
    fn new() -> Self {
        Self {
            set: Mutex::new(false),
            changed: Condvar::new(),
        }
    }
    fn raise(&self) {
        *self.set.lock().unwrap() = true;
        self.changed.notify_one();
    }
    fn take(&self) {
        let mut set = self.set.lock().unwrap();
        while !*set {
            set = self.changed.wait(set).unwrap();
        }
        *set = false;
    }
}

/// `rounds` round trips of a token between this thread and a partner;
/// returns each round trip's duration.
pub fn ping_pong(kind: PingPong, rounds: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(rounds);
    match kind {
        PingPong::Concur => {
            let (ping, pong) = (empty_semaphore(), empty_semaphore());
            let bg = Context::background();
            thread::scope(|s| {
                s.spawn(|| {
                    for _ in 0..rounds {
                        ping.acquire(&bg, 1).unwrap().leak();
                        pong.release(1);
                    }
                });
                for _ in 0..rounds {
                    let start = Instant::now();
                    ping.release(1);
                    pong.acquire(&bg, 1).unwrap().leak();
                    samples.push(start.elapsed());
                }
            });
        }
        PingPong::Condvar => {
            let (ping, pong) = (CondvarFlag::new(), CondvarFlag::new());
            thread::scope(|s| {
                s.spawn(|| {
                    for _ in 0..rounds {
                        ping.take();
                        pong.raise();
                    }
                });
                for _ in 0..rounds {
                    let start = Instant::now();
                    ping.raise();
                    pong.take();
                    samples.push(start.elapsed());
                }
            });
        }
        PingPong::Park => {
            let (ping, pong) = (AtomicBool::new(false), AtomicBool::new(false));
            let main = thread::current();
            thread::scope(|s| {
                let partner = s.spawn(|| {
                    for _ in 0..rounds {
                        while !ping.swap(false, Ordering::Acquire) {
                            thread::park();
                        }
                        pong.store(true, Ordering::Release);
                        main.unpark();
                    }
                });
                for _ in 0..rounds {
                    let start = Instant::now();
                    ping.store(true, Ordering::Release);
                    partner.thread().unpark();
                    while !pong.swap(false, Ordering::Acquire) {
                        thread::park();
                    }
                    samples.push(start.elapsed());
                }
            });
        }
    }
    samples
}

/// Busy-waits `d` (so the waiter is surely asleep before we act), without
/// the timer slack of `thread::sleep`.
fn spin_for(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// `samples` cancellations of a thread blocked in `Semaphore::acquire`: each
/// is the time from just before `cancel()` to the call having returned.
pub fn cancel_latency(samples: usize) -> Vec<Duration> {
    let sem = empty_semaphore();
    cancel_samples(samples, |ctx| {
        sem.acquire(ctx, 1).map(|p| {
            p.leak();
        })
    })
}

/// `samples` cancellations of a thread blocked in `blocked(ctx)`, which must
/// block until `ctx` is cancelled and then fail with `Cancelled`: each is
/// the time from just before `cancel()` to the call having returned, as
/// the blocked thread saw it.
fn cancel_samples(
    samples: usize,
    blocked: impl Fn(&Context) -> Result<(), Error> + Sync,
) -> Vec<Duration> {
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (ctx_tx, ctx_rx) = mpsc::channel::<Context>();
    let (done_tx, done_rx) = mpsc::channel::<Instant>();
    thread::scope(|s| {
        s.spawn(|| {
            for ctx in ctx_rx {
                ready_tx.send(()).unwrap();
                let result = blocked(&ctx);
                let returned = Instant::now();
                assert_eq!(result.err(), Some(Error::Cancelled));
                done_tx.send(returned).unwrap();
            }
        });
        let mut out = Vec::with_capacity(samples);
        for _ in 0..samples {
            let (ctx, cancel) = Context::background().with_cancel();
            ctx_tx.send(ctx).unwrap();
            ready_rx.recv().unwrap();
            // Asleep by now (and so are any bystanders the last cancel woke).
            spin_for(Duration::from_micros(200));
            let start = Instant::now();
            cancel.cancel();
            let returned = done_rx.recv().unwrap();
            out.push(returned.saturating_duration_since(start));
        }
        drop(ctx_tx);
        out
    })
}

/// `samples` blocked acquires with a `timeout` deadline: each is how long
/// after the deadline the call returned.
pub fn deadline_overshoot(samples: usize, timeout: Duration) -> Vec<Duration> {
    let sem = empty_semaphore();
    (0..samples)
        .map(|_| {
            let ctx = Context::background().with_timeout(timeout);
            let deadline = ctx.deadline().expect("a deadline");
            let result = sem.acquire(&ctx, 1).map(|p| p.leak());
            let returned = Instant::now();
            assert_eq!(result.err(), Some(Error::DeadlineExceeded));
            returned.saturating_duration_since(deadline)
        })
        .collect()
}

/// `samples` blocked `lock_ctx` calls on a held mutex with a `timeout`
/// deadline: how long after the deadline each returned.
pub fn lock_deadline_overshoot(samples: usize, timeout: Duration) -> Vec<Duration> {
    let m = concur_sync::Mutex::new(());
    let _held = m.lock();
    (0..samples)
        .map(|_| {
            let ctx = Context::background().with_timeout(timeout);
            let deadline = ctx.deadline().expect("a deadline");
            let result = m.lock_ctx(&ctx).map(drop);
            let returned = Instant::now();
            assert_eq!(result.err(), Some(Error::DeadlineExceeded));
            returned.saturating_duration_since(deadline)
        })
        .collect()
}

/// The anchor: parking_lot's `try_lock_until` on a held mutex, the same way.
pub fn parking_lot_deadline_overshoot(samples: usize, timeout: Duration) -> Vec<Duration> {
    let m = parking_lot::Mutex::new(());
    let _held = m.lock();
    (0..samples)
        .map(|_| {
            let deadline = Instant::now() + timeout;
            let result = m.try_lock_until(deadline).map(drop);
            let returned = Instant::now();
            assert!(result.is_none());
            returned.saturating_duration_since(deadline)
        })
        .collect()
}

/// `samples` cancellations of a thread blocked in `Mutex::lock_ctx` while
/// `bystanders` other threads sleep in `lock()` on the same held mutex:
/// each sample is from just before `cancel()` to the call having returned.
/// An interrupt wakes every sleeper of the mutex word (it cannot wake just
/// one on a shared word), so this prices that against `bystanders = 0`.
pub fn mutex_cancel_latency(samples: usize, bystanders: usize) -> Vec<Duration> {
    let m = concur_sync::Mutex::new(());
    let held = m.lock();
    thread::scope(|s| {
        for _ in 0..bystanders {
            s.spawn(|| drop(m.lock()));
        }
        let out = cancel_samples(samples, |ctx| m.lock_ctx(ctx).map(drop));
        // Let the bystanders through, so the scope can join them.
        drop(held);
        out
    })
}

/// The latency distributions of the report: wake-up round trips, cancels
/// and deadline overshoots, `pings`, `cancels` and `deadlines` samples.
pub fn distributions(pings: usize, cancels: usize, deadlines: usize) -> Vec<Distribution> {
    let mut dists: Vec<Distribution> = PingPong::ALL
        .into_iter()
        .map(|kind| {
            Distribution::new(
                kind.series(),
                "wake-up round trip (two hand-overs)",
                ping_pong(kind, pings),
            )
        })
        .collect();
    dists.push(Distribution::new(
        "cancel_concur",
        "cancel() to the blocked acquire returning",
        cancel_latency(cancels),
    ));
    dists.push(Distribution::new(
        "cancel_mutex_alone",
        "cancel() to a blocked lock_ctx returning, the only sleeper",
        mutex_cancel_latency(cancels, 0),
    ));
    dists.push(Distribution::new(
        "cancel_mutex_of_8",
        "the same with 7 more sleepers on the mutex (woken too)",
        mutex_cancel_latency(cancels, 7),
    ));
    let ms = Duration::from_millis(1);
    dists.push(Distribution::new(
        "deadline_overshoot_concur",
        "blocked acquire: return time minus the deadline (1 ms timeout)",
        deadline_overshoot(deadlines, ms),
    ));
    dists.push(Distribution::new(
        "deadline_overshoot_concur_lock_ctx",
        "blocked lock_ctx: return time minus the deadline (1 ms timeout)",
        lock_deadline_overshoot(deadlines, ms),
    ));
    dists.push(Distribution::new(
        "deadline_overshoot_parking_lot",
        "parking_lot try_lock_until on a held lock: return minus deadline (1 ms)",
        parking_lot_deadline_overshoot(deadlines, ms),
    ));
    dists
}

/// The latency groups, timed in total for criterion.
pub fn groups() -> Vec<Group> {
    let mut wake = Group::new(
        "wakeup_ping_pong",
        "one round trip: two blocking hand-overs",
    );
    for kind in PingPong::ALL {
        wake = wake.case(kind.name(), move |n| {
            ping_pong(kind, n as usize).into_iter().sum()
        });
    }
    let cancel = Group::new(
        "cancel_latency",
        "cancel() until the blocked acquire returned",
    )
    .case("concur", |n| cancel_latency(n as usize).into_iter().sum());
    let ms = Duration::from_millis(1);
    let overshoot = Group::new(
        "deadline_overshoot",
        "a blocked call with a 1 ms timeout: return minus deadline",
    )
    .case("concur_lock_ctx", move |n| {
        lock_deadline_overshoot(n as usize, ms).into_iter().sum()
    })
    .case("concur_acquire", move |n| {
        deadline_overshoot(n as usize, ms).into_iter().sum()
    })
    .case("parking_lot_try_lock_until", move |n| {
        parking_lot_deadline_overshoot(n as usize, ms)
            .into_iter()
            .sum()
    });
    vec![wake, cancel, overshoot]
}
