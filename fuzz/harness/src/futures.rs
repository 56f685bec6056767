//! Target `futures`: the core's futures (semaphore acquires, mutex locks,
//! rwlock reads and writes, counter waits) made, polled, interrupted and
//! dropped at arbitrary points, on one thread.
//!
//! Operations: start a future of a kind, poll future `k` (woken or not: a
//! spurious poll is allowed), interrupt it, drop it in whatever state it is
//! (pending, woken and not yet polled, or resolved and holding), release
//! what a resolved one holds, change the counter. After every operation:
//! the semaphore conserves its permits (capacity = available + pending +
//! held by resolved futures, and by granted ones not polled yet, which
//! the harness cannot see), the mutex has at most one holder, the
//! rwlock's writer is alone. At the end everything held is released and
//! the remaining futures are driven as an executor would, polling only
//! those whose waker was woken: every one must then resolve (a future left
//! pending with nothing held and no wake pending is a lost wake-up), and
//! the semaphore must be back to its capacity.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use arbitrary::{Arbitrary, Unstructured};

use crate::next_op;
use crate::park::StepPark;
use concur_core::{
    AcquireFuture, Interrupted, LockFuture, RawMutex, RawRwLock, RawSemaphore, ReadFuture,
    WaitCounter, WaitFuture, WriteFuture,
};

type Sem = RawSemaphore<StepPark>;

/// At most this many futures per input.
const MAX_FUTURES: usize = 32;

/// One operation of an input.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Acquire(u8),
    Lock,
    Read,
    Write,
    WaitZero,
    Poll(u8),
    Interrupt(u8),
    Drop(u8),
    Release(u8),
    CounterAdd,
    CounterDone,
}

/// A waker that remembers it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A future of one of the kinds, boxed (pinned) so it can be dropped in
/// place at any point.
enum Fut<'a> {
    Acquire(Pin<Box<AcquireFuture<'a, StepPark>>>, u64),
    Lock(Pin<Box<LockFuture<'a, StepPark>>>),
    Read(Pin<Box<ReadFuture<'a, StepPark>>>),
    Write(Pin<Box<WriteFuture<'a, StepPark>>>),
    Zero(Pin<Box<WaitFuture<'a, StepPark>>>),
}

impl Fut<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Fut::Acquire(..) => "acquire",
            Fut::Lock(_) => "lock",
            Fut::Read(_) => "read",
            Fut::Write(_) => "write",
            Fut::Zero(_) => "wait for zero",
        }
    }
}

/// What a resolved future holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Permits(u64),
    Lock,
    Read,
    Write,
    Nothing,
}

/// One future's slot.
struct Slot<'a> {
    fut: Option<Fut<'a>>,
    flag: Arc<Flag>,
    waker: Waker,
    held: Option<Held>,
}

struct World {
    sem: Sem,
    mutex: RawMutex<StepPark>,
    rwlock: RawRwLock<StepPark>,
    counter: WaitCounter<StepPark>,
    capacity: u64,
}

/// Runs one input; panics on a broken invariant or a lost wake-up.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(capacity) = u.int_in_range(1..=6u64) else {
        return;
    };
    let world = World {
        sem: Sem::new(capacity),
        mutex: RawMutex::new(),
        rwlock: RawRwLock::new(),
        counter: WaitCounter::new(),
        capacity,
    };
    let mut slots: Vec<Slot<'_>> = Vec::new();
    let mut trace = Vec::new();
    while let Some(op) = next_op::<Op>(&mut u) {
        trace.push(op);
        let pick = |k: u8, len: usize| (len > 0).then(|| k as usize % len);
        let fut = match op {
            // Within the capacity: a larger request waits for
            // `add_permits`, which this target does not make.
            Op::Acquire(n) => {
                let n = u64::from(n) % (world.capacity + 1);
                Some(Fut::Acquire(Box::pin(world.sem.acquire_async(n)), n))
            }
            Op::Lock => Some(Fut::Lock(Box::pin(world.mutex.lock_async()))),
            Op::Read => Some(Fut::Read(Box::pin(world.rwlock.read_async()))),
            Op::Write => Some(Fut::Write(Box::pin(world.rwlock.write_async()))),
            Op::WaitZero => Some(Fut::Zero(Box::pin(world.counter.wait_async()))),
            _ => None,
        };
        if let Some(fut) = fut {
            if slots.len() < MAX_FUTURES {
                let flag = Arc::new(Flag::default());
                let waker = Waker::from(flag.clone());
                slots.push(Slot {
                    fut: Some(fut),
                    flag,
                    waker,
                    held: None,
                });
                let last = slots.len() - 1;
                poll_slot(&mut slots[last]);
            }
        }
        match op {
            Op::Poll(k) => {
                if let Some(k) = pick(k, slots.len()) {
                    poll_slot(&mut slots[k]);
                }
            }
            Op::Interrupt(k) => {
                if let Some(k) = pick(k, slots.len()) {
                    interrupt(&slots[k]);
                }
            }
            Op::Drop(k) => {
                if let Some(k) = pick(k, slots.len()) {
                    // Dropped as it is; what it holds is released after.
                    slots[k].fut = None;
                }
            }
            Op::Release(k) => {
                if let Some(k) = pick(k, slots.len()) {
                    release(&world, &mut slots[k]);
                }
            }
            Op::CounterAdd if world.counter.count() < 4 => world.counter.add(1),
            Op::CounterDone if world.counter.count() > 0 => world.counter.done(),
            _ => {}
        }
        check(&world, &slots);
    }
    drain(&world, &mut slots, &trace);
}

