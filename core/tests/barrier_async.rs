//! `BarrierFuture` polled by hand: rounds of tasks and threads, a waiting
//! future dropped or interrupted (its arrival taken back), and rounds
//! that go on after one.

use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::thread;

use concur_core::{Interrupted, RawBarrier};

mod common;
use common::tasks::{block_on, counting, poll, wakes};

#[test]
fn the_last_arrival_leads_and_wakes_the_waiting_tasks() {
    let barrier: RawBarrier = RawBarrier::new(3);
    let (count, waker) = counting();
    for _round in 0..3 {
        let mut a = pin!(barrier.wait_async());
        let mut b = pin!(barrier.wait_async());
        assert!(poll(a.as_mut(), &waker).is_pending());
        assert!(poll(b.as_mut(), &waker).is_pending());
        assert_eq!(barrier.arrived(), 2);
        let before = wakes(&count);
        assert_eq!(
            poll(pin!(barrier.wait_async()), &waker),
            Poll::Ready(Ok(true))
        );
        assert_eq!(wakes(&count), before + 2);
        assert_eq!(poll(a.as_mut(), &waker), Poll::Ready(Ok(false)));
        assert_eq!(poll(b.as_mut(), &waker), Poll::Ready(Ok(false)));
        assert_eq!(barrier.arrived(), 0);
    }
}

#[test]
fn a_dropped_or_interrupted_waiter_takes_its_arrival_back() {
    let barrier: RawBarrier = RawBarrier::new(2);
    let (_, waker) = counting();
    let mut gone = Box::pin(barrier.wait_async());
    assert!(poll(gone.as_mut(), &waker).is_pending());
    drop(gone);
    assert_eq!(barrier.arrived(), 0, "the drop took its arrival back");
    let mut interrupted = pin!(barrier.wait_async());
    assert!(poll(interrupted.as_mut(), &waker).is_pending());
    interrupted.as_ref().node().interrupt();
    assert_eq!(
        poll(interrupted.as_mut(), &waker),
        Poll::Ready(Err(Interrupted))
    );
    assert_eq!(barrier.arrived(), 0);
    // The round still needs two.
    let mut first = pin!(barrier.wait_async());
    assert!(poll(first.as_mut(), &waker).is_pending());
    assert_eq!(
        poll(pin!(barrier.wait_async()), &waker),
        Poll::Ready(Ok(true))
    );
    assert_eq!(poll(first.as_mut(), &waker), Poll::Ready(Ok(false)));
}

#[test]
fn an_interrupt_after_the_round_completed_still_counts() {
    let barrier: RawBarrier = RawBarrier::new(2);
    let (_, waker) = counting();
    let mut waiting = pin!(barrier.wait_async());
    assert!(poll(waiting.as_mut(), &waker).is_pending());
    assert_eq!(
        poll(pin!(barrier.wait_async()), &waker),
        Poll::Ready(Ok(true))
    );
    waiting.as_ref().node().interrupt();
    assert_eq!(poll(waiting.as_mut(), &waker), Poll::Ready(Ok(false)));
}

#[test]
fn threads_and_tasks_meet_in_rounds() {
    let barrier: Arc<RawBarrier> = Arc::new(RawBarrier::new(3));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut leaders = 0;
                for _ in 0..50 {
                    let node = pin!(concur_core::Waiter::new());
                    leaders += usize::from(barrier.wait(node.as_ref()).unwrap());
                }
                leaders
            })
        })
        .collect();
    let mut leaders = 0;
    for _ in 0..50 {
        // A task's wait, driven to the end (woken by the threads).
        leaders += usize::from(block_on(barrier.wait_async()).unwrap());
    }
    for t in threads {
        leaders += t.join().unwrap();
    }
    assert_eq!(leaders, 50, "one leader a round");
}
