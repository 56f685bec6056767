//! The pool's slots: the owner slot a thread keeps for itself, what
//! `max_idle` keeps, guards that move between threads, and the owner slot
//! of an exited thread going to the next thread that takes its number.
//! One test, so no other test's threads take numbers meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use concur_sync::Pool;

/// A pool of numbered objects that counts how many it made.
fn counting_pool(max_idle: usize) -> (Arc<Pool<usize>>, Arc<AtomicUsize>) {
    let made = Arc::new(AtomicUsize::new(0));
    let pool = {
        let made = made.clone();
        Pool::new(move || made.fetch_add(1, Ordering::Relaxed)).with_max_idle(max_idle)
    };
    (Arc::new(pool), made)
}

#[test]
fn owner_slots_keep_reuse_and_pass_on() {
    // One thread alone: its object comes back to its own slot, every time.
    let (pool, made) = counting_pool(64);
    for _ in 0..100 {
        drop(pool.get());
    }
    assert_eq!(made.load(Ordering::Relaxed), 1, "the one object was reused");
    assert_eq!(pool.idle(), 1);

    // max_idle 1: only the owner slot; a second object out at once is
    // dropped when it comes back.
    let (pool, made) = counting_pool(1);
    let (a, b) = (pool.get(), pool.get());
    assert_eq!(made.load(Ordering::Relaxed), 2);
    drop((a, b));
    assert_eq!(pool.idle(), 1, "max_idle 1 keeps one object");
    drop(pool.get());
    assert_eq!(made.load(Ordering::Relaxed), 2, "the kept one was reused");

    // A guard dropped on another thread goes back through the shared
    // paths (that thread does not own the getter's shard) and is reused.
    let (pool, made) = counting_pool(64);
    let guard = pool.get();
    let object = *guard;
    thread::scope(|s| {
        s.spawn(move || drop(guard));
    });
    assert_eq!(pool.idle(), 1);
    let again = pool.get();
    assert_eq!(*again, object, "the moved-back object was reused");
    assert_eq!(made.load(Ordering::Relaxed), 1);
    drop(again);

    // A thread that exits leaves its object in its owner slot; the next
    // new thread takes the freed number, owns the slot, and reuses it.
    let (pool, made) = counting_pool(64);
    let first = {
        let pool = pool.clone();
        thread::spawn(move || *pool.get()).join().unwrap()
    };
    assert_eq!(pool.idle(), 1, "the exited thread's object is still idle");
    let second = {
        let pool = pool.clone();
        thread::spawn(move || *pool.get()).join().unwrap()
    };
    assert_eq!(
        second, first,
        "the next thread reused the exited one's object"
    );
    assert_eq!(made.load(Ordering::Relaxed), 1);

    // Dropping the pool drops what its slots hold (no leak under Miri).
    drop(pool);
}
