//! The Accounts actor owns the account use cases: registering, signing in
//! (with a password or a provider), changing and resetting a password, the
//! mailed verification and reset links, and personal API tokens. It owns no
//! resource; it coordinates the actors that do: Credentials hashes, the
//! Limiter counts attempts, the Catalog stores, the Mailer sends. Every door
//! (the JSON API, the pages, `kiln user create` and `kiln token create`)
//! sends it one message per use case, so the rules are kept once.
//!
//! The rules it keeps:
//! - Every rate limit is asked before the work it guards (a password hash, a
//!   mail) and counts the attempt then, so concurrent attempts cannot all slip
//!   past it. Sign-ins are limited per account and client address and per
//!   client address, so nobody elsewhere can lock the owner out.
//! - An unknown address costs a password check too, so both answers take as
//!   long, and a reset request is answered the same whether or not an account
//!   uses the address.
//! - Tokens reach the Catalog only as hashes and the Mailer only to be written
//!   into the mail; a user gets at most one mail of each kind per
//!   [`MAIL_INTERVAL`](crate::auth::link_token::MAIL_INTERVAL).
//! - A password reset or change ends every earlier sign-in of the account; a
//!   reset also ends its API tokens. Only an account whose address is verified
//!   makes API tokens (the operator excepted, see [`Requester`]).
//!
//! - Accepts: [`Register`] and [`RegisterBrowser`], [`CreateAccount`],
//!   [`SignIn`] and [`SignInBrowser`], [`ChangePassword`],
//!   [`RequestPasswordReset`], [`CheckResetLink`], [`ResetPassword`],
//!   [`VerifyEmail`], [`ResendVerification`], [`CreateApiToken`],
//!   [`RevokeApiToken`], [`SignInWithProvider`], [`LinkProvider`],
//!   [`RenameAccount`], [`DescribeAccount`]; replies are
//!   records or an [`AccountsError`] (which `http::error` maps to statuses).
//! - Supervised by the Supervisor: restarted with backoff if it stops. Each
//!   use case runs as a future of its own, so a slow hash or mail holds no
//!   other request back.

mod links;
mod messages;
mod passwords;
mod profile;
mod providers;
mod tokens;

use std::time::Duration;

use actix::{Actor, Addr, Context, Supervised};
use chrono::Utc;
use secrecy::SecretString;
use uuid::Uuid;

pub use messages::*;
pub use tokens::MAX_EXPIRES_IN_DAYS;

use crate::actors::Asks;
use crate::actors::catalog::User;
use crate::actors::catalog::links::{LinkCheck, NewLinkToken};
use crate::actors::catalog::sessions::CreateSession;
use crate::actors::catalog::{Catalog, CatalogError};
use crate::actors::credentials::{Credentials, HashPassword};
use crate::actors::limiter::{Limiter, LimiterError, ReserveAttempt, Subject};
use crate::actors::mailer::Mailer;
use crate::actors::mailer::messages::SendLinkMail;
use crate::actors::restart::RestartBackoff;
use crate::actors::use_cases;
use crate::auth::link_token::{self, LinkPurpose};
use crate::auth::password_hash::HashError;
use crate::auth::session_token;
use crate::config::OAuthConfig;
use crate::domain::PasswordRejection;
use crate::telemetry::RequestId;

