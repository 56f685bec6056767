//! The one place the core gets its atomics and cells from.
//!
//! Normally these are `core`'s own types. Under `--cfg loom` they are loom's,
//! so a model checks every atomic access and every cross-thread use of the
//! waiter nodes' unsynchronised fields. Nothing in the algorithms names
//! `core::sync::atomic` directly.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

pub(crate) use core::sync::atomic::Ordering;

/// A cell whose every access goes through a closure, so loom can check that
/// accesses from different threads are ordered by the algorithm.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T> {
    #[cfg(loom)]
    inner: loom::cell::UnsafeCell<T>,
    #[cfg(not(loom))]
    inner: core::cell::UnsafeCell<T>,
}

impl<T> UnsafeCell<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Self {
        Self {
            inner: core::cell::UnsafeCell::new(value),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        Self {
            inner: loom::cell::UnsafeCell::new(value),
        }
    }

    /// Runs `f` with a unique pointer to the value.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(loom)]
        return self.inner.with_mut(f);
        #[cfg(not(loom))]
        return f(self.inner.get());
    }
}

/// How many times a slow path spins on a busy word before it parks.
///
/// Spinning is a pure latency optimisation: no algorithm depends on it. Under
/// loom it is off, because every spin iteration multiplies the schedules loom
/// has to explore without exercising anything new.
#[cfg(not(loom))]
pub(crate) const SPIN_LIMIT: u32 = 100;
#[cfg(loom)]
pub(crate) const SPIN_LIMIT: u32 = 0;

/// One spin-wait step.
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// Declares a constructor that is `const` except under loom, whose atomics
/// cannot be built in a const context.
macro_rules! const_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$m])* $vis const fn $name($($arg: $ty),*) -> $ret $body
        #[cfg(loom)]
        $(#[$m])* $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use const_fn;

/// Ends the process: `core` has no `abort`, so this panics while a guard
/// whose drop panics again is live. With `panic = "abort"` the first panic
/// aborts; with unwinding, the second panic happens during the unwind, which
/// Rust turns into an abort before any `catch_unwind` can see it. For
/// invariants whose breach would otherwise be a use-after-free.
#[cold]
#[inline(never)]
pub(crate) fn abort(msg: &str) -> ! {
    struct PanicAgain;
    impl Drop for PanicAgain {
        fn drop(&mut self) {
            panic!("concur-core: aborting");
        }
    }
    let _again = PanicAgain;
    panic!("{msg}");
}

/// Runs a closure if dropped before it is disarmed: armed around a step
/// that must not be left half done if something in it unwinds (a parker
/// that breaks its contract). The closure undoes the step, or aborts where
/// nothing can be undone.
pub(crate) struct OnUnwind<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnUnwind<F> {
    #[inline]
    pub(crate) fn new(undo: F) -> Self {
        Self(Some(undo))
    }

    /// The step is over: dropping the guard now does nothing.
    #[inline]
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for OnUnwind<F> {
    fn drop(&mut self) {
        if let Some(undo) = self.0.take() {
            undo();
        }
    }
}
