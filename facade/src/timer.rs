//! The process-wide deadline timer: one thread, started on first use, that
//! cancels contexts with `DeadlineExceeded` when their deadlines pass.
//!
//! Entries live in a `BTreeMap` ordered by (deadline, id) and are removed
//! when their context is cancelled first, so memory tracks live deadlines.
//! The thread sleeps on a condition variable until the earliest deadline (a
//! timed futex wait, not polling) and is woken when an earlier one arrives.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, OnceLock, Weak};
use std::time::Instant;

use crate::background::Background;
use crate::context::{Node, DEADLINE};

/// Identifies a scheduled deadline, to unschedule it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    at: Instant,
    id: u64,
}

struct Timer {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    entries: BTreeMap<TimerKey, Weak<Node>>,
    next_id: u64,
}

/// The timer, with its thread started if the OS lets us. If it does not,
/// the error is reported and the entries wait for a later call to start it
/// (see `background`): deriving a deadline never panics.
fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    static THREAD: Background = Background::new();
    let timer = TIMER.get_or_init(|| Timer {
        state: Mutex::new(State {
            entries: BTreeMap::new(),
            next_id: 0,
        }),
        wake: Condvar::new(),
    });
    THREAD.ensure("deadline timer", || {
        std::thread::Builder::new()
            .name("concur-timer".into())
            .spawn(move || run(timer))
            .map(drop)
    });
    timer
}

pub(crate) fn schedule(at: Instant, node: Weak<Node>) -> TimerKey {
    let timer = timer();
    let mut state = timer.state.lock().unwrap_or_else(|e| e.into_inner());
    let key = TimerKey {
        at,
        id: state.next_id,
    };
    state.next_id += 1;
    let earliest = state.entries.keys().next().is_none_or(|first| key < *first);
    state.entries.insert(key, node);
    drop(state);
    if earliest {
        timer.wake.notify_one();
    }
    key
}

/// Removes and returns the entries due at `until`, earliest first.
fn take_due(state: &mut State, until: Instant) -> Vec<Weak<Node>> {
    let mut due = Vec::new();
    while let Some(entry) = state.entries.first_entry() {
        if entry.key().at > until {
            break;
        }
        due.push(entry.remove());
    }
    due
}

/// Ends the contexts of due entries, in order, with the timer's lock released
/// (cancelling takes node locks and wakes threads).
fn fire(due: Vec<Weak<Node>>) {
    for node in due.into_iter().filter_map(|w| w.upgrade()) {
        node.cancel(DEADLINE);
    }
}

/// Fires, on the caller's thread, every deadline at or before `until`, as
/// the timer thread does when its clock reaches `until`; returns how many.
#[cfg(feature = "step")]
pub(crate) fn fire_due(until: Instant) -> usize {
    let timer = timer();
    let due = take_due(
        &mut timer.state.lock().unwrap_or_else(|e| e.into_inner()),
        until,
    );
    let count = due.len();
    fire(due);
    count
}

pub(crate) fn unschedule(key: TimerKey) {
    let timer = timer();
    let mut state = timer.state.lock().unwrap_or_else(|e| e.into_inner());
    state.entries.remove(&key);
}

fn run(timer: &Timer) {
    let mut state = timer.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        let due = take_due(&mut state, now);
        if !due.is_empty() {
            drop(state);
            fire(due);
            state = timer.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        state = match state.entries.keys().next() {
            Some(first) => {
                let wait = first.at.saturating_duration_since(now);
                timer
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => timer.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Context;
    use std::time::Duration;

    fn entries_at(at: Instant) -> usize {
        let state = timer().state.lock().unwrap();
        state.entries.keys().filter(|k| k.at == at).count()
    }

    #[test]
    fn cancelled_contexts_leave_no_timer_entries() {
        let at = Instant::now() + Duration::from_secs(7 * 3600 + 13);
        let (root, root_cancel) = Context::background().with_cancel();
        let mut live = Vec::new();
        for i in 0..10_000 {
            let (ctx, handle) = root.with_deadline(at);
            if i % 100 == 0 {
                live.push((ctx, handle));
            }
        }
        assert_eq!(entries_at(at), 100, "only live deadlines stay scheduled");
        // Cancelling the parent removes the children's entries too.
        root_cancel.cancel();
        assert_eq!(entries_at(at), 0);
        assert!(live.iter().all(|(ctx, _)| ctx.is_done()));
    }
}
