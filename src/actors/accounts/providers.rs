//! Google and GitHub: the code a provider sent back exchanged for who signed
//! in (see [`crate::auth::oauth`]), then a sign-in, a new account or a link.

use super::{
    AccountsError, BrowserSession, LinkProvider, Peers, ProviderCode, ProviderLink, ProviderSignIn,
    SignInWithProvider,
};
use crate::actors::catalog::oauth::{
    LinkOAuthAccount, OAuthLinkOutcome, OAuthSignIn, OAuthSignInOutcome,
};
use crate::auth::oauth::{self, Identity};

impl Peers {
    /// Who signed in at the provider, exchanged for the code. A failure is
    /// logged with its cause; the caller learns only that the provider did not
    /// confirm it.
    async fn identity(&self, code: ProviderCode) -> Result<Identity, AccountsError> {
        let provider = code.provider;
        let settings = provider
            .settings(&self.oauth)
            .ok_or(AccountsError::ProviderNotConfigured(provider.label()))?;
        oauth::sign_in(
            provider,
            settings,
            &code.redirect_uri,
            code.code,
            code.pkce_verifier,
        )
        .await
        .map_err(|err| {
            tracing::warn!(
                provider = provider.id(),
                error = %crate::error_chain(&err),
                "the OAuth exchange failed"
            );
            AccountsError::ProviderFailed {
                provider: provider.label(),
            }
        })
    }

    pub(super) async fn sign_in_with_provider(
        self,
        msg: SignInWithProvider,
    ) -> Result<ProviderSignIn, AccountsError> {
        let identity = self.identity(msg.code).await?;
        let email = identity.email.clone().unwrap_or_default();
        let outcome = Self::ask(
            &self.catalog,
            OAuthSignIn {
                request_id: msg.request_id.clone(),
                identity,
            },
        )
        .await?;
        let user = match outcome {
            OAuthSignInOutcome::SignedIn(user) | OAuthSignInOutcome::Linked(user) => user,
            OAuthSignInOutcome::Created(user) => {
                if !user.email_verified {
                    // The provider did not vouch for the address: Kiln asks
                    // itself. Not counted against the client's registrations:
                    // each one took an account at the provider, which is what
                    // limits them.
                    if let Err(err) = self
                        .mail_verification_link(msg.request_id.clone(), user.id)
                        .await
                    {
                        tracing::warn!(user_id = %user.id, error = %err, "no verification link for a new account");
                    }
                }
                user
            }
            OAuthSignInOutcome::EmailInUseUnverified => {
                return Ok(ProviderSignIn::EmailInUseUnverified { email });
            }
            OAuthSignInOutcome::OtherIdentityLinked => {
                return Ok(ProviderSignIn::OtherIdentityLinked { email });
            }
            OAuthSignInOutcome::NoEmail => return Ok(ProviderSignIn::NoEmail),
        };
        if user.is_disabled() {
            return Err(AccountsError::AccountDisabled);
        }
        let session = self
            .open_session(msg.request_id, user.id, msg.session)
            .await?;
        Ok(ProviderSignIn::SignedIn(BrowserSession { user, session }))
    }

    pub(super) async fn link_provider(
        self,
        msg: LinkProvider,
    ) -> Result<ProviderLink, AccountsError> {
        let provider = msg.code.provider;
        let identity = self.identity(msg.code).await?;
        let outcome = Self::ask(
            &self.catalog,
            LinkOAuthAccount {
                request_id: msg.request_id,
                user_id: msg.user_id,
                identity,
            },
        )
        .await?;
        match outcome {
            OAuthLinkOutcome::Linked => {
                tracing::info!(user_id = %msg.user_id, provider = provider.id(), "provider linked");
                Ok(ProviderLink::Linked)
            }
            OAuthLinkOutcome::AlreadyLinkedElsewhere => Ok(ProviderLink::AlreadyLinkedElsewhere),
            OAuthLinkOutcome::ProviderAlreadyLinked => Ok(ProviderLink::ProviderAlreadyLinked),
            OAuthLinkOutcome::AccountGone => Err(AccountsError::AccountGone),
        }
    }
}
