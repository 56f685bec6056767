//! Step-by-step drivers of the blocking algorithms (feature `step`).
//!
//! A blocking call is a loop: try, and if that fails, sleep on a futex word
//! until woken, then try again. The types here run the same code as the
//! blocking calls, but hand control back instead of sleeping, so one thread
//! can drive many waits and interleave them with other operations in any
//! order it likes. Fuzzers and model checkers use them to explore orders of
//! events deterministically; nothing here is needed to use the primitives.
//!
//! A `*Step` value is a wait in progress. Its `poll` retries once and either
//! finishes or hands the step back. Between polls the step is "asleep" on
//! [`sleep_word`](RwLockStep::sleep_word): the driver decides when it would
//! have been woken (with a [`Park`] that records wakes instead of sleeping,
//! it can check that it *is* woken). Dropping a step that has not finished
//! interrupts its node and completes the wait, so nothing is ever left
//! queued or counted.
//!
//! [`ListHarness`] exposes the intrusive wait list itself.

use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr;

use crate::list::WaitList;
use crate::park::Park;
use crate::rwlock::{Attempt, RawRwLock};
use crate::semaphore::{AcquireError, RawSemaphore};
use crate::sync::{AtomicU32, Ordering, UnsafeCell};
use crate::waiter::{Interrupted, WaitScope, Waiter, DONE, INTERRUPTED};

/// What one step of a wait did: finished with a result, or still waiting.
#[derive(Debug)]
pub enum Progress<T, S> {
    /// The call returned this.
    Done(T),
    /// The call would sleep; poll the step again once it may have been woken.
    Waiting(S),
}

impl<T, S> Progress<T, S> {
    /// The result, if the call finished.
    pub fn done(self) -> Option<T> {
        match self {
            Self::Done(result) => Some(result),
            Self::Waiting(_) => None,
        }
    }
}

/// A queued [`RawSemaphore::acquire`], from [`RawSemaphore::start_acquire`].
#[derive(Debug)]
pub struct AcquireStep<'a, P: Park> {
    sem: &'a RawSemaphore<P>,
    node: &'a Waiter<P>,
    n: u64,
    /// `Some` while the node is claimed and queued.
    scope: Option<WaitScope<'a, P>>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "step")))]
impl<P: Park> RawSemaphore<P> {
    /// Starts [`acquire`](Self::acquire) of `n` permits: the same code, but
    /// where `acquire` would sleep, this returns the queued wait.
    pub fn start_acquire<'a>(
        &'a self,
        node: Pin<&'a Waiter<P>>,
        n: u64,
    ) -> Progress<Result<(), AcquireError>, AcquireStep<'a, P>> {
        let node = node.get_ref();
        if self.try_acquire(n).is_ok() {
            return Progress::Done(Ok(()));
        }
        if n == 0 {
            return Progress::Done(Err(AcquireError::Closed));
        }
        let scope = match node.begin_queued() {
            Ok(scope) => scope,
            Err(Interrupted) => return Progress::Done(Err(AcquireError::Interrupted)),
        };
        // SAFETY: `node` is pinned (it came from a `Pin`) and claimed by
        // `scope`; the step keeps both borrowed until `complete` has run
        // (in `poll`, or in `drop`, which forces completion).
        match unsafe { self.enqueue(node, n) } {
            Ok(true) => Progress::Waiting(AcquireStep {
                sem: self,
                node,
                n,
                scope: Some(scope),
            }),
            Ok(false) => Progress::Done(Ok(())),
            Err(err) => Progress::Done(Err(err)),
        }
    }
}

impl<'a, P: Park> AcquireStep<'a, P> {
    /// The word the waiting thread sleeps on (its node's word).
    pub fn sleep_word(&self) -> &'a AtomicU32 {
        self.node.word()
    }

    /// Whether a thread in this wait would stop sleeping now: the node has
    /// its outcome or was interrupted.
    pub fn is_ready(&self) -> bool {
        self.node.word().load(Ordering::Acquire) & (DONE | INTERRUPTED) != 0
    }

    /// Finishes the wait if it [`is_ready`](Self::is_ready); otherwise
    /// hands it back.
    pub fn poll(mut self) -> Progress<Result<(), AcquireError>, Self> {
        if !self.is_ready() {
            return Progress::Waiting(self);
        }
        Progress::Done(self.finish())
    }

    fn finish(&mut self) -> Result<(), AcquireError> {
        // SAFETY: queued by `enqueue` in `start_acquire`, and `scope` is
        // taken below, so this runs once.
        let result = unsafe { self.sem.complete(self.node, self.n) };
        self.scope = None;
        result
    }
}

impl<P: Park> Drop for AcquireStep<'_, P> {
    fn drop(&mut self) {
        if self.scope.is_some() {
            // Interrupting makes the wait ready; completing it then takes
            // only the list lock, which a single driver never holds here.
            self.node.interrupt();
            let _ = self.finish();
        }
    }
}

