//! The files aggregate (`files`, `file_variants`): recording an upload with its
//! jobs in one transaction (the outbox), listing, counting and searching a
//! user's files, a file with what was made from it, its variants, and deleting
//! it. Every message reaches only the asking user's own files: another user's
//! answers as absent. An upload whose bytes the user stored before shares the
//! stored objects ([`shared`](self) deduplication).

mod handlers;
mod messages;
mod records;
mod shared;

pub use messages::*;
pub use records::*;
