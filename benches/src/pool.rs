//! Object pools (lower is better): take a 4 KiB buffer, write one byte of
//! it, give it back (touching the whole buffer would make the memory
//! traffic, not the pool, the cost).
//!
//! * `pool_get_put`: one thread, vs allocating the buffer each time, a
//!   `Mutex<Vec<T>>` pool and a thread-local free list (`RefCell<Vec<T>>`
//!   in a `thread_local!`, the fastest a pool of one type can be).
//! * `pool_get_put_2`, `pool_get_put_8`: the same on 2 and 8 threads at
//!   once, one shared pool (each thread its own free list for the
//!   thread-local anchor); the time is per operation over all threads.

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Mutex as StdMutex;

use crate::contended::run_threads;
use crate::{time, Group};

/// The pool groups: one thread, then 2 and 8.
pub fn groups() -> Vec<Group> {
    vec![single(), threaded(2), threaded(8)]
}

fn buffer() -> Vec<u8> {
    Vec::with_capacity(4096)
}

fn concur_pool() -> concur_sync::Pool<Vec<u8>> {
    concur_sync::Pool::new(buffer).with_reset(|v| v.clear())
}

/// A pool as a `Mutex<Vec<T>>`: pop or make, use, clear, push.
fn mutex_vec(list: &StdMutex<Vec<Vec<u8>>>) {
    let mut v = list.lock().unwrap().pop().unwrap_or_else(buffer);
    black_box(&mut v).push(1);
    v.clear();
    list.lock().unwrap().push(v);
}

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A thread-local free list: pop or make, use, clear, push.
fn thread_local_list() {
    let mut v = FREE.with_borrow_mut(Vec::pop).unwrap_or_else(buffer);
    black_box(&mut v).push(1);
    v.clear();
    FREE.with_borrow_mut(|free| free.push(v));
}

fn single() -> Group {
    let concur = concur_pool();
    let list = StdMutex::new(Vec::new());
    Group::new("pool_get_put", "take a 4 KiB buffer, use it, give it back")
        .case("concur", move |n| {
            time(n, || black_box(concur.get()).push(1))
        })
        .case("allocate", |n| time(n, || black_box(buffer()).push(1)))
        .case("mutex_vec", move |n| time(n, || mutex_vec(&list)))
        .case("thread_local", |n| time(n, thread_local_list))
}

fn threaded(threads: usize) -> Group {
    let name = if threads == 2 {
        "pool_get_put_2"
    } else {
        "pool_get_put_8"
    };
    let concur = concur_pool();
    let list = StdMutex::new(Vec::new());
    Group::new(
        name,
        "the same on every thread (per operation, all threads)",
    )
    .case("concur", move |n| {
        run_threads(threads, n, || black_box(concur.get()).push(1))
    })
    .case("mutex_vec", move |n| {
        run_threads(threads, n, || mutex_vec(&list))
    })
    .case("thread_local", move |n| {
        run_threads(threads, n, thread_local_list)
    })
}
