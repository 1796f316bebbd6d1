//! Isolation: every job's untrusted bytes are decoded and rendered in a child
//! process, `kiln processor`, never in the process that serves users or holds
//! the database, Redis and storage credentials (DESIGN.md §2).
//!
//! This module owns what both sides of that boundary share and what the child
//! runs; the parent's side (starting children, one per slot of the pool, and
//! turning their deaths into job errors) is the processor pool in
//! [`crate::actors::processors`].
//!
//! ```text
//!  worker (parent)                               kiln processor (child, one per slot)
//!  actors::processors ── protocol::Request ─────▶ child::serve: read a job,
//!     (stdin pipe)         + original bytes        processing::run, reply
//!                       ◀─ protocol::Reply ────── outputs' bytes, or the refusal
//!     (stdout pipe)        + output bytes
//! ```
//!
//! - [`protocol`]: the frames on the pipes. The parent reads a child's replies as
//!   untrusted input (sizes bounded, variant names checked against the job).
//! - [`child`]: the loop `kiln processor` runs, with panics caught per job.
//! - [`sandbox`]: what confines a child before it reads its first job: memory
//!   (address space), CPU time per job, no core files, no file writes, and a
//!   seccomp filter and Landlock rules that deny the network, new programs and
//!   new processes.
//! - [`memory`]: the allocator wrapper that turns running out of the memory
//!   limit into a distinct exit code the parent can name.
//! - `faults` (debug builds only): the crashes, hangs and allocations the test
//!   suite asks a child for with `KILN_TEST_FAULTS`.

pub mod child;
#[cfg(debug_assertions)]
mod faults;
pub mod memory;
pub mod protocol;
pub mod sandbox;
