//! The context tree: cancellation, deadlines, propagation, and waking.

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::{Context, Error, Mutex, Once, RwLock, Semaphore, WaitGroup};

const HANG: Duration = Duration::from_secs(60);

#[test]
fn background_is_never_done() {
    let bg = Context::background();
    assert_eq!(bg.err(), None);
    assert!(!bg.is_done());
    assert_eq!(bg.deadline(), None);
    assert_eq!(format!("{bg:?}"), "Context::background()");
}

#[test]
fn cancel_is_idempotent_and_drop_cancels() {
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(ctx.err(), None);
    cancel.cancel();
    cancel.cancel();
    assert_eq!(ctx.err(), Some(Error::Cancelled));

    let (ctx, cancel) = Context::background().with_cancel();
    drop(cancel);
    assert_eq!(ctx.err(), Some(Error::Cancelled));
}

#[test]
fn cancelling_a_parent_cancels_every_descendant_but_not_the_reverse() {
    let (root, root_cancel) = Context::background().with_cancel();
    let (a, a_cancel) = root.with_cancel();
    let (b, _b_cancel) = root.with_cancel();
    let (a1, _a1_cancel) = a.with_cancel();
    let (a2, a2_cancel) = a.with_timeout(Duration::from_secs(3600)).with_cancel();
    a2_cancel.cancel();
    assert_eq!(a2.err(), Some(Error::Cancelled));
    assert_eq!(a.err(), None, "a child does not touch its parent");
    a_cancel.cancel();
    assert_eq!(a1.err(), Some(Error::Cancelled));
    assert_eq!((root.err(), b.err()), (None, None));
    root_cancel.cancel();
    assert_eq!(b.err(), Some(Error::Cancelled));
    // A child made from a done context is born done.
    let (late, _late_cancel) = root.with_cancel();
    assert_eq!(late.err(), Some(Error::Cancelled));
}

#[test]
fn deep_chains_cancel_without_recursion() {
    let (root, cancel) = Context::background().with_cancel();
    let mut handles = Vec::new();
    let mut ctx = root.clone();
    // Deep enough to overflow a recursive cancel natively; Miri runs a
    // shallower chain (it is ~1000x slower), which still checks the walk.
    let depth = if cfg!(miri) { 300 } else { 100_000 };
    for _ in 0..depth {
        let (child, handle) = ctx.with_cancel();
        handles.push(handle);
        ctx = child;
    }
    cancel.cancel();
    assert_eq!(ctx.err(), Some(Error::Cancelled));
}

#[test]
fn past_deadline_and_zero_timeout_are_done_at_once() {
    let ctx = Context::background().with_deadline(Instant::now() - Duration::from_millis(1));
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
    let ctx = Context::background().with_timeout(Duration::ZERO);
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
}

#[test]
fn huge_timeout_is_clamped_not_a_panic() {
    let ctx = Context::background().with_timeout(Duration::MAX);
    assert_eq!(ctx.err(), None);
    assert_eq!(ctx.deadline(), None);
}

#[test]
fn children_inherit_the_earlier_deadline() {
    let parent = Context::background().with_timeout(Duration::from_secs(10));
    let child = parent.with_timeout(Duration::from_secs(100));
    assert_eq!(child.deadline(), parent.deadline());
    let grandchild = child.with_timeout(Duration::from_secs(1));
    assert!(grandchild.deadline() < parent.deadline());
}

#[test]
fn deadline_fires_and_propagates() {
    let parent = Context::background().with_timeout(Duration::from_millis(30));
    let (child, _c) = parent.with_cancel();
    let start = Instant::now();
    assert_eq!(child.wait(), Error::DeadlineExceeded);
    assert!(
        start.elapsed() >= Duration::from_millis(29),
        "fired early: {:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < HANG);
    assert_eq!(parent.err(), Some(Error::DeadlineExceeded));
}

#[test]
fn cancel_wakes_every_waiting_thread() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (ctx, tx) = (ctx.clone(), tx.clone());
            thread::spawn(move || tx.send(ctx.wait()).unwrap())
        })
        .collect();
    cancel.cancel();
    for _ in 0..8 {
        assert_eq!(
            rx.recv_timeout(HANG).expect("a waiter was not woken"),
            Error::Cancelled
        );
    }
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn errors_display_and_classify() {
    assert_eq!(Error::Cancelled.to_string(), "context cancelled");
    assert_eq!(Error::Closed.to_string(), "semaphore closed");
    assert_eq!(
        Error::TooLarge {
            requested: 5,
            capacity: 3
        }
        .to_string(),
        "requested 5 permits from a semaphore of 3"
    );
    assert!(Error::DeadlineExceeded.is_context());
    assert!(!Error::Closed.is_context());
}

#[test]
fn one_cancel_wakes_threads_blocked_on_every_primitive() {
    let m = Arc::new(Mutex::new(()));
    let l = Arc::new(RwLock::new(()));
    let sem = Arc::new(Semaphore::new(1));
    let wg = Arc::new(WaitGroup::new());
    let once = Arc::new(Once::<u8>::new());
    let held_m = m.lock();
    let held_l = l.write();
    let held_s = sem.try_acquire(1).unwrap();
    wg.add(1);
    // A runner that keeps the Once busy until the end of the test.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (running_tx, running_rx) = mpsc::channel::<()>();
    let runner = {
        let once = once.clone();
        thread::spawn(move || {
            once.get_or_init(|| {
                running_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                1
            });
        })
    };
    running_rx.recv_timeout(HANG).unwrap();

    let (ctx, cancel) = Context::background().with_cancel();
    let child = ctx.with_timeout(Duration::from_secs(3600));
    type Call = Box<dyn FnOnce(&Context) -> Result<(), Error> + Send>;
    let calls: Vec<Call> = vec![
        Box::new({
            let m = m.clone();
            move |c| m.lock_ctx(c).map(drop)
        }),
        Box::new({
            let l = l.clone();
            move |c| l.read_ctx(c).map(drop)
        }),
        Box::new({
            let l = l.clone();
            move |c| l.write_ctx(c).map(drop)
        }),
        Box::new({
            let s = sem.clone();
            move |c| s.acquire(c, 1).map(drop)
        }),
        Box::new({
            let w = wg.clone();
            move |c| w.wait_ctx(c)
        }),
        Box::new({
            let o = once.clone();
            move |c| o.get_or_init_ctx(c, || 2).map(drop)
        }),
        Box::new(|c| Err(c.wait())),
    ];
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| {
            // Half block on the cancelled context itself, half on a child.
            let c = if i % 2 == 0 {
                ctx.clone()
            } else {
                child.clone()
            };
            let tx = tx.clone();
            thread::spawn(move || tx.send((i, call(&c))).unwrap())
        })
        .collect();
    cancel.cancel();
    let mut seen = vec![false; threads.len()];
    for _ in 0..threads.len() {
        let (i, r) = rx
            .recv_timeout(HANG)
            .expect("a blocked call was not woken by the cancel");
        assert_eq!(r, Err(Error::Cancelled), "call {i}");
        seen[i] = true;
    }
    assert!(seen.iter().all(|s| *s));
    for t in threads {
        t.join().unwrap();
    }
    // Nothing was taken by the failed calls.
    drop((held_m, held_l, held_s));
    wg.done();
    release_tx.send(()).unwrap();
    runner.join().unwrap();
    assert!(m.try_lock().is_some() && l.try_write().is_some());
    assert_eq!(sem.available(), 1);
    assert_eq!(wg.count(), 0);
    assert_eq!(once.get(), Some(&1));
}
