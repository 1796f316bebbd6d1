//! The mailed links: asking for a password reset and using its link, and
//! verifying an address (and asking for a new link to do it).

use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{
    AccountsError, CheckResetLink, Peers, RequestPasswordReset, ResendVerification, ResetPassword,
    VerifyEmail, new_link, presented_token, refused_link,
};
use crate::actors::catalog;
use crate::actors::catalog::User;
use crate::actors::catalog::links::{
    FindPasswordReset, IssueEmailVerification, IssuePasswordReset, LinkCheck,
};
use crate::actors::limiter::Subject;
use crate::auth::link_token::{LinkPurpose, MAIL_INTERVAL};
use crate::domain::{Email, Password};
use crate::telemetry::RequestId;

impl Peers {
    /// The outcome is the same whether or not an account uses the address, so
    /// it tells nobody which addresses have accounts; only the per-address
    /// rate limit shows through.
    pub(super) async fn request_password_reset(
        self,
        msg: RequestPasswordReset,
    ) -> Result<(), AccountsError> {
        let email =
            Email::parse(&msg.email).map_err(|m| AccountsError::invalid("invalid_email", m))?;
        self.reserve(vec![Subject::ResetRequestsFrom(msg.client)])
            .await?;
        // Made, hashed and offered to the Catalog whether or not the account
        // exists, so both answers take about as long; the mail itself is sent
        // in the background.
        let (token, reset) = new_link(LinkPurpose::ResetPassword);
        let user = Self::ask(
            &self.catalog,
            IssuePasswordReset {
                request_id: msg.request_id.clone(),
                email: email.as_str().to_string(),
                token: reset,
                interval: MAIL_INTERVAL,
            },
        )
        .await?;
        if let Some(user) = user {
            tracing::info!(user_id = %user.id, "password reset asked for");
            self.mail_link(msg.request_id, &user, LinkPurpose::ResetPassword, token)
                .await;
        }
        Ok(())
    }

    pub(super) async fn check_reset_link(self, msg: CheckResetLink) -> Result<User, AccountsError> {
        self.reset_link_user(msg.request_id, &msg.token).await
    }

    async fn reset_link_user(
        &self,
        request_id: RequestId,
        token: &str,
    ) -> Result<User, AccountsError> {
        let token_hash = presented_token(token)?;
        match Self::ask(
            &self.catalog,
            FindPasswordReset {
                request_id,
                token_hash,
            },
        )
        .await?
        {
            LinkCheck::Valid(user) => Ok(user),
            refused => Err(refused_link(refused)),
        }
    }

    /// Everything that signed in to the account before ends: its access
    /// tokens, its web sessions and its API tokens (whoever made one may be
    /// who the owner is taking the account back from).
    pub(super) async fn reset_password(self, msg: ResetPassword) -> Result<Uuid, AccountsError> {
        let user = self
            .reset_link_user(msg.request_id.clone(), &msg.token)
            .await?;
        // Checked before the token is spent, so a refused password leaves the
        // link usable for a better one.
        let password = Password::for_account(
            msg.password.expose_secret().to_string(),
            &user.email,
            &user.name,
        )?;
        let password_hash = self.hash(&password).await?;
        match Self::ask(
            &self.catalog,
            catalog::links::ResetPassword {
                request_id: msg.request_id,
                token_hash: presented_token(&msg.token)?,
                password_hash,
            },
        )
        .await?
        {
            LinkCheck::Valid(user_id) => {
                tracing::info!(%user_id, "password reset; earlier sign-ins and API tokens ended");
                Ok(user_id)
            }
            refused => Err(refused_link(refused)),
        }
    }

    pub(super) async fn verify_email(self, msg: VerifyEmail) -> Result<Uuid, AccountsError> {
        let token_hash = presented_token(&msg.token)?;
        match Self::ask(
            &self.catalog,
            catalog::links::VerifyEmail {
                request_id: msg.request_id,
                token_hash,
            },
        )
        .await?
        {
            LinkCheck::Valid(user_id) => {
                tracing::info!(%user_id, "email address verified");
                Ok(user_id)
            }
            refused => Err(refused_link(refused)),
        }
    }

    /// Refused while the client address has asked too often, and within
    /// [`MAIL_INTERVAL`] of the account's last verification mail.
    pub(super) async fn resend_verification(
        self,
        msg: ResendVerification,
    ) -> Result<(), AccountsError> {
        self.reserve(vec![Subject::VerificationResendsFrom(msg.client)])
            .await?;
        self.mail_verification_link(msg.request_id, msg.user_id)
            .await
    }

    /// Mails the account a verification link, unless its address is verified
    /// already or the last one went out within [`MAIL_INTERVAL`].
    pub(super) async fn mail_verification_link(
        &self,
        request_id: RequestId,
        user_id: Uuid,
    ) -> Result<(), AccountsError> {
        let (token, verification) = new_link(LinkPurpose::VerifyEmail);
        let user = Self::ask(
            &self.catalog,
            IssueEmailVerification {
                request_id: request_id.clone(),
                user_id,
                token: verification,
                interval: MAIL_INTERVAL,
            },
        )
        .await?
        // A valid credential for a deleted account proves nothing any more.
        .ok_or(AccountsError::AccountGone)?;
        self.mail_link(request_id, &user, LinkPurpose::VerifyEmail, token)
            .await;
        Ok(())
    }
}
