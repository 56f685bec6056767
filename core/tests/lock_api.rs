//! concur's raw locks under `lock_api`'s safe wrappers: exclusion across
//! threads, the downgrade, recursive reads, and the timed traits.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use concur_core::{RawMutex, RawRwLock};

type Mutex<T> = lock_api::Mutex<RawMutex, T>;
type RwLock<T> = lock_api::RwLock<RawRwLock, T>;

#[test]
fn a_lock_api_mutex_excludes_across_threads() {
    let m = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..1000 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.lock(), 4000);
    assert!(!m.is_locked());
    // GuardSend: a guard may be dropped on another thread.
    let guard = m.lock();
    thread::scope(|s| {
        s.spawn(move || drop(guard));
    });
    assert!(m.try_lock().is_some());
}

#[test]
fn a_lock_api_rwlock_downgrades_and_reads_recursively() {
    let l = RwLock::new(1);
    let mut w = l.write();
    *w += 1;
    let r = lock_api::RwLockWriteGuard::downgrade(w);
    assert!(l.try_write().is_none());
    let again = l.read_recursive();
    assert_eq!(*r + *again, 4);
    drop((r, again));
    assert!(!l.is_locked());
}

#[cfg(any(target_os = "linux", target_os = "android", windows))]
#[test]
fn the_timed_traits_give_up_at_their_deadline() {
    let m = Mutex::new(());
    let held = m.lock();
    thread::scope(|s| {
        s.spawn(|| assert!(m.try_lock_for(Duration::from_millis(5)).is_none()));
    });
    drop(held);
    assert!(
        m.try_lock_for(Duration::ZERO).is_some(),
        "a free lock is taken"
    );

    let l = RwLock::new(());
    let w = l.write();
    thread::scope(|s| {
        s.spawn(|| {
            assert!(l.try_read_for(Duration::from_millis(5)).is_none());
            let at = concur_core::MonotonicDeadline::now();
            assert!(l.try_write_until(at).is_none());
        });
    });
    drop(w);
    assert!(l.try_write_for(Duration::from_millis(5)).is_some());
    // The timed-out writer left no trace: readers enter.
    assert!(l.try_read().is_some());
}
