//! The deadline timer: one thread, started on first use, that interrupts
//! waits whose deadlines pass. It serves the waits that cannot carry their
//! deadline into a timed futex wait: every future's wait (a task does not
//! sleep in the kernel), and, on platforms where the core's parker has no
//! timed wait (everything but Linux, Android and Windows, or any platform
//! built with `--cfg concur_timer_fallback`), blocked threads too.
//!
//! A program that never awaits with a deadline on Linux, Android or
//! Windows never starts it. [`testing::stop_timer`](crate::testing::stop_timer)
//! stops an idle one (for tests that must end with no thread left).
//!
//! An entry is a blocked call's waiter, keyed by (deadline, id) in a
//! `BTreeMap` behind one mutex. The call links it before it blocks and
//! unlinks it (through [`Scheduled`]'s drop) before its stack frame ends;
//! the timer interrupts a waiter only with the mutex held, so it never
//! follows an entry after its frame is gone. The thread sleeps on a
//! condition variable until the earliest deadline (a timed wait, not
//! polling) and is woken when an earlier one arrives. Memory tracks the
//! waits blocked right now. Depends on nothing else of the facade but the
//! thread starter.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use concur_core::Waiter;

use crate::background::Background;

type Key = (Instant, u64);

/// A waiter on a blocked thread's stack; followed only under the lock.
struct Entry(*const Waiter);

// SAFETY: the pointer is only followed by the timer thread with the
// timer's mutex held, while the entry is linked, and the `Scheduled` guard
// that borrows the waiter unlinks it under the same mutex before the
// borrow (and so the waiter) can end. Only a leaked guard could leave an
// entry behind, so `Scheduled` is crate-private and its one user keeps it
// in the frame that made it, where unwinding drops it too.
unsafe impl Send for Entry {}

struct Timer {
    state: Mutex<State>,
    wake: Condvar,
    /// The running thread's handle, for [`stop`] to join.
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct State {
    entries: BTreeMap<Key, Entry>,
    next_id: u64,
    /// A thread runs (or is being started) for these entries.
    running: bool,
    /// [`stop`] asks the thread to exit once it has no entries.
    stop: bool,
}

/// The timer (its thread is started by the first entry).
fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    TIMER.get_or_init(|| Timer {
        state: Mutex::new(State {
            entries: BTreeMap::new(),
            next_id: 0,
            running: false,
            stop: false,
        }),
        wake: Condvar::new(),
        thread: Mutex::new(None),
    })
}

/// Starts the thread for the entries (called when an entry found none
/// running, with the state lock released). If the OS refuses, the error
/// is reported and the entries wait for a later entry to start it (see
/// `background`).
fn start(timer: &'static Timer) {
    let spawned = Background::new().ensure("deadline timer", || {
        let handle = std::thread::Builder::new()
            .name("concur-timer".into())
            .spawn(move || run(timer))?;
        *timer.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(())
    });
    if !spawned {
        lock(timer).running = false;
    }
}

/// Stops the timer thread if it has no entries, and waits for it to exit;
/// the next entry starts a new one. `false` if entries are waiting (the
/// thread runs on). For tests that must end with no thread of the crate
/// running (Miri reports threads left behind as leaks).
pub(crate) fn stop() -> bool {
    let timer = timer();
    {
        let mut state = lock(timer);
        if !state.entries.is_empty() {
            return false;
        }
        state.stop = true;
    }
    timer.wake.notify_all();
    let handle = timer
        .thread
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(handle) = handle {
        let _ = handle.join();
    }
    lock(timer).stop = false;
    true
}

fn lock(timer: &Timer) -> MutexGuard<'_, State> {
    timer.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A waiter linked into the timer until dropped; borrows the waiter, so it
/// cannot outlive it.
pub(crate) struct Scheduled<'a> {
    key: Key,
    _waiter: PhantomData<&'a Waiter>,
}

