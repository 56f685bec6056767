//! Models of `RawRwLock`'s downgrade and recursive read: a downgrading
//! writer lets parked readers in (and no writer between), and a recursive
//! read by a reader never waits behind a waiting writer.

#![cfg(loom)]

use concur_core::RawRwLock;
use concur_loom_tests::{spin_until, Tracked};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// A writer downgrades while a reader waits for it and a second writer
/// races in: the reader gets in (no lost wake), the value the downgraded
/// reader sees is its own write (no writer got in between), and the lock
/// ends unlocked.
#[test]
fn downgrade_lets_readers_in_and_no_writer_between() {
    loom::model(|| {
        let lock = Arc::new(RawRwLock::<concur_core::DefaultPark>::new());
        let data = Arc::new(Tracked::new());
        lock.write();
        let reader = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || {
                lock.read();
                let seen = data.get();
                // SAFETY: read-locked just above by this thread.
                unsafe { lock.read_unlock() };
                seen
            })
        };
        let writer = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || {
                lock.write();
                data.bump();
                // SAFETY: write-locked just above by this thread.
                unsafe { lock.write_unlock() };
            })
        };
        data.bump();
        // SAFETY: this thread holds the write lock (taken above).
        unsafe { lock.downgrade() };
        assert_eq!(data.get(), 1, "a writer got in during the downgrade");
        // SAFETY: the downgrade left this thread a read lock.
        unsafe { lock.read_unlock() };
        let seen = reader.join().unwrap();
        writer.join().unwrap();
        assert!((1..=2).contains(&seen), "the reader saw {seen}");
        assert!(!lock.is_locked());
    });
}

/// A writer downgrades while a reader waits: the reader gets in while the
/// downgraded reader still holds its read lock (it is woken by the
/// downgrade itself, not by a later release).
#[test]
fn downgrade_wakes_a_parked_reader_at_once() {
    loom::model(|| {
        let lock = Arc::new(RawRwLock::<concur_core::DefaultPark>::new());
        let entered = Arc::new(AtomicBool::new(false));
        lock.write();
        let reader = {
            let (lock, entered) = (lock.clone(), entered.clone());
            thread::spawn(move || {
                lock.read();
                entered.store(true, Ordering::Release);
                // SAFETY: read-locked just above by this thread.
                unsafe { lock.read_unlock() };
            })
        };
        // SAFETY: this thread holds the write lock (taken above).
        unsafe { lock.downgrade() };
        spin_until(|| entered.load(Ordering::Acquire));
        // SAFETY: the downgrade left this thread a read lock.
        unsafe { lock.read_unlock() };
        reader.join().unwrap();
        assert!(!lock.is_locked());
    });
}

/// A reader holds the lock and a writer waits for it: a plain `try_read`
/// is refused (writer preference) but a recursive read enters at once, so
/// the reader can finish and the writer then gets in.
#[test]
fn recursive_read_passes_a_waiting_writer() {
    loom::model(|| {
        let lock = Arc::new(RawRwLock::<concur_core::DefaultPark>::new());
        lock.read();
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || {
                lock.write();
                // SAFETY: write-locked just above by this thread.
                unsafe { lock.write_unlock() };
            })
        };
        // Until the writer announces itself, a plain read would pass too.
        spin_until(|| {
            let refused = !lock.try_read();
            if !refused {
                // SAFETY: read-locked just above by this thread.
                unsafe { lock.read_unlock() };
            }
            refused
        });
        lock.read_recursive();
        // SAFETY: two read locks are held by this thread.
        unsafe {
            lock.read_unlock();
            lock.read_unlock();
        }
        writer.join().unwrap();
        assert!(!lock.is_locked());
    });
}