/// Which lock an [`RwLockStep`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RwMode {
    /// A read lock: sleeps on the readers' wake word.
    Read,
    /// The write lock: counted among the waiting writers, sleeps on the
    /// writers' wake word.
    Write,
}

/// A blocked [`RawRwLock::read_interruptible`] or
/// [`RawRwLock::write_interruptible`], from [`RawRwLock::start_read`] or
/// [`RawRwLock::start_write`].
#[derive(Debug)]
pub struct RwLockStep<'a, P: Park> {
    lock: &'a RawRwLock<P>,
    node: &'a Waiter<P>,
    mode: RwMode,
    sleep_value: u32,
    scope: Option<WaitScope<'a, P>>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "step")))]
impl<P: Park> RawRwLock<P> {
    /// Starts [`read_interruptible`](Self::read_interruptible), without
    /// spinning; where it would sleep, returns the blocked wait.
    pub fn start_read<'a>(
        &'a self,
        node: Pin<&'a Waiter<P>>,
    ) -> Progress<Result<(), Interrupted>, RwLockStep<'a, P>> {
        if self.try_read() {
            return Progress::Done(Ok(()));
        }
        RwLockStep::start(self, node.get_ref(), RwMode::Read)
    }

    /// Starts [`write_interruptible`](Self::write_interruptible), without
    /// spinning; where it would sleep, returns the blocked wait (counted
    /// among the waiting writers until it finishes).
    pub fn start_write<'a>(
        &'a self,
        node: Pin<&'a Waiter<P>>,
    ) -> Progress<Result<(), Interrupted>, RwLockStep<'a, P>> {
        if self.try_write() {
            return Progress::Done(Ok(()));
        }
        RwLockStep::start(self, node.get_ref(), RwMode::Write)
    }
}

impl<'a, P: Park> RwLockStep<'a, P> {
    /// Claims `node` for a wait on the mode's wake word and runs the first
    /// pass (the lock was busy a moment ago).
    fn start(
        lock: &'a RawRwLock<P>,
        node: &'a Waiter<P>,
        mode: RwMode,
    ) -> Progress<Result<(), Interrupted>, Self> {
        let scope = match node.begin_on(Self::wake_word_of(lock, mode)) {
            Ok(scope) => scope,
            Err(err) => return Progress::Done(Err(err)),
        };
        if mode == RwMode::Write {
            lock.announce_writer();
        }
        let step = RwLockStep {
            lock,
            node,
            mode,
            sleep_value: 0,
            scope: Some(scope),
        };
        step.attempt()
    }

    fn wake_word_of(lock: &'a RawRwLock<P>, mode: RwMode) -> &'a AtomicU32 {
        match mode {
            RwMode::Read => &lock.readers_wake,
            RwMode::Write => &lock.writers_wake,
        }
    }

    /// Whether this wait is for a read or the write lock.
    pub fn mode(&self) -> RwMode {
        self.mode
    }

    /// The word the blocked waiter sleeps on, and the value it sleeps while.
    pub fn sleep_word(&self) -> (&'a AtomicU32, u32) {
        (Self::wake_word_of(self.lock, self.mode), self.sleep_value)
    }

    /// Runs the waiter's loop once more, as after a wake.
    pub fn poll(self) -> Progress<Result<(), Interrupted>, Self> {
        self.attempt()
    }

    /// One pass of the mode's contended loop, without spinning.
    fn pass(&self) -> Attempt {
        match self.mode {
            RwMode::Read => self.lock.read_attempt(Some(self.node), &mut 0),
            RwMode::Write => self.lock.write_attempt(Some(self.node)),
        }
    }

    fn attempt(mut self) -> Progress<Result<(), Interrupted>, Self> {
        match self.pass() {
            Attempt::Done(result) => {
                self.scope = None;
                Progress::Done(result)
            }
            Attempt::Sleep(value) => {
                self.sleep_value = value;
                Progress::Waiting(self)
            }
        }
    }
}

impl<P: Park> Drop for RwLockStep<'_, P> {
    fn drop(&mut self) {
        if self.scope.is_some() {
            // An interrupted waiter's next pass always finishes: it takes a
            // free lock or gives up (a writer withdrawing from the count).
            // Give a taken lock back.
            self.node.interrupt();
            if let Attempt::Done(Ok(())) = self.pass() {
                match self.mode {
                    // SAFETY: the read lock was just taken for this step.
                    RwMode::Read => unsafe { self.lock.read_unlock() },
                    // SAFETY: the write lock was just taken for this step.
                    RwMode::Write => unsafe { self.lock.write_unlock() },
                }
            }
            self.scope = None;
        }
    }
}

