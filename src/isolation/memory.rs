//! Running out of memory in a processor child, made recognisable.
//!
//! A child runs under an address-space limit (`PROCESSOR_MEMORY_LIMIT`, see
//! [`super::sandbox`]). When an allocation fails, Rust's default is to print a
//! line and abort, which the parent could not tell from any other crash. The
//! binary's global allocator is [`KilnAllocator`]: the system allocator, except
//! that in a processor child a failed allocation ends the process at once with
//! [`OUT_OF_MEMORY_EXIT`], which the parent reports as "used more than its
//! memory limit". Every other process keeps Rust's default behaviour.
//!
//! Allocations made by C libraries (libjpeg, libwebp, PDFium) do not pass
//! through here: those libraries see `malloc` return NULL and fail in their own
//! way (an error, or a crash the parent reports as one).
//!
//! It also sets what glibc's allocator does with large freed buffers: a child
//! keeps them for its next job ([`keep_freed_memory`]); a server gives them back
//! ([`return_freed_memory`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// The exit status of a processor child whose allocation failed.
pub const OUT_OF_MEMORY_EXIT: i32 = 86;

/// Set once by a processor child before it applies its limits.
static IN_PROCESSOR_CHILD: AtomicBool = AtomicBool::new(false);

/// Makes a failed allocation in this process exit with [`OUT_OF_MEMORY_EXIT`].
pub fn exit_on_allocation_failure() {
    IN_PROCESSOR_CHILD.store(true, Ordering::SeqCst);
}

/// Keeps the memory a job frees for the next job instead of handing it back
/// to the kernel: a child runs one job after another, each allocating buffers
/// of about the same sizes, and pages handed back must be faulted in and
/// zeroed again (tens of thousands of page faults for a 12 MP photo). The
/// address-space limit still bounds what is kept.
pub fn keep_freed_memory() {
    // glibc's defaults move buffers past 128 KiB to their own mappings, and
    // give the top of the heap back once 128 KiB are free there.
    const MMAP_THRESHOLD: libc::c_int = 32 << 20;
    const TRIM_THRESHOLD: libc::c_int = 512 << 20;
    // SAFETY: mallopt only changes the allocator's thresholds; no thread runs yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

/// Hands buffers of 1 MiB and more back to the kernel when they are freed, in
/// the long-running server processes. glibc's default threshold rises to the
/// size of the largest buffer freed so far (up to 32 MiB), after which buffers
/// that size come from the thread's heap and stay there: each password hash
/// takes 19 MiB (argon2's memory), and a few sign-ins left `kiln api` holding
/// 175 MiB for good where it needs about 35. A fixed threshold keeps what a
/// burst of hashes or uploads took from staying resident after it.
pub fn return_freed_memory() {
    const MMAP_THRESHOLD: libc::c_int = 1 << 20;
    // SAFETY: mallopt only changes the allocator's thresholds, which it
    // reads under its own locks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// The system allocator, with the child's exit on a failed allocation.
pub struct KilnAllocator;

impl KilnAllocator {
    #[cold]
    fn out_of_memory() {
        if IN_PROCESSOR_CHILD.load(Ordering::Relaxed) {
            // Nothing here may allocate: write the reason with a raw write(2)
            // and leave without unwinding or running destructors.
            let message = b"kiln processor: out of memory\n";
            // SAFETY: writing a static buffer to fd 2 and exiting; both are
            // async-signal-safe and touch no Rust state.
            unsafe {
                libc::write(2, message.as_ptr().cast(), message.len());
                libc::_exit(OUT_OF_MEMORY_EXIT);
            }
        }
    }
}

// SAFETY: every method forwards to `System` with the same arguments and returns
// its result unchanged; the only addition is an exit when that result is null.
unsafe impl GlobalAlloc for KilnAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let pointer = unsafe { System.alloc(layout) };
        if pointer.is_null() {
            Self::out_of_memory();
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if pointer.is_null() {
            Self::out_of_memory();
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from this allocator, which is `System`'s.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller's contract for `realloc`.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if moved.is_null() {
            Self::out_of_memory();
        }
        moved
    }
}
