//! One shard of a [`Pool`](super::Pool): an owner slot, a shared slot and a
//! stack.
//!
//! | part | who uses it | how |
//! |------|-------------|-----|
//! | `owner` | claimed once, by the first thread (by number) whose home this shard is | one compare-exchange, ever |
//! | `owned` | only the owner thread | a load and a store: no read-modify-write, so a thread alone at its shard gets and puts without a locked instruction |
//! | `slot` | any thread | one swap to take, one compare-exchange to fill |
//! | `stack` | any thread | behind a lock |
//!
//! Other threads only ever *read* `owned` (to count idle objects); the
//! pool's drop, which has `&mut`, empties it.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::Mutex;

pub(super) struct Shard<T> {
    /// The owner's thread number; 0 while unclaimed.
    owner: AtomicUsize,
    /// The owner's idle object (from `Box::into_raw`), or null.
    owned: AtomicPtr<T>,
    /// One idle object anyone may take, or null.
    slot: AtomicPtr<T>,
    /// More idle objects. Also what makes `Pool<T>` `Send`/`Sync` only for
    /// `T: Send` (the `AtomicPtr`s alone would not).
    pub(super) stack: Mutex<Vec<Box<T>>>,
}

impl<T> Shard<T> {
    pub(super) fn new() -> Self {
        Self {
            owner: AtomicUsize::new(0),
            owned: AtomicPtr::new(ptr::null_mut()),
            slot: AtomicPtr::new(ptr::null_mut()),
            stack: Mutex::new(Vec::new()),
        }
    }

    /// Whether thread `me` owns this shard, claiming it if nobody does.
    #[inline]
    pub(super) fn owned_by(&self, me: usize) -> bool {
        match self.owner.load(Ordering::Relaxed) {
            0 => self.claim(me),
            owner => owner == me,
        }
    }

    #[cold]
    fn claim(&self, me: usize) -> bool {
        if me == super::thread::EXITING {
            return false;
        }
        self.owner
            .compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the owner's object. Only the owner thread may call this.
    #[inline]
    pub(super) fn take_owned(&self) -> Option<Box<T>> {
        let raw = self.owned.load(Ordering::Relaxed);
        if raw.is_null() {
            return None;
        }
        self.owned.store(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: a non-null `owned` holds a pointer from `Box::into_raw`,
        // and only this (the owner) thread takes or fills it, so nobody
        // else can take it between the load and the store.
        Some(unsafe { Box::from_raw(raw) })
    }

    /// Puts `value` in the owner's slot if it is empty. Only the owner
    /// thread may call this.
    #[inline]
    pub(super) fn fill_owned(&self, value: Box<T>) -> Result<(), Box<T>> {
        if !self.owned.load(Ordering::Relaxed).is_null() {
            return Err(value);
        }
        // Release: a thread counting idle objects sees a whole object.
        self.owned.store(Box::into_raw(value), Ordering::Release);
        Ok(())
    }

    /// Takes the shared slot's object, if any.
    #[inline]
    pub(super) fn take_slot(&self) -> Option<Box<T>> {
        let raw = self.slot.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a non-null slot holds a pointer from `Box::into_raw`, and
        // the swap made us its only owner.
        (!raw.is_null()).then(|| unsafe { Box::from_raw(raw) })
    }

    /// Puts `value` in the shared slot if it is empty.
    #[inline]
    pub(super) fn fill_slot(&self, value: Box<T>) -> Result<(), Box<T>> {
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

    /// Idle objects here now (a snapshot: the slots may change as it reads).
    pub(super) fn idle(&self) -> usize {
        usize::from(!self.owned.load(Ordering::Relaxed).is_null())
            + usize::from(!self.slot.load(Ordering::Relaxed).is_null())
            + self.stack.lock().len()
    }
}

impl<T> Drop for Shard<T> {
    fn drop(&mut self) {
        for slot in [self.owned.get_mut(), self.slot.get_mut()] {
            let raw = std::mem::replace(slot, ptr::null_mut());
            if !raw.is_null() {
                // SAFETY: `&mut self`: nobody else holds the pointer, which
                // came from `Box::into_raw`.
                drop(unsafe { Box::from_raw(raw) });
            }
        }
    }
}