/// Why an account use case was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// A value the client sent breaks a rule (a malformed address, a blank
    /// name, a link Kiln did not make, a wrong current password...).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error(transparent)]
    WeakPassword(#[from] PasswordRejection),
    #[error("email or password is incorrect")]
    InvalidCredentials,
    /// The credential that asked names an account that is gone.
    #[error("the account no longer exists")]
    AccountGone,
    #[error("this account is disabled; ask the service's operator")]
    AccountDisabled,
    #[error("verify your e-mail address before making API tokens")]
    EmailUnverified,
    #[error("too many attempts; retry later")]
    TooManyAttempts { retry_after: Duration },
    #[error("your password was changed meanwhile; reload the page and try again")]
    PasswordChangedMeanwhile,
    #[error("token not found")]
    TokenNotFound,
    #[error("the sign-in provider {0} is not configured")]
    ProviderNotConfigured(&'static str),
    /// The provider did not confirm who signed in; the cause is logged.
    #[error("{provider} did not confirm the sign-in")]
    ProviderFailed { provider: &'static str },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Limiter(#[from] LimiterError),
    #[error("passwords cannot be hashed")]
    Hash(#[from] HashError),
    #[error("an internal service did not answer")]
    Mailbox(#[from] actix::MailboxError),
}

impl AccountsError {
    fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }
}

/// The actors the account use cases coordinate, and the settings they need;
/// cloned into each use case's future.
#[derive(Clone)]
pub struct Peers {
    pub catalog: Addr<Catalog>,
    pub credentials: Addr<Credentials>,
    pub limiter: Addr<Limiter>,
    pub mailer: Addr<Mailer>,
    /// `SESSION_MAX_AGE`: how long a session opened at sign-in lasts at most.
    pub session_max_age: Duration,
    pub oauth: OAuthConfig,
}

pub struct Accounts {
    peers: Peers,
    restarts: RestartBackoff,
}

impl Accounts {
    pub fn new(peers: Peers) -> Self {
        Self {
            peers,
            restarts: RestartBackoff::default(),
        }
    }
}

impl Actor for Accounts {
    type Context = Context<Self>;
}

impl Supervised for Accounts {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("accounts", ctx);
    }
}

use_cases! {
    Accounts.peers:
    Register => register [request_id],
    RegisterBrowser => register_browser [register.request_id],
    CreateAccount => create_account [request_id],
    SignIn => sign_in [request_id],
    SignInBrowser => sign_in_browser [sign_in.request_id],
    ChangePassword => change_password [request_id],
    RequestPasswordReset => request_password_reset [request_id],
    CheckResetLink => check_reset_link [request_id],
    ResetPassword => reset_password [request_id],
    VerifyEmail => verify_email [request_id],
    ResendVerification => resend_verification [request_id],
    CreateApiToken => create_api_token [request_id],
    RevokeApiToken => revoke_api_token [request_id],
    SignInWithProvider => sign_in_with_provider [request_id],
    LinkProvider => link_provider [request_id],
    RenameAccount => rename_account [request_id],
    DescribeAccount => describe_account [request_id],
}

/// Longest a use case waits for another actor.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the Mailer to take a message; it only composes and queues.
const MAIL_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

impl Peers {
    /// Sends `msg` to `addr` and waits (bounded) for its `Result`.
    async fn ask<M, To: Asks<M>>(addr: &To, msg: M) -> Result<To::Value, AccountsError>
    where
        AccountsError: From<To::Error>,
    {
        addr.ask_within(msg, PEER_TIMEOUT).await
    }

    /// Counts an attempt against `subjects` before the work it guards, or
    /// refuses it with how long to wait.
    async fn reserve(&self, subjects: Vec<Subject>) -> Result<(), AccountsError> {
        match Self::ask(&self.limiter, ReserveAttempt { subjects }).await? {
            None => Ok(()),
            Some(retry_after) => Err(AccountsError::TooManyAttempts { retry_after }),
        }
    }

    async fn hash(&self, password: &crate::domain::Password) -> Result<String, AccountsError> {
        let password = SecretString::from(password.expose());
        Self::ask(&self.credentials, HashPassword { password }).await
    }

    /// Opens a web session for `user_id`, replacing the one the browser held.
    async fn open_session(
        &self,
        request_id: RequestId,
        user_id: Uuid,
        request: SessionRequest,
    ) -> Result<OpenedSession, AccountsError> {
        let new = session_token::generate();
        let lifetime =
            chrono::TimeDelta::from_std(self.session_max_age).unwrap_or(chrono::TimeDelta::MAX);
        Self::ask(
            &self.catalog,
            CreateSession {
                request_id,
                user_id,
                id_hash: new.id_hash,
                csrf_token_hash: new.csrf_token_hash,
                user_agent: request.user_agent,
                ip: request.ip,
                expires_at: Utc::now() + lifetime,
                replaces: request.replaces,
            },
        )
        .await?;
        tracing::info!(%user_id, "web session started");
        Ok(OpenedSession { id: new.id })
    }

    /// Hands a link to the Mailer. A failure is logged, never the client's
    /// error: the account change the mail belongs to has happened either way.
    async fn mail_link(
        &self,
        request_id: RequestId,
        user: &User,
        purpose: LinkPurpose,
        token: SecretString,
    ) {
        let queued = self
            .mailer
            .send(SendLinkMail {
                request_id,
                user_id: user.id,
                email: user.email.clone(),
                name: user.name.clone(),
                address_verified: user.email_verified,
                purpose,
                token,
            })
            .timeout(MAIL_QUEUE_TIMEOUT)
            .await;
        let failure = match queued {
            Ok(Ok(())) => return,
            Ok(Err(err)) => crate::error_chain(&err),
            Err(mailbox) => format!("the mailer is unavailable: {mailbox}"),
        };
        tracing::error!(
            user_id = %user.id,
            kind = purpose.as_str(),
            error = %failure,
            "a mail could not be queued"
        );
    }
}

/// A fresh token for a link of `purpose`: the secret to mail, and the row to
/// store (its hash, and when it stops working).
fn new_link(purpose: LinkPurpose) -> (SecretString, NewLinkToken) {
    let link = link_token::generate();
    let row = NewLinkToken {
        token_hash: link.hash,
        expires_at: Utc::now() + purpose.ttl(),
    };
    (link.token, row)
}

/// The hash of a presented token, or a refusal for one Kiln cannot have made.
fn presented_token(token: &str) -> Result<String, AccountsError> {
    match link_token::is_well_formed(token) {
        true => Ok(link_token::hash(token)),
        false => Err(refused_link(LinkCheck::<()>::Invalid)),
    }
}

/// The refusal of a token that cannot be used.
fn refused_link<T>(check: LinkCheck<T>) -> AccountsError {
    match check {
        LinkCheck::Expired => {
            AccountsError::invalid("token_expired", "this link has expired; ask for a new one")
        }
        LinkCheck::Valid(_) | LinkCheck::Invalid => AccountsError::invalid(
            "invalid_token",
            "this link is not valid or has been used already",
        ),
    }
}
