//! `BeginFuture` (a future waiting for its turn at a `OnceState`) polled
//! by hand: a finish wakes every waiting task, a failed run hands the
//! turn to one of them, and interrupts and drops leave the table.

use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::thread;

use concur_core::{Begin, Interrupted, OnceState};

mod common;
use common::tasks::{counting, poll, wakes};

#[test]
fn a_complete_run_wakes_every_waiting_task() {
    let once: OnceState = OnceState::new();
    let (count, waker) = counting();
    let Some(Begin::Run(guard)) = once.try_begin() else {
        panic!("a fresh state is ours to run")
    };
    assert!(once.try_begin().is_none(), "running: nobody else begins");
    let mut waits: Vec<_> = (0..10).map(|_| Box::pin(once.begin_async())).collect();
    for wait in &mut waits {
        assert!(poll(wait.as_mut(), &waker).is_pending());
    }
    guard.complete();
    assert_eq!(wakes(&count), 10);
    for wait in &mut waits {
        assert!(matches!(
            poll(wait.as_mut(), &waker),
            Poll::Ready(Ok(Begin::Complete))
        ));
    }
    assert!(matches!(
        poll(pin!(once.begin_async()), &waker),
        Poll::Ready(Ok(Begin::Complete))
    ));
}

#[test]
fn a_failed_run_hands_the_turn_to_one_waiting_task() {
    let once: OnceState = OnceState::new();
    let (count, waker) = counting();
    let Some(Begin::Run(guard)) = once.try_begin() else {
        panic!()
    };
    let mut first = pin!(once.begin_async());
    let mut second = pin!(once.begin_async());
    assert!(poll(first.as_mut(), &waker).is_pending());
    assert!(poll(second.as_mut(), &waker).is_pending());
    drop(guard); // the initializer failed
    assert_eq!(wakes(&count), 2);
    let Poll::Ready(Ok(Begin::Run(next))) = poll(first.as_mut(), &waker) else {
        panic!("the first task to run takes the turn")
    };
    assert!(
        poll(second.as_mut(), &waker).is_pending(),
        "the other waits again"
    );
    next.complete();
    assert!(matches!(
        poll(second.as_mut(), &waker),
        Poll::Ready(Ok(Begin::Complete))
    ));
}

#[test]
fn interrupted_and_dropped_waits_leave_the_table() {
    let once: OnceState = OnceState::new();
    let (count, waker) = counting();
    let Some(Begin::Run(guard)) = once.try_begin() else {
        panic!()
    };
    let mut interrupted = pin!(once.begin_async());
    let mut dropped = Box::pin(once.begin_async());
    let mut kept = pin!(once.begin_async());
    assert!(poll(interrupted.as_mut(), &waker).is_pending());
    assert!(poll(dropped.as_mut(), &waker).is_pending());
    assert!(poll(kept.as_mut(), &waker).is_pending());
    interrupted.as_ref().node().interrupt();
    assert!(matches!(
        poll(interrupted.as_mut(), &waker),
        Poll::Ready(Err(Interrupted))
    ));
    drop(dropped);
    let before = wakes(&count);
    guard.complete();
    assert_eq!(wakes(&count), before + 1);
    assert!(matches!(
        poll(kept.as_mut(), &waker),
        Poll::Ready(Ok(Begin::Complete))
    ));
}

#[test]
fn a_thread_and_a_task_wait_for_one_runner() {
    let once: Arc<OnceState> = Arc::new(OnceState::new());
    let (count, waker) = counting();
    let Some(Begin::Run(guard)) = once.try_begin() else {
        panic!()
    };
    let mut wait = pin!(once.begin_async());
    assert!(poll(wait.as_mut(), &waker).is_pending());
    let thread = {
        let once = once.clone();
        thread::spawn(move || matches!(once.begin(), Begin::Complete))
    };
    guard.complete();
    assert!(thread.join().unwrap());
    assert_eq!(wakes(&count), 1);
    assert!(matches!(
        poll(wait.as_mut(), &waker),
        Poll::Ready(Ok(Begin::Complete))
    ));
}
