//! The OAuth aggregate (`oauth_accounts`): signing in with an identity a
//! provider vouched for, linking and unlinking one from settings, and listing an
//! account's ways to sign in.
//!
//! An identity is found by (provider, provider user id), which a unique index
//! keeps to one account. An address from a provider opens an existing account
//! only when the provider says the address is verified.
//!
//! Every handler that writes runs in one write transaction and locks the
//! account's row, so two requests cannot both pass a check the other one
//! invalidates: two unlinks cannot take away an account's last two ways in. Two
//! callbacks for a new identity both try to insert; the unique indexes refuse
//! the second, whose transaction runs once more and finds the first one's rows.

mod handlers;
mod messages;
mod records;

pub use messages::*;
pub use records::*;
