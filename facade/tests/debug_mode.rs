//! Debug mode: run with `RUSTFLAGS="--cfg concur_debug" cargo test`.
//!
//! A capturing subscriber collects the watchdog's events; the threshold is
//! 50 ms. Tests wait for events (or for watchdog scans), never for a clock.

#![cfg(concur_debug)]

use std::io::Write;
use std::sync::{mpsc, Arc, Condvar, Mutex as StdMutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::{debug, Context, Mutex, RwLock, Semaphore};

const HANG: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Log {
    text: StdMutex<String>,
    grew: Condvar,
}

#[derive(Clone)]
struct Writer(Arc<Log>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .text
            .lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(buf));
        self.0.grew.notify_all();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log() -> &'static Arc<Log> {
    static LOG: OnceLock<Arc<Log>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Log::default());
        let writer = Writer(log.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        debug::set_threshold(Duration::from_millis(50));
        log
    })
}

/// Blocks until a captured line satisfies `pred`; returns it.
fn wait_for_line(pred: impl Fn(&str) -> bool) -> String {
    let log = log();
    let deadline = Instant::now() + HANG;
    let mut text = log.text.lock().unwrap();
    loop {
        if let Some(line) = text.lines().find(|l| pred(l)) {
            return line.to_string();
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            panic!("hang: no such event; captured:\n{}", *text);
        };
        text = log.grew.wait_timeout(text, left).unwrap().0;
    }
}

