//! The admin aggregate: what the operator's command line (`kiln user`, `kiln
//! jobs`, `kiln files purge`, `kiln storage verify`) and the administrators'
//! pages ask across every user: listing and disabling accounts and choosing
//! administrators, the failed jobs of every user, walking every file with what
//! was made from it and every cached transform, and putting back a variant
//! whose object was lost.
//!
//! They sit apart from the aggregates they read because no user reaches them
//! for their own data: the caller was checked to be an administrator, or is a
//! person at a terminal, and they read across all users, in pages.

mod handlers;
mod messages;
mod records;

pub use messages::*;
pub use records::*;
