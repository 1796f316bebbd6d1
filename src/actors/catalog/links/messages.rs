//! Messages of the links aggregate. Each carries the request id it serves,
//! recorded on the handler's span.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::records::LinkCheck;
use crate::actors::catalog::{CatalogError, User};
use crate::telemetry::RequestId;

/// A single-use link token to store: only its hash, and when it stops working.
#[derive(Debug, Clone)]
pub struct NewLinkToken {
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores another verification token for the user's current address and replies
/// with the account to mail it to (`None`: the account is gone). Refused with
/// [`CatalogError::AlreadyVerified`], or [`CatalogError::TooSoon`] when the last
/// one was made less than `interval` ago.
#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct IssueEmailVerification {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub token: NewLinkToken,
    pub interval: Duration,
}

/// Uses a verification token: the address it was sent to is verified, if it is
/// still the account's address. Replies with the account's id.
#[derive(Message)]
#[rtype(result = "Result<LinkCheck<Uuid>, CatalogError>")]
pub struct VerifyEmail {
    pub request_id: RequestId,
    pub token_hash: String,
}

/// Stores a reset token for the account with `email` and replies with the
/// account to mail it to. `None`, with nothing stored, when there is no such
/// account or the last reset for it was made less than `interval` ago: the
/// caller answers both alike, so nobody learns which addresses have accounts.
#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct IssuePasswordReset {
    pub request_id: RequestId,
    pub email: String,
    pub token: NewLinkToken,
    pub interval: Duration,
}

/// The account a reset token is for, leaving the token unused (the new
/// password is checked against the account before the token is spent).
#[derive(Message)]
#[rtype(result = "Result<LinkCheck<User>, CatalogError>")]
pub struct FindPasswordReset {
    pub request_id: RequestId,
    pub token_hash: String,
}

/// Uses a reset token, in one transaction: stores the new password hash, ends
/// the account's sign-ins (a new token generation; web sessions deleted) and
/// every other reset link it has, and every API token), and counts the address
/// as verified (the link reached it). Replies with the account's id.
#[derive(Message)]
#[rtype(result = "Result<LinkCheck<Uuid>, CatalogError>")]
pub struct ResetPassword {
    pub request_id: RequestId,
    pub token_hash: String,
    pub password_hash: String,
}