/// The intrusive wait list over a fixed array of `N` nodes, with safe
/// operations by node index. Pin it before use (`core::pin::pin!`).
///
/// Every operation takes `&self`: the list lives in a cell, and the type is
/// neither `Send` nor `Sync`, so one thread owns it.
///
/// ```
/// use core::pin::pin;
/// use concur_core::step::ListHarness;
///
/// let list = pin!(ListHarness::<4>::new());
/// let list = list.as_ref();
/// assert!(list.push_back(2) && list.push_back(0) && list.push_back(3));
/// assert!(list.remove(0));
/// assert!(!list.remove(0));
/// assert_eq!(list.pop_front(), Some(2));
/// assert_eq!(list.pop_front(), Some(3));
/// assert_eq!(list.pop_front(), None);
/// ```
#[derive(Debug)]
pub struct ListHarness<const N: usize, P: Park = crate::park::SpinPark> {
    nodes: [Waiter<P>; N],
    list: UnsafeCell<WaitList<P>>,
    _pinned: PhantomPinned,
    _not_sync: core::marker::PhantomData<*const ()>,
}

impl<const N: usize, P: Park> Default for ListHarness<N, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, P: Park> ListHarness<N, P> {
    /// `N` unlinked nodes and an empty list.
    pub fn new() -> Self {
        Self {
            nodes: core::array::from_fn(|_| Waiter::new()),
            list: UnsafeCell::new(WaitList::new()),
            _pinned: PhantomPinned,
            _not_sync: core::marker::PhantomData,
        }
    }

    fn node(&self, index: usize) -> *const Waiter<P> {
        &self.nodes[index]
    }

    fn index(&self, node: *const Waiter<P>) -> usize {
        // Nodes are elements of one array, so the offset is exact.
        (node as usize - self.nodes.as_ptr() as usize) / core::mem::size_of::<Waiter<P>>()
    }

    fn with_list<R>(&self, f: impl FnOnce(&mut WaitList<P>) -> R) -> R {
        // SAFETY: the type is !Sync and no method re-enters another, so this
        // is the only access; nodes are pinned with `self`.
        self.list.with_mut(|list| f(unsafe { &mut *list }))
    }

    /// Whether node `index` is linked.
    ///
    /// # Panics
    /// If `index >= N`.
    pub fn is_linked(self: Pin<&Self>, index: usize) -> bool {
        // SAFETY: the list (the only other user of the node fields) is not
        // being accessed: one thread, no re-entrance.
        unsafe { self.nodes[index].queued_mut(|q| q.linked) }
    }

    /// Appends node `index`; false (and no change) if it is already linked.
    ///
    /// # Panics
    /// If `index >= N`.
    pub fn push_back(self: Pin<&Self>, index: usize) -> bool {
        if self.is_linked(index) {
            return false;
        }
        let node = self.node(index);
        // SAFETY: the node is unlinked, pinned with `self`, and lives as
        // long as the list.
        self.with_list(|list| unsafe { list.push_back(node) });
        true
    }

    /// Unlinks node `index`; false if it was not linked.
    ///
    /// # Panics
    /// If `index >= N`.
    pub fn remove(self: Pin<&Self>, index: usize) -> bool {
        let node = self.node(index);
        // SAFETY: the node is alive and linked into this list or none.
        self.with_list(|list| unsafe { list.remove(node) })
    }

    /// Unlinks and returns the head.
    pub fn pop_front(self: Pin<&Self>) -> Option<usize> {
        let head = self.with_list(|list| list.head())?;
        self.remove(self.index(head));
        Some(self.index(head))
    }

    /// Calls `f` with each linked index from head to tail, checking on the
    /// way that every node's `prev` is the node before it and that the tail
    /// is the last node. Returns the number of nodes.
    ///
    /// # Panics
    /// If the links are inconsistent, or hold more than `N` nodes (a cycle).
    pub fn walk(self: Pin<&Self>, mut f: impl FnMut(usize)) -> usize {
        // Collected first and reported after: `f` may call back into `self`,
        // which must not happen while the list is borrowed.
        let mut order = [0usize; N];
        let count = self.with_list(|list| {
            let mut count = 0;
            let mut prev: *const Waiter<P> = ptr::null();
            let mut cursor = list.head();
            while let Some(node) = cursor {
                assert!(count < N, "concur-core: wait list has a cycle");
                // SAFETY: linked nodes are elements of `self.nodes`.
                let (back, linked) = unsafe { (*node).queued_mut(|q| (q.prev, q.linked)) };
                assert!(linked, "concur-core: a reachable node is not marked linked");
                assert_eq!(back, prev, "concur-core: prev link does not match");
                order[count] = self.index(node);
                count += 1;
                prev = node;
                // SAFETY: `node` is linked into this list.
                cursor = unsafe { list.next(node) };
            }
            assert_eq!(list.tail(), prev, "concur-core: tail is not the last node");
            count
        });
        order[..count].iter().for_each(|&i| f(i));
        count
    }
}
