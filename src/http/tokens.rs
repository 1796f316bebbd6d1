//! Personal API tokens, whichever door they are managed through: the JSON API
//! (`api/tokens`), the settings page (`ui/settings`) and `kiln token create`
//! all call these, so the rules (name, lifetime, shown once, only the owner's,
//! only for a verified address) are kept once.
//!
//! The secret exists only in the reply to [`create`]: the Catalog keeps its
//! hash and a short display prefix.

use actix::Addr;
use chrono::{Duration, Utc};
use uuid::Uuid;

use super::error::ApiError;
use super::{AppState, ask};
use crate::actors::catalog::Catalog;
use crate::actors::catalog::sessions::{
    ApiToken, ApiTokenCreation, CreateApiToken, DeleteApiToken, ListApiTokens,
};
use crate::auth::api_token;
use crate::domain::TokenName;
use crate::telemetry::RequestId;

/// Longest lifetime a token may be given: ten years.
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;

/// A token just made: what is stored, and the secret to show once.
pub struct CreatedToken {
    pub stored: ApiToken,
    pub secret: String,
}

/// Who asks for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    /// The account itself (the API, the settings page): only once its address
    /// is verified, else 403 `email_unverified`. Anyone can register an
    /// address that is not theirs; a token made before its owner takes the
    /// account back would be a way in that needs no password.
    Owner,
    /// The operator, on the command line: the address need not be verified.
    /// The operator vouches for the account by running the command (and
    /// accounts the operator makes count as verified anyway); the stranger
    /// the rule keeps out cannot run it. A reset by the address's owner still
    /// ends such a token.
    Operator,
}

/// Makes a token for `user_id` named `name` that expires after
/// `expires_in_days` (never, when `None`). Needs only the Catalog, so the
/// command line, which has no server, makes tokens the same way.
pub async fn create(
    catalog: &Addr<Catalog>,
    request_id: RequestId,
    requester: Requester,
    user_id: Uuid,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<CreatedToken, ApiError> {
    let name = TokenName::parse(name).map_err(|m| ApiError::unprocessable("invalid_name", m))?;
    let expires_at = match expires_in_days {
        None => None,
        Some(days @ 1..=MAX_EXPIRES_IN_DAYS) => Some(Utc::now() + Duration::days(days)),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_expiry",
                format!("expires_in_days must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
            ));
        }
    };
    let generated = api_token::generate();
    let created = ask(
        catalog,
        CreateApiToken {
            request_id,
            user_id,
            name: name.into_inner(),
            prefix: generated.display_prefix,
            token_hash: generated.hash,
            expires_at,
            only_if_verified: requester == Requester::Owner,
        },
    )
    .await?;
    let stored = match created {
        ApiTokenCreation::Created(stored) => stored,
        ApiTokenCreation::AddressUnverified => return Err(ApiError::EmailUnverified),
        // A valid credential for a deleted account proves nothing any more.
        ApiTokenCreation::NoAccount => return Err(ApiError::Unauthorized),
    };
    tracing::info!(%user_id, token_id = %stored.id, "API token created");
    Ok(CreatedToken {
        stored,
        secret: generated.token,
    })
}

/// The user's tokens, newest first.
pub async fn list(
    state: &AppState,
    request_id: RequestId,
    user_id: Uuid,
) -> Result<Vec<ApiToken>, ApiError> {
    ask(
        &state.actors.catalog,
        ListApiTokens {
            request_id,
            user_id,
        },
    )
    .await
}

/// Deletes one of the user's tokens: it stops working at once. 404 when the
/// user has no such token (another user's id included).
pub async fn revoke(
    state: &AppState,
    request_id: RequestId,
    user_id: Uuid,
    token_id: Uuid,
) -> Result<(), ApiError> {
    let deleted = ask(
        &state.actors.catalog,
        DeleteApiToken {
            request_id,
            user_id,
            token_id,
        },
    )
    .await?;
    if !deleted {
        return Err(ApiError::NotFound("token"));
    }
    tracing::info!(%user_id, %token_id, "API token revoked");
    Ok(())
}
