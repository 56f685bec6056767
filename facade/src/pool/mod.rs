//! `Pool<T>`: a typed object pool, sharded so threads rarely share a lock,
//! with an owner slot per shard that its owner thread uses without any
//! read-modify-write. `shard` has the layout of a shard and who may touch
//! what; `thread` the thread numbers that name shard owners.

mod shard;
mod thread;

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use crossbeam_utils::CachePadded;

use shard::Shard;

type Create<T> = Box<dyn Fn() -> T + Send + Sync>;
type Reset<T> = Box<dyn Fn(&mut T) + Send + Sync>;

/// A pool of reusable `T`s. [`get`](Pool::get) hands one out (making a new one
/// when the pool is empty); dropping the guard resets it and puts it back.
///
/// Threads are numbered (a number is reused once its thread has exited),
/// and a thread starts at the shard its number picks. Each shard has:
///
/// * an *owner slot*, for the first thread that uses the shard as its home
///   (its owner): one idle object, taken and put back with a plain load
///   and store, so a thread alone at its shard never executes a locked
///   instruction (with at least as many shards as threads, every thread);
/// * a shared slot any thread takes and refills with one atomic swap each;
/// * a stack behind a cache-padded lock.
///
/// A thread only looks at other shards (their shared slots and stacks,
/// never their owner slots) when its own is empty or busy. At most
/// `max_idle` objects are kept per shard (default 64, both slots
/// included: with `max_idle` 1 only the owner slot is kept); the rest are
/// dropped. [`idle`](Pool::idle) counts all of them, as a snapshot. An
/// object left in the owner slot of a thread that exits goes to the next
/// thread that takes its number, or is dropped with the pool. Objects are
/// boxed once, when made: getting and returning one allocates nothing.
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

impl<T> Pool<T> {
    /// A pool that makes objects with `create`, with one shard per available
    /// core (at least 2, rounded up to a power of two).
    pub fn new(create: impl Fn() -> T + Send + Sync + 'static) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shards = cores.max(2).next_power_of_two();
        Self {
            shards: (0..shards)
                .map(|_| CachePadded::new(Shard::new()))
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

    /// Keeps at most `max_idle` idle objects per shard (0 keeps none; 1
    /// only the owner slot).
    pub fn with_max_idle(mut self, max_idle: usize) -> Self {
        self.max_idle = max_idle;
        self
    }

    /// Takes an idle object, or makes a new one.
    #[inline]
    pub fn get(&self) -> PoolGuard<'_, T> {
        let mask = self.shards.len() - 1;
        let me = thread::number();
        let home = me & mask;
        let shard = &self.shards[home];
        let owned = if shard.owned_by(me) {
            shard.take_owned()
        } else {
            None
        };
        let value = owned
            .or_else(|| shard.take_slot())
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

    /// Idle objects in the pool now: a snapshot, exact when no other
    /// thread is getting or putting (each slot and stack is read once, as
    /// others may be changing them).
    pub fn idle(&self) -> usize {
        self.shards.iter().map(|s| s.idle()).sum()
    }

    #[inline]
    fn put(&self, shard: usize, mut value: Box<T>) {
        if let Some(reset) = &self.reset {
            reset(&mut value);
        }
        if self.max_idle == 0 {
            return;
        }
        let shard = &self.shards[shard];
        // The owner of the shard the object came from (its getter, unless
        // the guard moved to another thread) keeps it in its own slot.
        let value = if shard.owned_by(thread::number()) {
            match shard.fill_owned(value) {
                Ok(()) => return,
                Err(value) => value,
            }
        } else {
            value
        };
        self.put_shared(shard, value);
    }

    fn put_shared(&self, shard: &Shard<T>, value: Box<T>) {
        // The owner slot counts towards `max_idle`, then the shared slot.
        if self.max_idle < 2 {
            return;
        }
        if let Err(value) = shard.fill_slot(value) {
            let mut idle = shard.stack.lock();
            if idle.len() + 2 < self.max_idle {
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
