//! The system allocator, counting the bytes in use: a leak shows as a
//! rising count, where resident memory can also rise from fragmentation
//! (freed memory the allocator keeps) without anything being lost.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// Bytes allocated and not yet freed (signed: a thread may free what
/// another counted, and the two updates land in either order).
static IN_USE: AtomicIsize = AtomicIsize::new(0);

/// The harness's global allocator.
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments,
// so `System`'s guarantees are the caller's; the counting only reads sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract for `layout`.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            IN_USE.fetch_add(layout.size() as isize, Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            IN_USE.fetch_add(layout.size() as isize, Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator (so `System`)
        // returned for `layout`.
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and `new_size` is the caller's valid size.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            IN_USE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        new
    }
}

/// Bytes in use on the heap now, in KiB.
pub fn in_use_kib() -> u64 {
    IN_USE.load(Relaxed).max(0) as u64 / 1024
}
