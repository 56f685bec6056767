//! Thread numbers for the pool: small, dense, unique among live threads.
//!
//! A pool shard's owner slot may be used by one thread only, with plain
//! loads and stores. Owners are named by thread number: 1, 2, 3, ... in the
//! order threads first use any pool. A thread that exits gives its number
//! back, and the next new thread takes the lowest free one, so it inherits
//! whatever the old thread owned (the old thread is gone: ownership is
//! still exclusive), and short-lived threads do not strand the slots.
//!
//! The fast path reads one `const`-initialized thread local without a
//! destructor (a plain load, no lazy-initialization check). A second
//! thread local, with a destructor, exists only to give the number back;
//! it is touched once per thread, when the number is taken.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Never an owner: a thread whose number has been given back (its thread
/// locals are being destroyed) uses the shared paths only.
pub(super) const EXITING: usize = usize::MAX;

/// Numbers handed out so far; the next fresh one is this plus one.
static ISSUED: AtomicUsize = AtomicUsize::new(0);
/// Numbers given back by exited threads, lowest first.
static FREE: Mutex<BinaryHeap<Reverse<usize>>> = Mutex::new(BinaryHeap::new());

thread_local! {
    /// This thread's number; 0 until it first asks.
    static NUMBER: Cell<usize> = const { Cell::new(0) };
    /// Gives the number back when the thread exits.
    static GIVE_BACK: GiveBack = const { GiveBack };
}

struct GiveBack;

impl Drop for GiveBack {
    fn drop(&mut self) {
        let number = NUMBER.with(|n| n.replace(EXITING));
        if number != 0 && number != EXITING {
            FREE.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(Reverse(number));
        }
    }
}

/// This thread's number (never 0; [`EXITING`] while its thread locals are
/// being destroyed).
#[inline]
pub(super) fn number() -> usize {
    let number = NUMBER.with(Cell::get);
    if number != 0 {
        return number;
    }
    take_number()
}

#[cold]
fn take_number() -> usize {
    // Registering the destructor first: if that is no longer possible (the
    // thread is exiting), this thread must not own anything.
    if GIVE_BACK.try_with(|_| ()).is_err() {
        NUMBER.with(|n| n.set(EXITING));
        return EXITING;
    }
    let recycled = FREE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop();
    let number = match recycled {
        Some(Reverse(number)) => number,
        None => ISSUED.fetch_add(1, Ordering::Relaxed) + 1,
    };
    NUMBER.with(|n| n.set(number));
    number
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_unique_among_live_threads_and_reused() {
        let mine = number();
        assert_eq!(number(), mine, "stable within a thread");
        // Both threads hold their numbers until both have one.
        let both = std::sync::Barrier::new(2);
        let (a, b) = std::thread::scope(|s| {
            let take = || {
                let n = number();
                both.wait();
                n
            };
            let a = s.spawn(take);
            let b = s.spawn(take);
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(a != mine && b != mine && a != b, "{mine} {a} {b}");
        // Both have exited and given their numbers back: a new thread gets
        // one of them (only this test takes numbers in this binary).
        let next = std::thread::spawn(number).join().unwrap();
        assert!(next == a.min(b), "{next} is not the lowest freed number");
    }
}
