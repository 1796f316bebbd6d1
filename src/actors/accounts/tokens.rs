//! Personal API tokens: made (the secret shown once, only its hash kept) and
//! revoked.

use chrono::{Duration, Utc};

use super::{AccountsError, CreateApiToken, CreatedToken, Peers, Requester, RevokeApiToken};
use crate::actors::catalog;
use crate::actors::catalog::sessions::{ApiTokenCreation, DeleteApiToken};
use crate::auth::api_token;
use crate::domain::TokenName;

/// Longest lifetime a token may be given: ten years.
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;

impl Peers {
    pub(super) async fn create_api_token(
        self,
        msg: CreateApiToken,
    ) -> Result<CreatedToken, AccountsError> {
        let name =
            TokenName::parse(&msg.name).map_err(|m| AccountsError::invalid("invalid_name", m))?;
        let expires_at = match msg.expires_in_days {
            None => None,
            Some(days @ 1..=MAX_EXPIRES_IN_DAYS) => Some(Utc::now() + Duration::days(days)),
            Some(_) => {
                return Err(AccountsError::invalid(
                    "invalid_expiry",
                    format!("expires_in_days must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
                ));
            }
        };
        let generated = api_token::generate();
        let created = Self::ask(
            &self.catalog,
            catalog::sessions::CreateApiToken {
                request_id: msg.request_id,
                user_id: msg.user_id,
                name: name.into_inner(),
                prefix: generated.display_prefix,
                token_hash: generated.hash,
                expires_at,
                only_if_verified: msg.requester == Requester::Owner,
            },
        )
        .await?;
        let stored = match created {
            ApiTokenCreation::Created(stored) => stored,
            ApiTokenCreation::AddressUnverified => return Err(AccountsError::EmailUnverified),
            // A valid credential for a deleted account proves nothing any more.
            ApiTokenCreation::NoAccount => return Err(AccountsError::AccountGone),
        };
        tracing::info!(user_id = %msg.user_id, token_id = %stored.id, "API token created");
        Ok(CreatedToken {
            stored,
            secret: generated.token,
        })
    }

    pub(super) async fn revoke_api_token(self, msg: RevokeApiToken) -> Result<(), AccountsError> {
        let deleted = Self::ask(
            &self.catalog,
            DeleteApiToken {
                request_id: msg.request_id,
                user_id: msg.user_id,
                token_id: msg.token_id,
            },
        )
        .await?;
        if !deleted {
            return Err(AccountsError::TokenNotFound);
        }
        tracing::info!(user_id = %msg.user_id, token_id = %msg.token_id, "API token revoked");
        Ok(())
    }
}
