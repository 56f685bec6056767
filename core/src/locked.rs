//! A list lock, the state behind it, and the wakes deferred past it: the
//! piece the semaphore and the condvar share.
//!
//! Both keep their waiters in an intrusive list behind a small
//! [`RawMutex`]. [`with_lock`] runs a closure on that state with the lock
//! held and, once the lock is released, wakes what the closure finished
//! into a [`WakeBatch`]: the node words of threads, and the wakers of
//! futures' nodes, taken out one node at a time (see the `waiter` module's
//! "Waits made by futures"). So a woken thread does not run into a held
//! lock, and a waker that re-enters the primitive or panics finds none
//! held. [`count`] adjusts a waiter count that only lock holders write.

use core::marker::PhantomData;
use core::ptr;
use core::task::Waker;

use crate::mutex::RawMutex;
use crate::park::Park;
use crate::sync::{AtomicU32, AtomicUsize, Ordering, UnsafeCell};
use crate::waiter::{Waiter, DONE, INTERRUPTED, REGISTERING, TASK, VISIT};

/// What to wake once the list lock is released: node words of threads
/// (waking uses only addresses, see [`Park`], so a node freed by its owner
/// before the wake is harmless) and a chain of future's nodes, each held
/// alive by its `VISIT` bit until its waker is taken out.
pub(crate) struct WakeBatch<P: Park> {
    words: [*const AtomicU32; 8],
    len: usize,
    /// First and last of the task nodes to visit, linked by `wake_next`.
    tasks: (*const Waiter<P>, *const Waiter<P>),
    _park: PhantomData<fn() -> P>,
}

impl<P: Park> WakeBatch<P> {
    fn new() -> Self {
        Self {
            words: [ptr::null(); 8],
            len: 0,
            tasks: (ptr::null(), ptr::null()),
            _park: PhantomData,
        }
    }

    /// Wakes `word` after the lock is released (or now, if the batch is
    /// full: the earlier words first).
    pub(crate) fn push(&mut self, word: *const AtomicU32) {
        if self.len == self.words.len() {
            self.wake_words();
        }
        self.words[self.len] = word;
        self.len += 1;
    }

    /// Marks the linked-out `node` `DONE` (its outcome already written) and
    /// wakes its owner once the lock is released: its word, or, for a
    /// future's node, its waker.
    ///
    /// # Safety
    /// The caller holds the list lock the node was linked under and has
    /// unlinked it; after this it does not touch the node again (its owner
    /// may free it at once, unless it is a task node, which this batch
    /// then visits).
    pub(crate) unsafe fn done(&mut self, node: *const Waiter<P>) {
        // SAFETY: the caller's obligations: the node is alive until DONE.
        let word: &AtomicU32 = unsafe { (*node).word() };
        // `TASK` was set before the node was linked, under the lock we hold.
        let mut now = word.load(Ordering::Relaxed);
        if now & TASK == 0 {
            word.fetch_or(DONE, Ordering::Release);
            self.push(word);
            return;
        }
        // A future's node: we visit it (take its waker) unless an
        // interrupter ended the wait first or the owner is storing a waker
        // (then the owner sees `DONE` itself); see the `waiter` module.
        let visits = loop {
            let visits = now & (INTERRUPTED | REGISTERING) == 0;
            let new = now | DONE | if visits { VISIT } else { 0 };
            match word.compare_exchange_weak(now, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => break visits,
                Err(seen) => now = seen,
            }
        };
        if !visits {
            return;
        }
        // SAFETY: `VISIT` keeps the node alive until `visit_tasks` lets it
        // go; so does it for the last node of the chain.
        unsafe {
            (*node).wake_next.store(ptr::null_mut(), Ordering::Relaxed);
            match self.tasks {
                (first, last) if !first.is_null() => {
                    (*last).wake_next.store(node.cast_mut(), Ordering::Relaxed);
                    self.tasks = (first, node);
                }
                _ => self.tasks = (node, node),
            }
        }
    }

    fn wake_words(&mut self) {
        for &word in &self.words[..self.len] {
            P::wake_one(word);
        }
        self.len = 0;
    }

