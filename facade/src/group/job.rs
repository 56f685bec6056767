//! A task's closure, stored in the task itself when it is small, boxed
//! otherwise. A box per task is an allocation by the submitter freed by a
//! worker, and glibc's allocator then takes the submitter's arena lock on
//! both sides: in `fanout_10000` that was a quarter of the time.

use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop, MaybeUninit};
use std::ptr;

use super::BoxError;

/// Room for a closure of up to three words (align at most a word's).
type Storage = MaybeUninit<[usize; 3]>;

/// A `FnOnce() -> Result<(), BoxError> + Send + 'env`, type-erased.
pub(super) struct Job<'env> {
    /// The closure itself, or a `Box` of it if it does not fit.
    storage: Storage,
    /// Moves the closure out of `storage` and runs it.
    call: unsafe fn(*mut Storage) -> Result<(), BoxError>,
    /// Drops the closure in `storage` without running it.
    drop: unsafe fn(*mut Storage),
    /// What the job stands for: lifetime `'env`, `Send` (every job is made
    /// from a `Send` closure), and nothing shared.
    _closure: PhantomData<Box<dyn FnOnce() -> Result<(), BoxError> + Send + 'env>>,
}

impl<'env> Job<'env> {
    /// A job running `f`: in place if it fits, in a box if not.
    pub(super) fn new<F>(f: F) -> Self
    where
        F: FnOnce() -> Result<(), BoxError> + Send + 'env,
    {
        if fits::<F>() {
            Self::in_place(f)
        } else {
            Self::in_place(Box::new(f))
        }
    }

    fn in_place<F>(f: F) -> Self
    where
        F: FnOnce() -> Result<(), BoxError> + Send + 'env,
    {
        assert!(fits::<F>(), "concur-sync: a job stored in place must fit");
        let mut storage = Storage::uninit();
        // SAFETY: `storage` is large and aligned enough for `F` (asserted).
        unsafe { storage.as_mut_ptr().cast::<F>().write(f) };
        Job {
            storage,
            call: call::<F>,
            drop: drop_in_place::<F>,
            _closure: PhantomData,
        }
    }

    /// Runs the closure (consuming it; a panic unwinds out of here with
    /// the closure already moved out and dropped by the unwind).
    pub(super) fn run(self) -> Result<(), BoxError> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `storage` holds the closure `call` was made for, and it
        // is never touched again: `this` is not dropped.
        unsafe { (this.call)(&mut this.storage) }
    }
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        // SAFETY: a job not run still holds its closure (`run` consumes the
        // job without dropping it).
        unsafe { (self.drop)(&mut self.storage) }
    }
}

/// Whether an `F` fits in [`Storage`].
const fn fits<F>() -> bool {
    mem::size_of::<F>() <= mem::size_of::<Storage>()
        && mem::align_of::<F>() <= mem::align_of::<Storage>()
}

/// # Safety
/// `storage` holds an `F`, which this moves out.
unsafe fn call<F: FnOnce() -> Result<(), BoxError>>(storage: *mut Storage) -> Result<(), BoxError> {
    // SAFETY: the caller's obligation.
    let f = unsafe { storage.cast::<F>().read() };
    f()
}

/// # Safety
/// `storage` holds an `F`, which this drops.
unsafe fn drop_in_place<F>(storage: *mut Storage) {
    // SAFETY: the caller's obligation.
    unsafe { ptr::drop_in_place(storage.cast::<F>()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn small_and_large_closures_run_or_drop_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        struct Count(Arc<AtomicUsize>);
        impl Drop for Count {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let small = Count(drops.clone());
        let large = (Count(drops.clone()), [0u64; 8]);
        assert!(fits::<Count>() && !fits::<(Count, [u64; 8])>());
        let ran = Job::new(move || {
            let _keep = &small;
            Ok(())
        });
        assert!(ran.run().is_ok());
        assert_eq!(drops.load(Ordering::Relaxed), 1, "run drops the capture");
        let boxed = Job::new(move || {
            let _keep = &large;
            Err("large".into())
        });
        assert_eq!(boxed.run().unwrap_err().to_string(), "large");
        assert_eq!(drops.load(Ordering::Relaxed), 2);
        let dropped = Job::new({
            let c = Count(drops.clone());
            move || {
                let _keep = &c;
                Ok(())
            }
        });
        drop(dropped);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            3,
            "a job never run drops its capture"
        );
        let panics = Job::new({
            let c = Count(drops.clone());
            move || {
                let _keep = &c;
                panic!("in a job")
            }
        });
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| panics.run()));
        assert!(caught.is_err());
        assert_eq!(
            drops.load(Ordering::Relaxed),
            4,
            "a panicking job drops its capture once"
        );
    }
}