fn lines_with(needle: &str) -> Vec<String> {
    log()
        .text
        .lock()
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

fn site(line: u32) -> String {
    format!("facade/tests/debug_mode.rs:{line}")
}

/// The `duration=` field of an event, in seconds.
fn duration_of(line: &str) -> f64 {
    let d = line.split("duration=").nth(1).unwrap();
    d[..d.find('s').unwrap()].parse().unwrap()
}

#[test]
fn a_lock_held_too_long_is_reported_while_held() {
    log();
    let m = Mutex::new(());
    let line = line!() + 1;
    let guard = m.lock();
    let event = wait_for_line(|l| l.contains("mutex held too long") && l.contains(&site(line)));
    // The guard is still alive: the report came while the lock was held.
    assert!(m.try_lock().is_none());
    assert!(event.contains(" WARN "), "{event}");
    assert!(event.contains(&format!("holder={}", site(line))), "{event}");
    assert!(event.contains("waiters=0"), "{event}");
    assert!(duration_of(&event) >= 0.050, "{event}");
    drop(guard);
}

#[test]
fn a_thread_waiting_too_long_names_its_site_and_the_holders() {
    log();
    let m = Arc::new(Mutex::new(()));
    let holder_line = line!() + 1;
    let guard = m.lock();
    let (tx, rx) = mpsc::channel();
    let waiter_line = line!() + 5;
    let waiter = {
        let m = m.clone();
        thread::spawn(move || {
            tx.send(()).unwrap();
            drop(m.lock());
        })
    };
    rx.recv().unwrap();
    let event =
        wait_for_line(|l| l.contains("mutex waiting too long") && l.contains(&site(waiter_line)));
    assert!(
        event.contains(&format!("waiter={}", site(waiter_line))),
        "{event}"
    );
    assert!(
        event.contains(&format!("holder={}", site(holder_line))),
        "{event}"
    );
    // And the holder's own report counts the waiter.
    let held = wait_for_line(|l| {
        l.contains("mutex held too long")
            && l.contains(&site(holder_line))
            && l.contains("waiters=1")
    });
    assert!(held.contains("waiters=1"));
    drop(guard);
    waiter.join().unwrap();
}

#[test]
fn locks_released_in_time_are_not_reported() {
    log();
    let m = Mutex::new(0u64);
    let l = RwLock::new(0u64);
    let line = line!() + 5;
    let start = debug::scans();
    // Keep locking for more than three thresholds' worth of scans.
    while debug::scans() < start + 40 {
        for _ in 0..1000 {
            *m.lock() += 1;
            *l.write() += 1;
        }
    }
    assert!(
        lines_with(&site(line)).is_empty(),
        "{:?}",
        lines_with(&site(line))
    );
}

#[test]
fn a_stuck_lock_is_reported_again_at_growing_intervals() {
    log();
    let l = RwLock::new(());
    let line = line!() + 1;
    let guard = l.write();
    let first = wait_for_line(|e| e.contains("rwlock held too long") && e.contains(&site(line)));
    let second = wait_for_line(|e| {
        e.contains("rwlock held too long")
            && e.contains(&site(line))
            && duration_of(e) > duration_of(&first)
    });
    assert!(
        duration_of(&second) >= 1.8 * duration_of(&first),
        "second report should come when the duration has doubled: {first} / {second}"
    );
    assert_eq!(lines_with(&site(line)).len(), 2, "not a flood");
    drop(guard);
}

#[test]
fn readers_and_semaphore_waiters_are_reported_too() {
    log();
    let l = RwLock::new(());
    let read_line = line!() + 1;
    let reader = l.read();
    wait_for_line(|e| e.contains("rwlock held too long") && e.contains(&site(read_line)));
    drop(reader);

    let sem = Arc::new(Semaphore::new(1));
    let permit = sem.try_acquire(1).unwrap();
    let (ctx, cancel) = Context::background().with_cancel();
    let (s2, c2) = (sem.clone(), ctx.clone());
    let acquire_line = line!() + 1;
    let waiter = thread::spawn(move || s2.acquire(&c2, 1).map(drop));
    let event = wait_for_line(|e| {
        e.contains("semaphore waiting too long") && e.contains(&site(acquire_line))
    });
    assert!(
        event.contains("holder=none"),
        "a semaphore has no single holder: {event}"
    );
    cancel.cancel();
    assert!(waiter.join().unwrap().is_err());
    drop(permit);
}

/// A task awaiting a lock is reported like a waiting thread, under the
/// site of its `lock_async` / `write_async` call (a poll's site says
/// nothing), and its hold, once it has the lock, under the same site.
#[test]
fn a_task_waiting_too_long_names_its_async_call_site() {
    log();
    let m = Arc::new(Mutex::new(()));
    let l = Arc::new(RwLock::new(()));
    let guard = m.lock();
    let reading = l.read();
    let (tx, rx) = mpsc::channel();
    let (until_seen, seen) = Context::background().with_cancel();
    let lock_line = line!() + 9;
    let write_line = line!() + 8;
    let task = {
        let (m, l) = (m.clone(), l.clone());
        thread::spawn(move || {
            futures::executor::block_on(async {
                tx.send(()).unwrap();
                let ctx = Context::background();
                let (held, writing) =
                    futures::future::join(m.lock_async(&ctx), l.write_async(&ctx)).await;
                let (held, writing) = (held.unwrap(), writing.unwrap());
                // Hold both until the test has seen the hold reports.
                let _ = until_seen.with_timeout(HANG).done().await;
                drop((held, writing));
            })
        })
    };
    rx.recv().unwrap();
    for (kind, line) in [("mutex", lock_line), ("rwlock", write_line)] {
        let event = wait_for_line(|e| {
            e.contains(&format!("{kind} waiting too long")) && e.contains(&site(line))
        });
        assert!(event.contains(&format!("waiter={}", site(line))), "{event}");
    }
    drop((guard, reading));
    for (kind, line) in [("mutex", lock_line), ("rwlock", write_line)] {
        wait_for_line(|e| {
            e.contains(&format!("{kind} held too long"))
                && e.contains(&format!("holder={}", site(line)))
        });
    }
    seen.cancel();
    task.join().unwrap();
}

/// A blocking wait made from inside a future (a thread that is polling
/// one, as an executor's worker is) never panics, and is reported when it
/// waits too long, like any other.
#[test]
fn a_blocking_wait_inside_a_poll_is_reported_too() {
    log();
    let m = Arc::new(Mutex::new(()));
    let guard = m.lock();
    let (tx, rx) = mpsc::channel();
    let line = line!() + 6;
    let worker = {
        let m = m.clone();
        thread::spawn(move || {
            futures::executor::block_on(async move {
                tx.send(()).unwrap();
                drop(m.lock());
            })
        })
    };
    rx.recv().unwrap();
    let event = wait_for_line(|e| e.contains("mutex waiting too long") && e.contains(&site(line)));
    assert!(event.contains(&format!("waiter={}", site(line))), "{event}");
    drop(guard);
    worker.join().unwrap();
}
