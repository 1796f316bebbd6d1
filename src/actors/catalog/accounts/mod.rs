//! The accounts aggregate (`users`): making an account, with the link that
//! verifies its address; finding one to sign in with or to show; and what an
//! account changes about itself in settings, its name and its password.
//!
//! A password change ends every earlier sign-in in the same transaction that
//! stores the new hash, as a reset does ([`links`](super::links)): a browser or
//! token that knew the old password must not outlive it by a single request.
//! What an operator or an administrator changes about accounts (roles, disabling)
//! is [`admin`](super::admin)'s.

mod handlers;
mod messages;
mod records;

pub use messages::*;
pub use records::*;
