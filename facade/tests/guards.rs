//! The lock guards as a migrating user uses them: mapped guards, the
//! downgrade, guards that own an `Arc`, guards dropped on another thread,
//! recursive reads past a waiting writer, and the trait impls.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use concur_sync::{
    ArcRwLockWriteGuard, Context, Error, Mutex, MutexGuard, Once, RwLock, RwLockReadGuard,
    RwLockWriteGuard,
};

const HANG: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Entry {
    key: String,
    hits: Vec<u32>,
}

#[test]
fn a_mapped_mutex_guard_holds_the_whole_lock() {
    let m = Mutex::new(Entry::default());
    let mut hits = MutexGuard::map(m.lock(), |e| &mut e.hits);
    hits.push(1);
    assert!(m.is_locked() && m.try_lock().is_none());
    let mut first = concur_sync::MappedMutexGuard::map(hits, |h| &mut h[0]);
    *first += 1;
    drop(first);
    assert!(!m.is_locked());
    assert_eq!(m.lock().hits, [2]);

    // try_map hands the guard back when it declines.
    let guard = m.lock();
    let guard = MutexGuard::try_map(guard, |e| e.hits.get_mut(5)).unwrap_err();
    assert!(m.is_locked());
    let key = MutexGuard::try_map(guard, |e| Some(&mut e.key)).unwrap();
    assert!(key.is_empty());
    drop(key);

    // A panicking mapper releases the lock.
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        MutexGuard::map(m.lock(), |_: &mut Entry| -> &mut u32 { panic!("mapper") })
    }));
    assert!(unwound.is_err());
    assert!(!m.is_locked(), "a panicking map left the mutex locked");
}

#[test]
fn a_guard_unlocks_on_the_thread_that_drops_it() {
    let m = Arc::new(Mutex::new(0));
    let (tx, rx) = mpsc::channel();
    // Borrowed guard, moved into a scoped thread and dropped there, while a
    // third thread waits for the lock.
    thread::scope(|s| {
        let mut guard = m.lock();
        *guard += 1;
        let waiter = s.spawn(|| {
            *m.lock() += 10;
            tx.send(()).unwrap();
        });
        s.spawn(move || drop(guard)).join().unwrap();
        rx.recv_timeout(HANG)
            .expect("the waiter never got the lock");
        waiter.join().unwrap();
    });
    assert_eq!(*m.lock(), 11);

    // Arc guard: 'static, so a plain thread::spawn takes it.
    let mut owned = m.lock_arc();
    *owned += 1;
    thread::spawn(move || *owned += 1).join().unwrap();
    assert_eq!(*m.lock(), 13);
    assert!(!m.is_locked());
}

#[test]
fn arc_guards_follow_their_borrowed_forms() {
    let m = Arc::new(Mutex::new(String::from("a")));
    let held = m.lock_arc();
    assert!(m.try_lock_arc().is_none());
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    assert_eq!(m.lock_arc_ctx(&ctx).err(), Some(Error::Cancelled));
    assert!(Arc::ptr_eq(concur_sync::ArcMutexGuard::mutex(&held), &m));
    assert_eq!(format!("{held} {held:?}"), "a \"a\"");
    drop(held);
    assert!(m.try_lock_arc().is_some());

    let l = Arc::new(RwLock::new(5));
    let (r1, r2) = (l.read_arc(), l.try_read_arc().unwrap());
    assert_eq!(*r1 + *r2, 10);
    assert!(l.try_write_arc().is_none());
    drop((r1, r2));
    let w = l.write_arc_ctx(&Context::background()).unwrap();
    assert!(l.is_locked_exclusive());
    assert_eq!(l.read_arc_ctx(&ctx).err(), Some(Error::Cancelled));
    // Downgraded on another thread, still one lock.
    let r = thread::spawn(move || ArcRwLockWriteGuard::downgrade(w))
        .join()
        .unwrap();
    assert!(l.is_locked() && !l.is_locked_exclusive());
    assert!(l.try_read().is_some());
    drop(r);
    assert!(!l.is_locked());
}

#[test]
fn downgrade_keeps_writers_out_and_lets_readers_in() {
    let l = RwLock::new(vec![1]);
    let mut w = l.write();
    w.push(2);
    let r = RwLockWriteGuard::downgrade(w);
    assert!(
        l.try_write().is_none(),
        "a writer got in after the downgrade"
    );
    thread::scope(|s| {
        // Another thread reads beside the downgraded guard.
        let other = s.spawn(|| l.read().len());
        assert_eq!(other.join().unwrap(), 2);
    });
    assert_eq!(*r, [1, 2]);
    drop(r);
    assert!(l.try_write().is_some());
}

#[test]
fn mapped_rwlock_guards() {
    let l = RwLock::new(Entry {
        key: "k".into(),
        hits: vec![3],
    });
    let key = RwLockReadGuard::map(l.read(), |e| &e.key);
    let hits = RwLockReadGuard::try_map(l.read(), |e| e.hits.first()).unwrap();
    assert_eq!((key.as_str(), *hits), ("k", 3));
    assert!(RwLockReadGuard::try_map(l.read(), |e| e.hits.get(9)).is_err());
    drop((key, hits));
    let mut hits = RwLockWriteGuard::map(l.write(), |e| &mut e.hits);
    hits.push(4);
    assert!(l.is_locked_exclusive());
    drop(hits);
    let declined = RwLockWriteGuard::try_map(l.write(), |e| e.hits.get_mut(9));
    let w = declined.unwrap_err();
    assert_eq!(w.hits, [3, 4]);
    drop(w);
    assert!(!l.is_locked());
}

#[test]
fn a_recursive_read_passes_a_waiting_writer() {
    let l = RwLock::new(0);
    let outer = l.read();
    thread::scope(|s| {
        let writer = s.spawn(|| *l.write() += 1);
        // Once the writer waits, a plain read is refused (writer preference).
        let deadline = std::time::Instant::now() + HANG;
        while let Some(guard) = l.try_read() {
            drop(guard);
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never queued"
            );
            thread::yield_now();
        }
        // A recursive read from another thread enters anyway.
        let (tx, rx) = mpsc::channel();
        let lock = &l;
        s.spawn(move || {
            let inner = lock.read_recursive();
            tx.send(*inner).unwrap();
        });
        assert_eq!(rx.recv_timeout(HANG).expect("read_recursive waited"), 0);
        // And on the reader's own thread.
        let inner = l.read_recursive();
        assert_eq!(*outer + *inner, 0);
        drop((inner, outer));
        writer.join().unwrap();
    });
    assert_eq!(*l.read(), 1);
}

#[test]
fn conversions_and_formatting() {
    let l = RwLock::from(String::from("v1"));
    assert_eq!(format!("{}", l.read()), "v1");
    assert_eq!(format!("{:?}", l.write()), "\"v1\"");
    let m = Mutex::from(7);
    assert_eq!(format!("{}", m.lock()), "7");
    let once = Once::from(3);
    assert_eq!(once.get(), Some(&3));
    assert!(format!("{l:?}").contains("v1"));
}

/// A future that holds a guard across an `.await` can be spawned on a
/// multi-thread runtime (it is `Send`): checked at compile time.
#[test]
fn futures_holding_guards_are_send() {
    fn spawnable<F: std::future::Future + Send>(f: F) -> F {
        f
    }
    let m = Mutex::new(1);
    let l = RwLock::new(2);
    let fut = spawnable(async {
        let g = m.lock();
        std::future::ready(()).await;
        let r = l.read();
        std::future::ready(()).await;
        *g + *r
    });
    drop(fut);
}
