//! Messages of the OAuth aggregate. Each carries the request id it serves,
//! recorded on the handler's span.

use actix::Message;
use uuid::Uuid;

use super::records::SignInMethods;
use crate::actors::catalog::{CatalogError, User};
use crate::auth::oauth::{Identity, Provider};
use crate::telemetry::RequestId;

/// Signs in with an identity a provider vouched for, in one write transaction
/// (so two callbacks racing for a new identity make one account): the account
/// linked to it; else the account with its address, linked now, when the
/// provider says the address is verified; else a new account without a
/// password.
#[derive(Message)]
#[rtype(result = "Result<OAuthSignInOutcome, CatalogError>")]
pub struct OAuthSignIn {
    pub request_id: RequestId,
    pub identity: Identity,
}

#[derive(Debug, Clone)]
pub enum OAuthSignInOutcome {
    /// The identity was linked to this account already.
    SignedIn(User),
    /// The account with the provider-verified address, linked now. If the
    /// account had not verified that address itself, nothing proved that its
    /// password was set by the address's owner: the password is removed and
    /// the account's sessions, access and API tokens end (its address counts as
    /// verified now).
    Linked(User),
    /// A new account: no password, the address verified as the provider says,
    /// the provider's name or else the address's local part.
    Created(User),
    /// An account has this address but the provider does not vouch for it:
    /// refused; the owner signs in with the password and links from settings.
    EmailInUseUnverified,
    /// The account with this address already has another identity at this
    /// provider: refused rather than give one account two.
    OtherIdentityLinked,
    /// No link, and the provider gave no address to make an account with.
    NoEmail,
}

/// Links an identity to a signed-in account (from settings).
#[derive(Message)]
#[rtype(result = "Result<OAuthLinkOutcome, CatalogError>")]
pub struct LinkOAuthAccount {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub identity: Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthLinkOutcome {
    /// Linked now, or it was linked to this account already.
    Linked,
    /// That identity signs in to another account.
    AlreadyLinkedElsewhere,
    /// The account has a different identity at this provider.
    ProviderAlreadyLinked,
    /// The account was deleted meanwhile.
    AccountGone,
}

/// Removes the account's link to `provider`, unless it is the account's last
/// way to sign in.
#[derive(Message)]
#[rtype(result = "Result<OAuthUnlinkOutcome, CatalogError>")]
pub struct UnlinkOAuthAccount {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub provider: Provider,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthUnlinkOutcome {
    Unlinked,
    NotLinked,
    /// No password and no other provider: unlinking would lock the owner out.
    LastSignInMethod,
}

/// The account's linked providers and whether it has a password.
#[derive(Message)]
#[rtype(result = "Result<SignInMethods, CatalogError>")]
pub struct ListOAuthAccounts {
    pub request_id: RequestId,
    pub user_id: Uuid,
}
