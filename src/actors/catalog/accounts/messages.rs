//! Messages of the accounts aggregate. Each carries the request id it serves,
//! recorded on the handler's span.

use actix::Message;
use uuid::Uuid;

use super::records::LoginCandidate;
use crate::actors::catalog::links::NewLinkToken;
use crate::actors::catalog::{CatalogError, User};
use crate::domain::quota::Usage;
use crate::telemetry::RequestId;

/// Creates an account and, in the same transaction, the token of the link that
/// verifies its address. Without one (an operator made the account with
/// `kiln user create`) the address counts as verified.
#[derive(Message)]
#[rtype(result = "Result<User, CatalogError>")]
pub struct CreateUser {
    pub request_id: RequestId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub verification: Option<NewLinkToken>,
    pub is_admin: bool,
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

/// What the account stores against its quota; `None` when it does not exist.
#[derive(Message)]
#[rtype(result = "Result<Option<Usage>, CatalogError>")]
pub struct FindUsage {
    pub request_id: RequestId,
    pub user_id: Uuid,
}

/// Sets the account's display name; replies with the account as it is now
/// (`None`: it is gone).
#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct RenameUser {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub name: String,
}

/// Sets a new password hash and, in one transaction, ends every sign-in the
/// account had: a new token generation (its access tokens stop working), all
/// its web sessions deleted, its unused reset links spent. API tokens stay.
///
/// `replaces` is the hash the caller checked the current password against
/// (`None`: the account had no password): the change happens only if it is
/// still the stored one, so two changes racing with one old password cannot
/// both win. Replies whether the password was changed.
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct ChangePassword {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub password_hash: String,
    pub replaces: Option<String>,
}
