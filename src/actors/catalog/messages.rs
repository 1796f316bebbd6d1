//! Messages the Catalog accepts. Each carries the request id it serves, recorded
//! on the handler's span.

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::CatalogError;
use super::records::{ApiToken, LoginCandidate, User};
use crate::telemetry::RequestId;

/// Answers when the database answers a trivial query.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct PingDatabase;

#[derive(Message)]
#[rtype(result = "Result<User, CatalogError>")]
pub struct CreateUser {
    pub request_id: RequestId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

#[derive(Message)]
#[rtype(result = "Result<Option<LoginCandidate>, CatalogError>")]
pub struct FindLoginCandidate {
    pub request_id: RequestId,
    pub email: String,
}

#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct FindUser {
    pub request_id: RequestId,
    pub user_id: Uuid,
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

#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct IsAccessTokenRevoked {
    pub request_id: RequestId,
    pub jti: Uuid,
}

#[derive(Message)]
#[rtype(result = "Result<ApiToken, CatalogError>")]
pub struct CreateApiToken {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
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

/// Finds the owner of an unexpired token by its hash and stamps `last_used_at`.
#[derive(Message)]
#[rtype(result = "Result<Option<Uuid>, CatalogError>")]
pub struct AuthenticateApiToken {
    pub request_id: RequestId,
    pub token_hash: String,
}
