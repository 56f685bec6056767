//! The held-lock stack, alone (also run under Miri by `.ci/run`).

use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use super::{HeldLock, Hold, Mode, Stack};

struct Counted(Arc<AtomicUsize>);
impl Wake for Counted {
    fn wake(self: Arc<Self>) {}
}
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn hold(id: u64, mode: Mode, task: Option<Waker>) -> Hold {
    Hold {
        lock: HeldLock {
            id,
            token: id * 10,
            site: Location::caller(),
            since: 7,
            mode,
        },
        task: task.map(Box::new),
    }
}

#[test]
fn pops_the_most_recent_matching_hold_from_anywhere() {
    let stack = Stack::new();
    for id in 0..40 {
        stack.push(hold(id % 4, Mode::Mutex, None));
    }
    stack.push(hold(9, Mode::Read, None));
    assert_eq!(stack.len(), 41);
    assert!(stack.pop(9, Mode::Write, None, &mut Vec::new()).is_none());
    assert!(stack.pop(9, Mode::Read, None, &mut Vec::new()).is_some());
    // Out of order: one from the middle, told by its token.
    assert!(stack
        .pop(2, Mode::Mutex, Some(21), &mut Vec::new())
        .is_none());
    assert!(stack
        .pop(2, Mode::Mutex, Some(20), &mut Vec::new())
        .is_some());
    assert_eq!(stack.len(), 39);
    let left: Vec<u64> = stack.ordering(None).iter().map(|h| h.id).collect();
    assert_eq!(left.len(), 39);
    assert_eq!(left.iter().filter(|&&id| id == 2).count(), 9);
}

#[test]
fn wakers_leave_by_value_and_drop_once() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let waker = Waker::from(Arc::new(Counted(dropped.clone())));
    let stack = Stack::new();
    stack.push(hold(1, Mode::Mutex, Some(waker.clone())));
    stack.push(hold(2, Mode::Read, Some(waker.clone())));
    stack.push(hold(3, Mode::Mutex, None));
    // A task's hold orders only that task's acquisitions. (Under Miri
    // a vtable gets a new address at each use, so a clone's `will_wake`
    // is false: the task's holds then order nothing, which is safe.)
    assert_eq!(stack.ordering(None).len(), 1);
    let same_task = if cfg!(miri) { 1 } else { 3 };
    assert_eq!(stack.ordering(Some(&waker)).len(), same_task);
    let popped = stack
        .pop(1, Mode::Mutex, Some(10), &mut Vec::new())
        .expect("held");
    assert_eq!(popped.lock.since, 7);
    drop(popped.task);
    let taken = stack.take_unless(|h| h.lock.id == 3);
    assert_eq!((taken.len(), stack.len()), (1, 1));
    drop(taken);
    drop(waker);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the last waker reference dropped"
    );
    drop(stack);
}

#[test]
fn a_shared_release_that_cannot_tell_whose_hold_ended_drops_them_all() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let (a, b) = (
        Waker::from(Arc::new(Counted(dropped.clone()))),
        Waker::from(Arc::new(Counted(dropped.clone()))),
    );
    let stack = Stack::new();
    // Two tasks' permits of one semaphore, on one thread.
    stack.push(hold(5, Mode::Permit, Some(a.clone())));
    stack.push(hold(6, Mode::Mutex, None));
    stack.push(hold(5, Mode::Permit, Some(b.clone())));
    let mut also = Vec::new();
    let popped = stack.pop(5, Mode::Permit, None, &mut also).expect("held");
    assert_eq!(also.len(), 1, "both tasks' entries are gone");
    assert_eq!(stack.len(), 1);
    drop((popped, also));
    // One owner's two reads: only the most recent ends.
    stack.push(hold(7, Mode::Read, None));
    stack.push(hold(7, Mode::Read, None));
    let mut also = Vec::new();
    let popped = stack.pop(7, Mode::Read, None, &mut also).expect("held");
    assert!(also.is_empty());
    drop(popped);
    assert_eq!(stack.len(), 2);
    drop((a, b, stack));
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
}
