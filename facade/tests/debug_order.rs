//! Debug mode's lock-order checking: run with
//! `RUSTFLAGS="--cfg concur_debug" cargo test`.
//!
//! Every situation is built one thread after the other, so nothing here
//! ever deadlocks: the point of the report is that it comes before the
//! interleaving that would.

#![cfg(concur_debug)]

mod debug_events;

use std::sync::{mpsc, Arc};
use std::thread;

use concur_sync::{debug, Condvar, Context, Group, Mutex, Once, RwLock, Semaphore};
use debug_events::{capture, matching, Event, INVERSION, RECURSIVE_READ};

fn at(line: u32) -> String {
    debug_events::site(file!(), line)
}

fn inversions_naming(lines: &[u32]) -> Vec<Event> {
    debug_events::inversions_naming(file!(), lines)
}

/// Runs `f` on a thread of its own, to the end.
fn on_thread(name: &str, f: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn two_threads_taking_two_locks_in_opposite_orders_are_reported_once() {
    capture();
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let (tx, rx) = mpsc::channel();
    let (a1, b1, tx1) = (a.clone(), b.clone(), tx.clone());
    on_thread("first", move || {
        let (_a, held) = (a1.lock(), line!());
        let (_b, taken) = (b1.lock(), line!());
        tx1.send((held, taken)).unwrap();
    });
    let (a2, b2) = (a.clone(), b.clone());
    on_thread("second", move || {
        let (_b, held) = (b2.lock(), line!());
        let (_a, taken) = (a2.lock_ctx(&Context::background()).unwrap(), line!());
        tx.send((held, taken)).unwrap();
    });
    let ((a_held, b_taken), (b_held, a_taken)) = (rx.recv().unwrap(), rx.recv().unwrap());
    let found = inversions_naming(&[a_held, b_taken, b_held, a_taken]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let event = &found[0];
    assert_eq!(event.level, tracing::Level::WARN);
    assert_eq!(event.field("locks"), "2");
    let edges = event.field("edges");
    assert!(edges.contains("on thread first") && edges.contains("on thread second"));
    // The cycle names both locks, and comes back to where it started.
    let cycle: Vec<&str> = event.field("cycle").split(" -> ").collect();
    assert_eq!(cycle.len(), 3, "{cycle:?}");
    assert_eq!(cycle[0], cycle[2]);
    assert!(cycle.iter().all(|l| l.starts_with("mutex#")));

    // The same inversion again, from other threads and sites: not again.
    for _ in 0..3 {
        let (a3, b3) = (a.clone(), b.clone());
        on_thread("again", move || drop((b3.lock(), a3.lock())));
    }
    let cycle = event.field("cycle").to_string();
    let again = matching(|e| e.message == INVERSION && e.field("cycle") == cycle);
    assert_eq!(again.len(), 1, "{again:#?}");
}

#[test]
fn a_longer_cycle_through_rwlocks_and_a_semaphore_is_found() {
    capture();
    let m = Arc::new(Mutex::new(()));
    let l = Arc::new(RwLock::new(()));
    let s = Arc::new(Semaphore::new(2));
    let bg = Context::background();
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (m1, l1, lines1) = (m.clone(), l.clone(), lines.clone());
    on_thread("m-then-l", move || {
        let _m = m1.lock();
        let (_r, line) = (l1.read(), line!());
        lines1.lock().unwrap().push(line);
    });
    let (l2, s2, lines2, bg2) = (l.clone(), s.clone(), lines.clone(), bg.clone());
    on_thread("l-then-s", move || {
        let _w = l2.write();
        let (_p, line) = (s2.acquire(&bg2, 1).unwrap(), line!());
        lines2.lock().unwrap().push(line);
    });
    assert!(inversions_naming(&lines.lock().unwrap()).is_empty());
    let (s3, m3, lines3) = (s.clone(), m.clone(), lines.clone());
    on_thread("s-then-m", move || {
        let _p = s3.acquire(&bg, 1).unwrap();
        let (_m, line) = (m3.lock(), line!());
        lines3.lock().unwrap().push(line);
    });
    let found = inversions_naming(&lines.lock().unwrap());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field("locks"), "3");
    let cycle = found[0].field("cycle");
    for kind in ["mutex#", "rwlock#", "semaphore#"] {
        assert!(cycle.contains(kind), "{cycle}");
    }
}

#[test]
fn try_lock_cannot_deadlock_and_adds_no_edge() {
    capture();
    let a = Mutex::new(());
    let b = Mutex::new(());
    let held = a.lock();
    let (tried, tried_line) = (b.try_lock().unwrap(), line!());
    drop((tried, held));
    let _b = b.lock();
    let (_a, line) = (a.lock(), line!());
    assert!(inversions_naming(&[tried_line]).is_empty());
    assert!(inversions_naming(&[line]).is_empty());
}

#[test]
fn a_consistent_order_from_eight_threads_reports_nothing() {
    capture();
    let a = Arc::new(Mutex::new(0u64));
    let b = Arc::new(RwLock::new(0u64));
    let line = line!() + 8;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (a, b) = (a.clone(), b.clone());
            thread::spawn(move || {
                for _ in 0..100_000 / 8 {
                    let mut a = a.lock();
                    *b.write() += 1;
                    *a += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*a.lock(), 100_000);
    assert!(inversions_naming(&[line]).is_empty());
    assert!(
        matching(|e| e.message == INVERSION && e.field("edges").contains(&at(line))).is_empty()
    );
}

#[test]
fn a_guard_dropped_on_another_thread_leaves_no_false_edge() {
    capture();
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    // Held here, released on another thread: this thread's stack keeps an
    // entry, which must not order `b` after `a`.
    let guard = a.lock();
    thread::scope(|s| {
        s.spawn(move || drop(guard));
    });
    let (_b, b_line) = (b.lock(), line!());
    drop(_b);
    let (b2, a2) = (b.clone(), a.clone());
    on_thread("b-then-a", move || drop((b2.lock(), a2.lock())));
    assert!(inversions_naming(&[b_line]).is_empty());
}

#[test]
fn a_recursive_read_is_reported_once_with_both_sites() {
    capture();
    let l = RwLock::new(());
    let (outer, outer_line) = (l.read(), line!());
    let (inner, inner_line) = (l.read(), line!());
    drop(inner);
    // Through `read_recursive`, which is what it is for: no report.
    let (fine, fine_line) = (l.read_recursive(), line!());
    drop((fine, outer));
    let found = matching(|e| e.message == RECURSIVE_READ && e.field("site") == at(inner_line));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field("held"), at(outer_line));
    assert_eq!(found[0].level, tracing::Level::WARN);
    assert!(
        matching(|e| e.message == RECURSIVE_READ && e.field("site") == at(fine_line)).is_empty()
    );
    // The same pair of sites, again: reported once.
    for _ in 0..3 {
        let outer = l.read();
        let again = l.read();
        drop((again, outer));
    }
    let sites = line!() - 4;
    let pairs = matching(|e| e.message == RECURSIVE_READ && e.field("site") == at(sites + 1));
    assert_eq!(pairs.len(), 1);
}

#[test]
fn a_once_initializer_that_takes_a_lock_is_ordered_after_the_cell() {
    capture();
    let cell = Arc::new(Once::<u32>::new());
    let m = Arc::new(Mutex::new(()));
    // A holder of `m` waits on the cell (its initializer fails: still empty)...
    let (c1, m1) = (cell.clone(), m.clone());
    let once_line = line!() + 3;
    on_thread("holds-m", move || {
        let _m = m1.lock();
        assert!(c1.get_or_try_init(|| Err::<u32, ()>(())).is_err());
    });
    // ...and an initializer takes `m`: each would wait for the other.
    let (c2, m2) = (cell.clone(), m.clone());
    let init_line = line!() + 3;
    on_thread("inits", move || {
        let value = c2.get_or_init(|| {
            drop(m2.lock());
            1
        });
        assert_eq!(*value, 1);
    });
    let found = inversions_naming(&[once_line, init_line]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].field("cycle").contains("once#"));
}

#[test]
fn a_group_task_taking_a_lock_its_waiter_holds_is_reported() {
    capture();
    let m = Arc::new(Mutex::new(()));
    let group: Group = Group::builder().limit(2).build().unwrap();
    let m1 = m.clone();
    let task_line = line!() + 1;
    group.spawn(move || drop(m1.lock()));
    group.wait(&Context::background()).unwrap();
    // Nothing is unfinished now: this wait returns at once, but had a task
    // been running, it would have waited for it while holding `m`.
    let _m = m.lock();
    let (waited, wait_line) = (group.wait(&Context::background()), line!());
    waited.unwrap();
    let found = inversions_naming(&[task_line, wait_line]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].field("cycle").contains("group#"));
}

