//! `Pool<T>`: a typed object pool, sharded so threads rarely share a lock.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

use crate::Mutex;

type Create<T> = Box<dyn Fn() -> T + Send + Sync>;
type Reset<T> = Box<dyn Fn(&mut T) + Send + Sync>;

/// A pool of reusable `T`s. [`get`](Pool::get) hands one out (making a new one
/// when the pool is empty); dropping the guard resets it and puts it back.
///
/// Each shard keeps one idle object in a lock-free slot (taken and refilled
/// with one atomic swap each) in front of a stack behind a cache-padded
/// lock; a thread starts at its own shard and only looks at others when that
/// one is busy or empty. So a thread that takes and returns one object at a
/// time never locks. At most `max_idle` objects are kept per shard (default
/// 64, the slot included); the rest are dropped. Objects are boxed once, when
/// made: getting and returning one allocates nothing.
///
/// ```
/// use concur_sync::Pool;
///
/// let pool = Pool::new(|| Vec::<u8>::with_capacity(1024)).with_reset(|v| v.clear());
/// {
///     let mut buf = pool.get();
///     buf.extend_from_slice(b"hello");
/// } // back in the pool, cleared
/// let buf = pool.get();
/// assert!(buf.is_empty());
/// assert!(buf.capacity() >= 1024);
/// ```
pub struct Pool<T> {
    shards: Box<[CachePadded<Shard<T>>]>,
    create: Create<T>,
    reset: Option<Reset<T>>,
    max_idle: usize,
}

/// An object taken from a [`Pool`]; goes back (reset) when dropped.
///
/// ```
/// use concur_sync::Pool;
///
/// let pool = Pool::new(String::new).with_reset(|s| s.clear());
/// let mut s = pool.get();
/// s.push_str("scratch");
/// let kept: String = s.into_inner(); // taken out for good
/// assert_eq!(kept, "scratch");
/// ```
#[must_use = "the object goes back to the pool as soon as the guard is dropped"]
pub struct PoolGuard<'a, T> {
    pool: &'a Pool<T>,
    shard: usize,
    value: ManuallyDrop<Box<T>>,
}

struct Shard<T> {
    /// One idle object (from `Box::into_raw`), or null.
    slot: AtomicPtr<T>,
    /// More idle objects. Also what makes `Pool<T>` `Send`/`Sync` only for
    /// `T: Send` (the slot's `AtomicPtr` alone would not).
    stack: Mutex<Vec<Box<T>>>,
}

impl<T> Shard<T> {
    /// Takes the slot's object, if any.
    #[inline]
    fn take_slot(&self) -> Option<Box<T>> {
        let raw = self.slot.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a non-null slot holds a pointer from `Box::into_raw`, and
        // the swap made us its only owner.
        (!raw.is_null()).then(|| unsafe { Box::from_raw(raw) })
    }

    /// Puts `value` in the slot if it is empty; gives it back otherwise.
    #[inline]
    fn fill_slot(&self, value: Box<T>) -> Result<(), Box<T>> {
        let raw = Box::into_raw(value);
        match self
            .slot
            .compare_exchange(ptr::null_mut(), raw, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            // SAFETY: the exchange failed, so `raw` is still only ours.
            Err(_) => Err(unsafe { Box::from_raw(raw) }),
        }
    }
}

impl<T> Drop for Shard<T> {
    fn drop(&mut self) {
        drop(self.take_slot());
    }
}

/// The shard a thread starts at, for a power-of-two shard count: threads
/// are numbered round-robin, and a mask (not a division) picks the shard.
#[inline]
fn home_shard(mask: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i) & mask
}

impl<T> Pool<T> {
    /// A pool that makes objects with `create`, with one shard per available
    /// core (at least 2, rounded up to a power of two).
    pub fn new(create: impl Fn() -> T + Send + Sync + 'static) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shards = cores.max(2).next_power_of_two();
        Self {
            shards: (0..shards)
                .map(|_| {
                    CachePadded::new(Shard {
                        slot: AtomicPtr::new(ptr::null_mut()),
                        stack: Mutex::new(Vec::new()),
                    })
                })
                .collect(),
            create: Box::new(create),
            reset: None,
            max_idle: 64,
        }
    }

    /// Runs `reset` on every object as it comes back, before it is reused.
    pub fn with_reset(mut self, reset: impl Fn(&mut T) + Send + Sync + 'static) -> Self {
        self.reset = Some(Box::new(reset));
        self
    }

    /// Keeps at most `max_idle` idle objects per shard (0 keeps none).
    pub fn with_max_idle(mut self, max_idle: usize) -> Self {
        self.max_idle = max_idle;
        self
    }

    /// Takes an idle object, or makes a new one.
    pub fn get(&self) -> PoolGuard<'_, T> {
        let mask = self.shards.len() - 1;
        let home = home_shard(mask);
        let value = self.shards[home]
            .take_slot()
            .or_else(|| self.get_slow(home, mask))
            .unwrap_or_else(|| Box::new((self.create)()));
        PoolGuard {
            pool: self,
            shard: home,
            value: ManuallyDrop::new(value),
        }
    }

    #[cold]
    fn get_slow(&self, home: usize, mask: usize) -> Option<Box<T>> {
        (0..self.shards.len()).find_map(|i| {
            let shard = &self.shards[(home + i) & mask];
            let from_stack = shard.stack.try_lock().and_then(|mut idle| idle.pop());
            from_stack.or_else(|| shard.take_slot())
        })
    }

    /// Idle objects in the pool now (a snapshot).
    pub fn idle(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.stack.lock().len() + usize::from(!s.slot.load(Ordering::Relaxed).is_null()))
            .sum()
    }

    fn put(&self, shard: usize, mut value: Box<T>) {
        if let Some(reset) = &self.reset {
            reset(&mut value);
        }
        if self.max_idle == 0 {
            return;
        }
        if let Err(value) = self.shards[shard].fill_slot(value) {
            let mut idle = self.shards[shard].stack.lock();
            // The slot counts towards `max_idle`.
            if idle.len() + 1 < self.max_idle {
                idle.push(value);
            }
        }
    }
}

impl<T> PoolGuard<'_, T> {
    /// Takes the object out of the pool for good.
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the value is taken exactly once.
        *unsafe { ManuallyDrop::take(&mut this.value) }
    }
}

impl<T> Deref for PoolGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for PoolGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> Drop for PoolGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: dropped once; the value is not used again.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        self.pool.put(self.shard, value);
    }
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("shards", &self.shards.len())
            .field("idle", &self.idle())
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for PoolGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.value, f)
    }
}
