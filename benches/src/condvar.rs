//! Condition variables and barriers (lower is better):
//!
//! * `condvar_pingpong`: two threads, one mutex, two condvars; one
//!   iteration is a round trip (two hand-overs), vs std and parking_lot.
//! * `condvar_notify_all_8`: 8 threads wait; one iteration is a
//!   `notify_all` until all 8 have re-taken the mutex and run, vs std,
//!   parking_lot (which requeues them onto the mutex), and concur's own
//!   stampede (8 `notify_one` calls, every waiter woken at once).
//! * `barrier_2`, `barrier_8`: one iteration is one round of T threads, vs
//!   std's `Barrier`.

use std::time::{Duration, Instant};

use crate::contended::run_threads;
use crate::Group;

/// The condvar groups.
pub fn groups() -> Vec<Group> {
    vec![pingpong(), notify_all(), barrier(2), barrier(8)]
}

/// Defines a ping-pong over one mutex type. The operations come as
/// `|names| expression` fragments expanded in place: `lock(m)`,
/// `wait(cv, guard, condition)` (waits while `condition` holds, returns the
/// guard) and `notify(cv)`.
macro_rules! pingpong_case {
    ($mutex:expr, $new_cv:expr,
     |$m:ident| $lock:expr,
     |$cv:ident, $g:ident, $c:ident| $wait:expr,
     |$ncv:ident| $notify:expr) => {
        move |n: u64| {
            let turn = $mutex;
            let (ping, pong) = ($new_cv, $new_cv);
            std::thread::scope(|s| {
                s.spawn(|| {
                    for _ in 0..n {
                        let mut t = {
                            let $g = {
                                let $m = &turn;
                                $lock
                            };
                            let ($cv, $c) = (&ping, |t: &mut u8| *t != 1);
                            $wait
                        };
                        *t = 0;
                        drop(t);
                        {
                            let $ncv = &pong;
                            $notify;
                        }
                    }
                });
                let began = Instant::now();
                for _ in 0..n {
                    *{
                        let $m = &turn;
                        $lock
                    } = 1;
                    {
                        let $ncv = &ping;
                        $notify;
                    }
                    drop({
                        let $g = {
                            let $m = &turn;
                            $lock
                        };
                        let ($cv, $c) = (&pong, |t: &mut u8| *t != 0);
                        $wait
                    });
                }
                began.elapsed()
            })
        }
    };
}

fn pingpong() -> Group {
    Group::new(
        "condvar_pingpong",
        "round trip: two hand-overs through two condvars",
    )
    .case(
        "concur",
        pingpong_case!(
            concur_sync::Mutex::new(0u8),
            concur_sync::Condvar::new(),
            |m| m.lock(),
            |cv, g, c| cv.wait_while(g, c),
            |cv| cv.notify_one()
        ),
    )
    .case(
        "std",
        pingpong_case!(
            std::sync::Mutex::new(0u8),
            std::sync::Condvar::new(),
            |m| m.lock().unwrap(),
            |cv, g, c| cv.wait_while(g, c).unwrap(),
            |cv| cv.notify_one()
        ),
    )
    .case(
        "parking_lot",
        pingpong_case!(
            parking_lot::Mutex::new(0u8),
            parking_lot::Condvar::new(),
            |m| m.lock(),
            |cv, g, c| {
                let mut g = g;
                cv.wait_while(&mut g, c);
                g
            },
            |cv| cv.notify_one()
        ),
    )
}

const WAITERS: u64 = 8;

/// Defines a notify-all round over one mutex type: 8 threads wait for the
/// round number to change, each then counts itself under the mutex; the
/// last wakes the notifier through a second condvar. The operations come
/// as in `pingpong_case`, plus `wake_all(cv)`.
macro_rules! notify_all_case {
    ($mutex:expr, $new_cv:expr,
     |$m:ident| $lock:expr,
     |$cv:ident, $g:ident, $c:ident| $wait:expr,
     |$ncv:ident| $notify:expr,
     |$acv:ident| $wake_all:expr) => {
        move |n: u64| {
            // (round, ran in this round)
            let state = $mutex;
            let (go, done) = ($new_cv, $new_cv);
            std::thread::scope(|s| {
                for _ in 0..WAITERS {
                    s.spawn(|| {
                        let mut seen = 0u64;
                        while seen < n {
                            let mut st = {
                                let $g = {
                                    let $m = &state;
                                    $lock
                                };
                                let ($cv, $c) = (&go, |st: &mut (u64, u64)| st.0 == seen);
                                $wait
                            };
                            seen = st.0;
                            st.1 += 1;
                            let last = st.1 == WAITERS;
                            drop(st);
                            if last {
                                let $ncv = &done;
                                $notify;
                            }
                        }
                    });
                }
                let began = Instant::now();
                for _ in 0..n {
                    {
                        let mut st = {
                            let $m = &state;
                            $lock
                        };
                        st.0 += 1;
                        st.1 = 0;
                    }
                    {
                        let $acv = &go;
                        $wake_all;
                    }
                    drop({
                        let $g = {
                            let $m = &state;
                            $lock
                        };
                        let ($cv, $c) = (&done, |st: &mut (u64, u64)| st.1 < WAITERS);
                        $wait
                    });
                }
                began.elapsed()
            })
        }
    };
}

fn notify_all() -> Group {
    Group::new(
        "condvar_notify_all_8",
        "notify_all until all 8 waiters have re-taken the mutex and run",
    )
    .case(
        "concur",
        notify_all_case!(
            concur_sync::Mutex::new((0u64, 0u64)),
            concur_sync::Condvar::new(),
            |m| m.lock(),
            |cv, g, c| cv.wait_while(g, c),
            |cv| cv.notify_one(),
            |cv| cv.notify_all()
        ),
    )
    .case(
        "concur_stampede",
        notify_all_case!(
            concur_sync::Mutex::new((0u64, 0u64)),
            concur_sync::Condvar::new(),
            |m| m.lock(),
            |cv, g, c| cv.wait_while(g, c),
            |cv| cv.notify_one(),
            |cv| while cv.notify_one() {}
        ),
    )
    .case(
        "std",
        notify_all_case!(
            std::sync::Mutex::new((0u64, 0u64)),
            std::sync::Condvar::new(),
            |m| m.lock().unwrap(),
            |cv, g, c| cv.wait_while(g, c).unwrap(),
            |cv| cv.notify_one(),
            |cv| cv.notify_all()
        ),
    )
    .case(
        "parking_lot",
        notify_all_case!(
            parking_lot::Mutex::new((0u64, 0u64)),
            parking_lot::Condvar::new(),
            |m| m.lock(),
            |cv, g, c| {
                let mut g = g;
                cv.wait_while(&mut g, c);
                g
            },
            |cv| cv.notify_one(),
            |cv| cv.notify_all()
        ),
    )
}

fn barrier(threads: usize) -> Group {
    let name = if threads == 2 {
        "barrier_2"
    } else {
        "barrier_8"
    };
    Group::new(name, "one round of every thread through the barrier")
        .case("concur", move |n| {
            let b = concur_sync::Barrier::new(threads);
            per_round(threads, n, || {
                b.wait();
            })
        })
        .case("std", move |n| {
            let b = std::sync::Barrier::new(threads);
            per_round(threads, n, || {
                b.wait();
            })
        })
}

/// `n` rounds of `threads` threads: every thread waits `n` times.
fn per_round(threads: usize, n: u64, wait: impl Fn() + Sync) -> Duration {
    run_threads(threads, n * threads as u64, wait)
}