    /// Wakes everything pushed: the task nodes first (each let go as soon
    /// as its waker is out, so no owner waits on the wakes), then the
    /// words. Called with the list lock released.
    fn wake(&mut self) {
        /// Wakes the words when dropped: after the tasks, and also if a
        /// task's waker panics (the threads behind those words are done
        /// and must not sleep on).
        struct Words<'a, P: Park>(&'a mut WakeBatch<P>);
        impl<P: Park> Drop for Words<'_, P> {
            fn drop(&mut self) {
                self.0.wake_words();
            }
        }
        let first = core::mem::replace(&mut self.tasks, (ptr::null(), ptr::null())).0;
        let _words = Words(self);
        if !first.is_null() {
            visit_tasks(first);
        }
    }
}

/// Takes the waker out of every node of the chain from `first`, lets each
/// node go (clears `VISIT`), and wakes the wakers, a few at a time. A
/// waker that panics stops nothing: the rest of the chain is visited and
/// woken as the unwind passes (a second panic there aborts).
fn visit_tasks<P: Park>(first: *const Waiter<P>) {
    /// The nodes not visited yet; visits them all if dropped early.
    struct Chain<P: Park>(*const Waiter<P>);
    impl<P: Park> Chain<P> {
        fn next_waker(&mut self) -> Option<Option<Waker>> {
            let node = self.0;
            if node.is_null() {
                return None;
            }
            // SAFETY: the node's `VISIT` is still set (by `done`, which
            // made us its one visitor), so its owner keeps it alive; we
            // clear it last and then let go.
            unsafe {
                self.0 = (*node).wake_next.load(Ordering::Relaxed);
                let waker = (*node).take_waker();
                (*node).let_go(VISIT);
                Some(waker)
            }
        }
    }
    impl<P: Park> Drop for Chain<P> {
        fn drop(&mut self) {
            while let Some(waker) = self.next_waker() {
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        }
    }
    /// Wakers taken out and not woken yet; wakes them if dropped early.
    struct Taken([Option<Waker>; 8]);
    impl Taken {
        fn wake_all(&mut self) {
            for waker in &mut self.0 {
                if let Some(waker) = waker.take() {
                    waker.wake();
                }
            }
        }
    }
    impl Drop for Taken {
        fn drop(&mut self) {
            self.wake_all();
        }
    }
    let mut chain = Chain::<P>(first);
    let mut taken = Taken(Default::default());
    let mut len = 0;
    while let Some(waker) = chain.next_waker() {
        if len == taken.0.len() {
            taken.wake_all();
            len = 0;
        }
        taken.0[len] = waker;
        len += 1;
    }
    taken.wake_all();
}

/// Runs `f` on the state in `cell` with `lock` held; after unlocking, wakes
/// what `f` pushed. Unlocks and wakes even if `f` panics (a debug
/// assertion), so a panic never leaves the lock held.
///
/// # Safety
/// `cell` is only ever accessed with `lock` held (through this function).
pub(crate) unsafe fn with_lock<P: Park, T, R>(
    lock: &RawMutex<P>,
    cell: &UnsafeCell<T>,
    f: impl FnOnce(&mut T, &mut WakeBatch<P>) -> R,
) -> R {
    struct Unlock<'a, P: Park> {
        lock: &'a RawMutex<P>,
        wake: WakeBatch<P>,
    }
    impl<P: Park> Drop for Unlock<'_, P> {
        fn drop(&mut self) {
            // SAFETY: locked by `with_lock` on this thread before the guard
            // was made.
            unsafe { self.lock.unlock() };
            self.wake.wake();
        }
    }
    lock.lock();
    let mut guard = Unlock {
        lock,
        wake: WakeBatch::new(),
    };
    // SAFETY: the lock is held for the whole access, and the caller
    // promised that nothing reaches `cell` without it.
    cell.with_mut(|state| f(unsafe { &mut *state }, &mut guard.wake))
}

/// Adds `delta` to a count that only holders of its list lock write (so a
/// load and a store suffice); readers without the lock see a snapshot.
pub(crate) fn count(counter: &AtomicUsize, delta: isize) {
    let now = counter.load(Ordering::Relaxed);
    counter.store(now.wrapping_add_signed(delta), Ordering::Relaxed);
}