impl<'a> Scheduled<'a> {
    /// Links `waiter` so the timer interrupts it at `at`.
    pub(crate) fn new(at: Instant, waiter: Pin<&'a Waiter>) -> Self {
        let timer = timer();
        let mut state = lock(timer);
        let key = (at, state.next_id);
        state.next_id += 1;
        let earliest = state.entries.keys().next().is_none_or(|first| key < *first);
        state.entries.insert(key, Entry(&*waiter));
        let start_thread = !std::mem::replace(&mut state.running, true);
        drop(state);
        if start_thread {
            start(timer);
        } else if earliest {
            timer.wake.notify_one();
        }
        Self {
            key,
            _waiter: PhantomData,
        }
    }
}

impl Scheduled<'static> {
    /// Links the waiter at `waiter` so the timer interrupts it at `at`,
    /// for a waiter inside a future (which no lifetime can name).
    ///
    /// # Safety
    /// The waiter stays alive and pinned until the returned guard is
    /// dropped, or both are leaked together (its memory then stays valid).
    pub(crate) unsafe fn pinned(at: Instant, waiter: *const Waiter) -> Self {
        // SAFETY: the caller keeps the waiter alive while this is linked.
        Scheduled::new(at, unsafe { Pin::new_unchecked(&*waiter) })
    }
}

impl Drop for Scheduled<'_> {
    fn drop(&mut self) {
        lock(timer()).entries.remove(&self.key);
    }
}

fn run(timer: &Timer) {
    let mut state = lock(timer);
    loop {
        if state.stop && state.entries.is_empty() {
            // An entry that comes after this starts a new thread.
            state.running = false;
            return;
        }
        let now = Instant::now();
        let mut wakers = Vec::new();
        while let Some(entry) = state.entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let waiter = entry.remove();
            // SAFETY: the entry was linked, so its waiter is alive: the
            // blocked call unlinks it, under this lock, before the waiter
            // is dropped. `interrupt` does not block (it wakes by address);
            // a future's waker is returned, to wake without the lock.
            wakers.extend(unsafe { (*waiter.0).interrupt_returning_waker() });
        }
        if !wakers.is_empty() {
            // A waker may schedule, or drop, a future whose drop unlinks
            // its entry here: wake with the lock released. A waker that
            // panics must not end the one timer thread.
            drop(state);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                crate::wake::wake_all(wakers);
            }));
            state = lock(timer);
            continue;
        }
        state = match state.entries.keys().next() {
            Some(first) => {
                let wait = first.0.saturating_duration_since(now);
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
    use std::time::Duration;

    fn scheduled_at(at: Instant) -> usize {
        lock(timer()).entries.keys().filter(|k| k.0 == at).count()
    }

    /// A blocked call's waiter is linked while it blocks and unlinked when
    /// the call returns (here: granted long before its deadline). Only
    /// where blocked threads use the timer.
    #[test]
    #[cfg(any(
        not(any(target_os = "linux", target_os = "android", windows)),
        concur_timer_fallback
    ))]
    fn a_blocked_wait_is_scheduled_only_while_it_blocks() {
        let at = Instant::now() + Duration::from_secs(7 * 3600 + 13);
        let m = crate::Mutex::new(());
        let held = m.lock();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| m.try_lock_until(at).is_some());
            let start = Instant::now();
            while scheduled_at(at) == 0 {
                assert!(start.elapsed() < Duration::from_secs(60), "never scheduled");
                std::thread::yield_now();
            }
            drop(held);
            assert!(waiter.join().unwrap());
        });
        assert_eq!(scheduled_at(at), 0);
    }

    /// A future's wait is linked while it is pending and unlinked when it
    /// resolves, on every platform.
    #[test]
    fn a_pending_future_is_scheduled_only_while_it_waits() {
        use std::future::Future;
        use std::task::{Context as TaskContext, Poll, Waker};
        let at = Instant::now() + Duration::from_secs(7 * 3600 + 17);
        let ctx = crate::Context::background().with_deadline(at);
        let sem = crate::Semaphore::new(1);
        let held = sem.try_acquire(1).unwrap();
        let mut cx = TaskContext::from_waker(Waker::noop());
        {
            let mut wait = std::pin::pin!(sem.acquire_async(&ctx, 1));
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            assert_eq!(scheduled_at(at), 1);
            drop(held);
            assert!(matches!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
        }
        assert_eq!(scheduled_at(at), 0);
    }
}
