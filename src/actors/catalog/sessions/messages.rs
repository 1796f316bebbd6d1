//! Messages of the sessions aggregate. Each carries the request id it serves,
//! recorded on the handler's span.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::records::{ApiToken, OpenSession};
use crate::actors::catalog::CatalogError;
use crate::telemetry::RequestId;

/// Stores a new session for `user_id`; `replaces` (the hash of the session the
/// browser held before signing in) is deleted in the same transaction, so a
/// sign-in always rotates the id.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct CreateSession {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub id_hash: String,
    pub csrf_token_hash: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub replaces: Option<String>,
}

/// The open session with this id hash: not past its absolute expiry and seen
/// within `idle_timeout`. A session past either is deleted and `None` returned;
/// an open one has `last_seen_at` brought forward (at most once a minute).
#[derive(Message)]
#[rtype(result = "Result<Option<OpenSession>, CatalogError>")]
pub struct FindSession {
    pub request_id: RequestId,
    pub id_hash: String,
    pub idle_timeout: Duration,
}

/// Ends one session (sign-out); ending one that is gone is not an error.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct EndSession {
    pub request_id: RequestId,
    pub id_hash: String,
}

/// Records a logged-out access token so it is refused until it would expire.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct RevokeAccessToken {
    pub request_id: RequestId,
    pub jti: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// What a presented credential (an access token, an API token) opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialCheck {
    /// This account.
    Valid(Uuid),
    /// Nothing: unknown, expired, revoked, or its account is gone.
    Invalid,
    /// An account an operator has disabled.
    AccountDisabled,
}

/// Whether an access token still opens its account: it was not logged out, the
/// account exists and is not disabled, and the token was issued under the
/// account's current token generation (a password reset since then ended it).
#[derive(Message)]
#[rtype(result = "Result<CredentialCheck, CatalogError>")]
pub struct CheckAccessToken {
    pub request_id: RequestId,
    pub jti: Uuid,
    pub user_id: Uuid,
    pub generation: i32,
}

/// Stores a new API token (its hash) for the account; with
/// `only_if_verified`, only when the account's address is verified, checked
/// in the transaction that stores it.
#[derive(Message)]
#[rtype(result = "Result<ApiTokenCreation, CatalogError>")]
pub struct CreateApiToken {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub only_if_verified: bool,
}

#[derive(Debug)]
pub enum ApiTokenCreation {
    Created(ApiToken),
    /// Refused: the address is not verified.
    AddressUnverified,
    /// The account does not exist (any more).
    NoAccount,
}

#[derive(Message)]
#[rtype(result = "Result<Vec<ApiToken>, CatalogError>")]
pub struct ListApiTokens {
    pub request_id: RequestId,
    pub user_id: Uuid,
}

/// Deletes one of the user's tokens; replies whether there was one to delete.
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct DeleteApiToken {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub token_id: Uuid,
}

/// Finds the owner of an unexpired token by its hash and, unless the owner is
/// disabled, stamps `last_used_at`.
#[derive(Message)]
#[rtype(result = "Result<CredentialCheck, CatalogError>")]
pub struct AuthenticateApiToken {
    pub request_id: RequestId,
    pub token_hash: String,
}
