//! The shares aggregate (`file_shares`): public links to one of a user's
//! files. Making, listing and revoking reach only the asking user's own files;
//! opening a link finds it by its token's hash alone, and only while it lasts.
//! Nothing here is cached, so a revoked link is refused by every process from
//! the next request on.

mod handlers;
mod messages;
mod records;

pub use messages::*;
pub use records::*;
