//! `WaitFuture` (a future waiting for a `WaitCounter` to reach zero)
//! polled by hand: every waiting task is woken by the `done` that reaches
//! zero, interrupts and drops leave the table, and threads and tasks wait
//! side by side.

use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::thread;

use concur_core::{Interrupted, WaitCounter};

mod common;
use common::tasks::{counting, poll, wakes};

#[test]
fn zero_is_ready_at_once_and_the_last_done_wakes_every_task() {
    let c: WaitCounter = WaitCounter::new();
    let (count, waker) = counting();
    assert_eq!(poll(pin!(c.wait_async()), &waker), Poll::Ready(Ok(())));
    c.add(2);
    let mut waits: Vec<_> = (0..12).map(|_| Box::pin(c.wait_async())).collect();
    for wait in &mut waits {
        assert!(poll(wait.as_mut(), &waker).is_pending());
    }
    c.done();
    assert_eq!(wakes(&count), 0, "not zero yet");
    c.done();
    assert_eq!(wakes(&count), 12);
    for wait in &mut waits {
        assert_eq!(poll(wait.as_mut(), &waker), Poll::Ready(Ok(())));
    }
    // The bit went with the last node: the counter is reusable.
    c.add(1);
    let mut again = pin!(c.wait_async());
    assert!(poll(again.as_mut(), &waker).is_pending());
    c.done();
    assert_eq!(wakes(&count), 13);
    assert_eq!(poll(again.as_mut(), &waker), Poll::Ready(Ok(())));
}

#[test]
fn a_task_woken_by_a_zero_that_is_gone_again_waits_on() {
    let c: WaitCounter = WaitCounter::new();
    let (count, waker) = counting();
    c.add(1);
    let mut wait = pin!(c.wait_async());
    assert!(poll(wait.as_mut(), &waker).is_pending());
    c.done();
    c.add(1); // a new round began before the task ran
    assert!(poll(wait.as_mut(), &waker).is_pending());
    c.done();
    assert_eq!(wakes(&count), 2);
    assert_eq!(poll(wait.as_mut(), &waker), Poll::Ready(Ok(())));
}

#[test]
fn interrupted_and_dropped_waits_leave_the_others_waiting() {
    let c: WaitCounter = WaitCounter::new();
    let (count, waker) = counting();
    c.add(1);
    let mut interrupted = pin!(c.wait_async());
    let mut dropped = Box::pin(c.wait_async());
    let mut kept = pin!(c.wait_async());
    assert!(poll(interrupted.as_mut(), &waker).is_pending());
    assert!(poll(dropped.as_mut(), &waker).is_pending());
    assert!(poll(kept.as_mut(), &waker).is_pending());
    interrupted.as_ref().node().interrupt();
    assert_eq!(
        poll(interrupted.as_mut(), &waker),
        Poll::Ready(Err(Interrupted))
    );
    drop(dropped);
    let before = wakes(&count);
    c.done();
    assert_eq!(
        wakes(&count),
        before + 1,
        "only the kept task is left to wake"
    );
    assert_eq!(poll(kept.as_mut(), &waker), Poll::Ready(Ok(())));
}

#[test]
fn a_thread_and_a_task_wait_for_the_same_zero() {
    let c: Arc<WaitCounter> = Arc::new(WaitCounter::new());
    let (count, waker) = counting();
    c.add(1);
    let mut wait = pin!(c.wait_async());
    assert!(poll(wait.as_mut(), &waker).is_pending());
    let thread = {
        let c = c.clone();
        thread::spawn(move || c.wait())
    };
    c.done();
    thread.join().unwrap();
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(wait.as_mut(), &waker), Poll::Ready(Ok(())));
}