/// Polls a slot's future once (if it is still pending).
fn poll_slot(slot: &mut Slot<'_>) {
    if slot.held.is_some() {
        return;
    }
    let Some(fut) = slot.fut.as_mut() else {
        return;
    };
    slot.flag.0.store(false, Ordering::SeqCst);
    let mut cx = Context::from_waker(&slot.waker);
    let held = match fut {
        Fut::Acquire(f, n) => ready(
            f.as_mut().poll(&mut cx).map(|r| r.map_err(|_| Interrupted)),
            Held::Permits(*n),
        ),
        Fut::Lock(f) => ready(f.as_mut().poll(&mut cx), Held::Lock),
        Fut::Read(f) => ready(f.as_mut().poll(&mut cx), Held::Read),
        Fut::Write(f) => ready(f.as_mut().poll(&mut cx), Held::Write),
        Fut::Zero(f) => ready(f.as_mut().poll(&mut cx), Held::Nothing),
    };
    slot.held = held;
}

/// What a poll's result holds: `None` while pending.
fn ready(polled: Poll<Result<(), Interrupted>>, held: Held) -> Option<Held> {
    match polled {
        Poll::Pending => None,
        Poll::Ready(Ok(())) => Some(held),
        Poll::Ready(Err(Interrupted)) => Some(Held::Nothing),
    }
}

fn interrupt(slot: &Slot<'_>) {
    if slot.held.is_some() {
        return;
    }
    match &slot.fut {
        Some(Fut::Acquire(f, _)) => f.as_ref().node().interrupt(),
        Some(Fut::Lock(f)) => f.as_ref().node().interrupt(),
        Some(Fut::Read(f)) => f.as_ref().node().interrupt(),
        Some(Fut::Write(f)) => f.as_ref().node().interrupt(),
        Some(Fut::Zero(f)) => f.as_ref().node().interrupt(),
        None => {}
    }
}

/// Releases what a resolved future holds (once).
fn release(world: &World, slot: &mut Slot<'_>) {
    let Some(held) = slot.held else {
        return; // still pending
    };
    slot.held = Some(Held::Nothing);
    match held {
        Held::Permits(n) => world.sem.release(n),
        // SAFETY: the slot's future resolved holding the lock, and `held`
        // is cleared above, so it is released once.
        Held::Lock => unsafe { world.mutex.unlock() },
        // SAFETY: as above, a read lock.
        Held::Read => unsafe { world.rwlock.read_unlock() },
        // SAFETY: as above, the write lock.
        Held::Write => unsafe { world.rwlock.write_unlock() },
        Held::Nothing => {}
    }
}

/// The invariants that hold after every operation.
fn check(world: &World, slots: &[Slot<'_>]) {
    let count = |want: Held| slots.iter().filter(|s| s.held == Some(want)).count();
    let permits: u64 = slots
        .iter()
        .filter_map(|s| match s.held {
            Some(Held::Permits(n)) => Some(n),
            _ => None,
        })
        .sum();
    let snap = world.sem.snapshot();
    assert_eq!(snap.capacity, world.capacity, "{snap:?}");
    // Woken futures not yet polled hold their grants too: those are
    // counted only once they resolve, so here the sum may fall short, and
    // `drain` checks the equality once everything has resolved.
    assert!(
        snap.available + snap.pending + permits <= world.capacity,
        "permits made up: {snap:?}, {permits} held by futures"
    );
    assert!(count(Held::Lock) <= 1, "two mutex holders");
    assert_eq!(
        world.mutex.is_locked(),
        count(Held::Lock) == 1,
        "mutex state"
    );
    let (readers, writers) = (count(Held::Read), count(Held::Write));
    assert!(
        writers <= 1 && (writers == 0 || readers == 0),
        "{writers} writers, {readers} readers"
    );
}

/// Releases everything, then polls only woken futures until none is:
/// every future must then have resolved.
fn drain(world: &World, slots: &mut [Slot<'_>], trace: &[Op]) {
    while world.counter.count() > 0 {
        world.counter.done();
    }
    for slot in slots.iter_mut() {
        release(world, slot);
    }
    loop {
        let mut progressed = false;
        for slot in slots.iter_mut() {
            if slot.held.is_none() && slot.fut.is_some() && slot.flag.0.load(Ordering::SeqCst) {
                poll_slot(slot);
                progressed = true;
                release(world, slot);
            }
        }
        if !progressed {
            break;
        }
    }
    for (k, slot) in slots.iter().enumerate() {
        assert!(
            slot.fut.is_none() || slot.held.is_some(),
            "future {k} ({}) was left pending with nothing held and no wake: a lost wake-up; ops {trace:?}",
            slot.fut.as_ref().map_or("gone", Fut::kind)
        );
    }
    check(world, slots);
    let snap = world.sem.snapshot();
    assert_eq!(snap.available, world.capacity, "permits lost: {snap:?}");
}