#[test]
fn short_lived_locks_leave_the_graph() {
    capture();
    let outer = Mutex::new(());
    let held = outer.lock();
    for _ in 0..100_000 {
        let inner = Mutex::new(());
        drop(inner.lock());
    }
    drop(held);
    // Other tests of this binary add a few edges of their own meanwhile;
    // without the removal, this one alone would have added 100,000.
    let size = debug::graph_size();
    assert!(size.edges < 1_000, "{size:?}");
    assert!(size.locks < 1_000, "{size:?}");
}

/// A condvar wait releases its mutex and takes it back while the thread
/// still holds what it took meanwhile: that re-lock is ordered too (a
/// thread that takes the mutex and then `a` while this one waits would
/// deadlock with it).
#[test]
fn a_condvar_waits_relock_is_ordered_after_what_the_waiter_holds() {
    capture();
    let m = Mutex::new(());
    let a = Mutex::new(());
    let cv = Condvar::new();
    let guard = m.lock();
    let (_a, a_line) = (a.lock(), line!());
    let ctx = Context::background().with_timeout(std::time::Duration::from_millis(1));
    let ((guard, ended), wait_line) = (cv.wait_ctx(&ctx, guard), line!());
    assert!(ended.is_err(), "the deadline ends the wait");
    drop(guard);
    let found = inversions_naming(&[a_line, wait_line]);
    assert_eq!(found.len(), 1, "{found:#?}");
}
