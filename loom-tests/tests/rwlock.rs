//! Models of `RawRwLock`: reader/writer exclusion, writer preference, and
//! interrupted writers that must not leave readers blocked.

#![cfg(loom)]

use concur_core::{Interrupted, RawRwLock};
use concur_loom_tests::{shared_node, spin_until, Tracked};
use loom::sync::Arc;
use loom::thread;

/// The lock under test, with the default (loom) parker.
type RwLock = RawRwLock;

/// Takes a read lock, reads the tracked cell, unlocks; returns what it saw.
fn read_section(lock: &RwLock, data: &Tracked) -> u64 {
    lock.read();
    let seen = data.get();
    // SAFETY: read-locked just above by this thread.
    unsafe { lock.read_unlock() };
    seen
}

/// Takes the write lock, bumps the tracked cell, unlocks.
fn write_section(lock: &RwLock, data: &Tracked) {
    lock.write();
    data.bump();
    // SAFETY: write-locked just above by this thread.
    unsafe { lock.write_unlock() };
}

/// Whether a writer has announced itself, as a new reader sees it: while
/// the caller holds a read lock (so no writer can hold the lock), a failing
/// `try_read` means a writer is waiting.
fn reader_turned_away(lock: &RwLock) -> bool {
    if lock.try_read() {
        // SAFETY: read-locked just above by this thread.
        unsafe { lock.read_unlock() };
        false
    } else {
        true
    }
}

/// Two readers and a writer: the writer's write never overlaps a reader's
/// read (loom would report the race), each reader sees the value from
/// before or after the write, and the lock ends unlocked.
#[test]
fn readers_and_writer_exclude() {
    loom::model(|| {
        let lock = Arc::new(RwLock::new());
        let data = Arc::new(Tracked::new());

        let writer = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || write_section(&lock, &data))
        };
        let reader = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || read_section(&lock, &data))
        };
        let seen = read_section(&lock, &data);

        writer.join().unwrap();
        let reader_seen = reader.join().unwrap();
        assert!(seen <= 1 && reader_seen <= 1);
        assert_eq!(data.get(), 1);
        assert!(!lock.is_locked());
    });
}

/// Writer preference. A reader holds the lock and a writer blocks in
/// `write()`. Once the writer has announced itself, new readers are turned
/// away although only readers hold the lock: `try_read` keeps failing, and a
/// reader that blocks in `read()` then enters only after the writer has
/// written.
#[test]
fn waiting_writer_turns_readers_away() {
    loom::model(|| {
        let lock = Arc::new(RwLock::new());
        let data = Arc::new(Tracked::new());
        lock.read();

        let writer = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || write_section(&lock, &data))
        };
        // Without writer preference this never ends (loom reports it).
        spin_until(|| reader_turned_away(&lock));
        assert!(!lock.try_read(), "a reader entered past a waiting writer");
        assert!(!lock.is_write_locked());

        let late_reader = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || read_section(&lock, &data))
        };

        // SAFETY: read-locked at the start by this thread.
        unsafe { lock.read_unlock() };

        writer.join().unwrap();
        assert_eq!(
            late_reader.join().unwrap(),
            1,
            "a late reader entered before the waiting writer"
        );
        assert!(!lock.is_locked());
    });
}

/// A reader holds the lock; a writer waits in `write_interruptible`; a new
/// reader blocks behind the waiting writer. Interrupting the writer must
/// withdraw it (`Interrupted`, no lock) and let the blocked reader in while
/// the first reader still holds its lock.
#[test]
fn interrupted_writer_lets_readers_in() {
    loom::model(|| {
        let lock = Arc::new(RwLock::new());
        lock.read();

        let node = shared_node();
        let writer = {
            let (lock, node) = (lock.clone(), node.clone());
            thread::spawn(move || lock.write_interruptible(node.as_ref()))
        };
        spin_until(|| reader_turned_away(&lock));

        let reader = {
            let lock = lock.clone();
            thread::spawn(move || {
                lock.read();
                // SAFETY: read-locked just above by this thread.
                unsafe { lock.read_unlock() };
            })
        };

        node.interrupt();
        assert_eq!(writer.join().unwrap(), Err(Interrupted));
        // Completes only if the withdrawn writer no longer holds readers
        // back: this thread still holds its read lock.
        reader.join().unwrap();
        assert!(
            lock.try_read(),
            "readers still turned away after the writer withdrew"
        );

        // SAFETY: two read locks are held by this thread (`read`, `try_read`).
        unsafe {
            lock.read_unlock();
            lock.read_unlock();
        }
        assert!(!lock.is_locked());
    });
}

/// A waiting writer is interrupted while the reader it waits for unlocks,
/// and a reader is blocked behind it. The writer returns `Ok` (writes,
/// unlocks) or `Interrupted`; readers and writer never overlap; the reader
/// enters after the writer if the writer got the lock; everyone joins; the
/// lock ends unlocked.
#[test]
fn interrupted_writer_races_unlock() {
    loom::model(|| {
        let lock = Arc::new(RwLock::new());
        let data = Arc::new(Tracked::new());
        lock.read();

        let node = shared_node();
        let writer = {
            let (lock, data, node) = (lock.clone(), data.clone(), node.clone());
            thread::spawn(move || {
                let result = lock.write_interruptible(node.as_ref());
                if result.is_ok() {
                    data.bump();
                    // SAFETY: write-locked by the call above.
                    unsafe { lock.write_unlock() };
                }
                result
            })
        };
        spin_until(|| reader_turned_away(&lock));

        let reader = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || read_section(&lock, &data))
        };
        let interrupter = thread::spawn(move || node.interrupt());

        let _ = data.get();
        // SAFETY: read-locked at the start by this thread.
        unsafe { lock.read_unlock() };

        interrupter.join().unwrap();
        let result = writer.join().unwrap();
        let seen = reader.join().unwrap();
        assert!(matches!(result, Ok(()) | Err(Interrupted)));
        assert_eq!(data.get(), u64::from(result.is_ok()));
        // A writer that was not withdrawn kept the reader out until it had
        // written; a withdrawn one never wrote.
        assert_eq!(seen, data.get());
        assert!(!lock.is_locked());
    });
}
