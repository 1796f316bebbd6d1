//! The links aggregate: the single-use links Kiln mails, e-mail verification
//! (`email_verifications`) and password reset (`password_resets`).
//!
//! A token is stored only as its hash, found by it and spent with one
//! conditional UPDATE (`used_at` still NULL), so two requests racing with one
//! token cannot both use it. Every handler that writes takes the account's row
//! lock first: two requests racing to mail one account cannot both pass the
//! once-per-interval check, and issuing and spending always lock in the same
//! order (account, then tokens).
//!
//! The row of a new verification token (`email_verification_row`) is lent to the
//! accounts aggregate, which makes the first one with the account.

mod handlers;
mod messages;
mod records;
mod table;

pub(super) use handlers::email_verification_row;
pub use messages::*;
pub use records::*;
