//! The sessions aggregate: what a request signs in with, and everything the
//! Catalog checks on every signed-in request.
//!
//! - Web sessions (`sessions`): opened at sign-in, rotating any the browser
//!   held; looked up on every request, enforcing idle and absolute expiry; ended
//!   at sign-out. Ending all of an account's sessions happens where the password
//!   changes, in the same transaction ([`accounts`](super::accounts),
//!   [`links`](super::links)).
//! - Access tokens: the ones logged out (`revoked_tokens`), and whether a
//!   token's account and token generation still stand.
//! - API tokens (`api_tokens`): made, listed and deleted from settings or the
//!   API, and authenticated on every request that presents one.

mod handlers;
mod messages;
mod records;

pub use messages::*;
pub use records::*;
