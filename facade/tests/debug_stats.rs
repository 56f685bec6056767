//! Debug mode's contention statistics per lock site: run with
//! `RUSTFLAGS="--cfg concur_debug" cargo test`.

#![cfg(concur_debug)]

mod debug_events;

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use concur_sync::debug::{self, SiteStats};
use concur_sync::{Context, Mutex, RwLock, Semaphore};
use debug_events::{capture, wait_for};

/// The statistics of the site at `line` of this file.
fn site_at(line: u32) -> SiteStats {
    debug::stats()
        .into_iter()
        .find(|s| s.site.file() == file!() && s.site.line() == line)
        .unwrap_or_else(|| panic!("no statistics for line {line}"))
}

#[test]
fn uncontended_acquisitions_are_counted_with_no_wait() {
    capture();
    let m = Mutex::new(0);
    let l = RwLock::new(0);
    let s = Semaphore::new(1);
    let line = line!() + 2;
    for _ in 0..10 {
        *m.lock() += 1;
        let read = l.read();
        assert!(l.try_write().is_none());
        drop((read, s.try_acquire(1).unwrap()));
    }
    let mutex = site_at(line);
    assert_eq!(
        (mutex.kind, mutex.acquisitions, mutex.waits),
        ("mutex", 10, 0)
    );
    assert_eq!(mutex.wait_total, Duration::ZERO);
    assert_eq!(mutex.hold_histogram.total(), 10);
    assert_eq!(mutex.wait_histogram.total(), 0);
    let reads = site_at(line + 1);
    assert_eq!((reads.kind, reads.acquisitions), ("rwlock", 10));
    let permits = site_at(line + 3);
    assert_eq!((permits.kind, permits.acquisitions), ("semaphore", 10));
}

#[test]
fn a_wait_is_timed_when_it_blocks() {
    capture();
    let m = Mutex::new(());
    let held = m.lock();
    let ctx = Context::background();
    let mut cx = TaskContext::from_waker(futures::task::noop_waker_ref());
    let line = line!() + 1;
    let mut lock = pin!(m.lock_async(&ctx));
    assert!(lock.as_mut().poll(&mut cx).is_pending());
    drop(held);
    let Poll::Ready(Ok(guard)) = lock.as_mut().poll(&mut cx) else {
        panic!("the lock was free");
    };
    drop(guard);
    let stats = site_at(line);
    assert_eq!((stats.acquisitions, stats.waits), (1, 1));
    assert!(stats.wait_total > Duration::ZERO);
    assert_eq!(stats.wait_max, stats.wait_total);
    assert_eq!(stats.wait_histogram.total(), 1);
}

#[test]
fn a_hold_is_timed_in_watchdog_ticks() {
    capture();
    debug::set_threshold(Duration::from_millis(50)); // a 5 ms tick
    let l = RwLock::new(());
    let line = line!() + 1;
    let guard = l.write();
    let start = debug::scans();
    while debug::scans() < start + 4 {
        std::thread::yield_now();
    }
    drop(guard);
    let stats = site_at(line);
    assert_eq!(stats.acquisitions, 1);
    assert!(stats.hold_max >= Duration::from_millis(1), "{stats:?}");
    assert_eq!(stats.hold_total, stats.hold_max);
    assert_eq!(stats.hold_histogram.counts()[0], 0, "{stats:?}");
    assert_eq!(stats.hold_histogram.total(), 1);
}

#[test]
fn an_exited_threads_counts_are_kept() {
    capture();
    let m = Mutex::new(());
    let line = line!() + 4;
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..5 {
                drop(m.lock());
            }
        });
    });
    assert_eq!(site_at(line).acquisitions, 5);
}

#[test]
fn the_snapshot_is_sorted_and_report_emits_each_site() {
    capture();
    let m = Mutex::new(());
    let line = line!() + 1;
    drop(m.lock());
    let all = debug::stats();
    assert!(all.windows(2).all(|w| w[0].wait_total >= w[1].wait_total));
    debug::report();
    let event = wait_for(|e| {
        e.message == "lock site contention"
            && e.fields.get("site") == Some(&debug_events::site(file!(), line))
    });
    assert_eq!(event.level, tracing::Level::INFO);
    assert_eq!(event.field("kind"), "mutex");
    assert_eq!(event.field("acquisitions"), "1");
    assert_eq!(event.field("waits"), "0");
    assert_eq!(event.field("hold_hist"), "<1ms:1");
}

#[test]
fn histogram_buckets_are_powers_of_two() {
    capture();
    let m = Mutex::new(());
    drop(m.lock());
    let stats = debug::stats().pop().unwrap();
    let h = &stats.wait_histogram;
    assert_eq!(h.counts().len(), debug::WAIT_BUCKETS);
    assert_eq!(
        h.bounds(0),
        (Duration::ZERO, Some(Duration::from_micros(1)))
    );
    assert_eq!(
        h.bounds(3),
        (Duration::from_micros(4), Some(Duration::from_micros(8)))
    );
    let last = debug::WAIT_BUCKETS - 1;
    assert_eq!(
        h.bounds(last),
        (Duration::from_micros(1 << (last - 1)), None)
    );
}
