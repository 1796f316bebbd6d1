//! What registering, signing in with a password, changing it and the mailed
//! links do, whichever door they come through: the JSON API (`api/accounts`,
//! `api/recovery`) and the web pages (`ui/account`, `ui/settings`) call these, so the
//! rules (validation, rate limits, same answer for unknown addresses) are kept
//! once.
//!
//! Every rate limit is asked before the work it guards (a password hash, a
//! mail) and counts the attempt then, so concurrent attempts cannot all slip
//! past it; see the Limiter. Sign-ins are limited per account and client
//! address and per client address, so nobody elsewhere can lock the owner out.
//!
//! Tokens reach the Catalog only as hashes and the Mailer only to be written
//! into the mail. A user gets at most one mail of each kind per
//! [`MAIL_INTERVAL`]: a resend sooner is refused, a forgotten password asked
//! for again sooner is answered like any other request, without a mail.

use std::time::Duration;

use actix_web::HttpRequest;
use chrono::Utc;
use secrecy::SecretString;
use uuid::Uuid;

use super::error::ApiError;
use super::{AppState, ask};
use crate::actors::catalog::User;
use crate::actors::catalog::accounts::{ChangePassword, CreateUser, FindLoginCandidate};
use crate::actors::catalog::links::{
    FindPasswordReset, IssueEmailVerification, IssuePasswordReset, LinkCheck, NewLinkToken,
    ResetPassword, VerifyEmail,
};
use crate::actors::credentials::{HashPassword, VerifyPassword};
use crate::actors::limiter::{AttemptSucceeded, ReserveAttempt, Subject};
use crate::actors::mailer::messages::SendLinkMail;
use crate::auth::link_token::{self, LinkPurpose, MAIL_INTERVAL};
use crate::domain::{Email, Password, counted_as};
use crate::http::request_context::client_address;
use crate::telemetry::RequestId;

const MAX_NAME_CHARS: usize = 100;

/// The address a request came from, as the rate limits count it (behind
/// `TRUSTED_PROXIES`, the client their `X-Forwarded-For` names).
pub fn client_ip(req: &HttpRequest) -> String {
    client_address(req)
        .map(counted_as)
        .unwrap_or_else(|| "unknown".into())
}

/// Counts an attempt against `subjects` before the work it guards runs, or
/// refuses it with 429 and how long to wait.
async fn reserve_attempt(state: &AppState, subjects: Vec<Subject>) -> Result<(), ApiError> {
    match ask(&state.actors.limiter, ReserveAttempt { subjects }).await? {
        None => Ok(()),
        Some(retry_after) => Err(ApiError::TooManyRequests { retry_after }),
    }
}

/// A display name: trimmed, 1 to 100 printable characters, with bidirectional
/// controls and zero-width characters dropped.
pub fn parse_name(name: &str) -> Result<String, ApiError> {
    let name = crate::domain::text::without_invisible_format(name);
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::unprocessable(
            "invalid_name",
            format!("name must be 1 to {MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(name.to_string())
}

/// A new account's address, name and password, checked against the rules
/// registration applies (`kiln user create` applies them too).
pub struct NewAccount {
    pub email: Email,
    pub name: String,
    pub password: Password,
}

impl NewAccount {
    pub fn check(email: &str, name: &str, password: String) -> Result<Self, ApiError> {
        let email = Email::parse(email).map_err(|m| ApiError::unprocessable("invalid_email", m))?;
        let name = parse_name(name)?;
        let password = Password::for_account(password, email.as_str(), &name)?;
        Ok(Self {
            email,
            name,
            password,
        })
    }
}

/// Creates an account and mails the link that verifies its address. Each
/// client address may register a limited number per window (429 beyond it,
/// before any work or mail); a form refused as invalid does not count.
pub async fn register(
    state: &AppState,
    request_id: RequestId,
    client_ip: String,
    email: &str,
    password: String,
    name: &str,
) -> Result<User, ApiError> {
    let NewAccount {
        email,
        name,
        password,
    } = NewAccount::check(email, name, password)?;
    reserve_attempt(state, vec![Subject::RegistrationsFrom(client_ip)]).await?;
    let password_hash = ask(
        &state.actors.credentials,
        HashPassword {
            password: SecretString::from(password.expose()),
        },
    )
    .await?;
    let (token, verification) = new_link(LinkPurpose::VerifyEmail);
    let user = ask(
        &state.actors.catalog,
        CreateUser {
            request_id: request_id.clone(),
            email: email.as_str().to_string(),
            name,
            password_hash,
            verification: Some(verification),
            is_admin: false,
        },
    )
    .await?;
    tracing::info!(user_id = %user.id, "account registered");
    mail_link(state, request_id, &user, LinkPurpose::VerifyEmail, token).await;
    Ok(user)
}

/// An account whose password was just checked, with the token generation an
/// access token for it is issued under.
pub struct PasswordSignIn {
    pub user: User,
    pub token_generation: i32,
}

/// Checks an e-mail and password under the sign-in limits: refused with 429
/// while this account from this client address, or this client address, must
/// wait (see [`check_password_limited`]). An unknown address costs a password
/// check too, so both answers take as long. A disabled account is refused
/// with 403 once its password is proven (so the refusal tells nothing to
/// whoever does not know it).
pub async fn sign_in_with_password(
    state: &AppState,
    request_id: RequestId,
    client_ip: String,
    email: &str,
    password: String,
) -> Result<PasswordSignIn, ApiError> {
    let email = email.trim().to_lowercase();
    let candidate = ask(
        &state.actors.catalog,
        FindLoginCandidate {
            request_id,
            email: email.clone(),
        },
    )
    .await?;
    let (found, stored_hash) = match candidate {
        Some(candidate) => (
            Some(PasswordSignIn {
                user: candidate.user,
                token_generation: candidate.token_generation,
            }),
            candidate.password_hash,
        ),
        None => (None, None),
    };
    let verified = check_password_limited(state, &email, client_ip, stored_hash, password).await?;
    let Some(signed_in) = found.filter(|_| verified) else {
        return Err(ApiError::InvalidCredentials);
    };
    if signed_in.user.is_disabled() {
        return Err(ApiError::AccountDisabled);
    }
    tracing::info!(user_id = %signed_in.user.id, "signed in");
    Ok(signed_in)
}

/// Whether `password` matches `stored_hash` (`None`: no account, or one
/// without a password; never a match, but it costs a check all the same),
/// under the sign-in limits. The attempt is counted against the account at
/// this client address and against the address before the hash runs, and
/// refused with 429 while either must wait. A match forgets the account's
/// count at this address and gives the address its attempt back.
async fn check_password_limited(
    state: &AppState,
    email: &str,
    client_ip: String,
    stored_hash: Option<String>,
    password: String,
) -> Result<bool, ApiError> {
    let at_address = Subject::SignIn {
        email: email.to_string(),
        client: client_ip.clone(),
    };
    let from_address = Subject::SignInsFrom(client_ip);
    reserve_attempt(state, vec![at_address.clone(), from_address.clone()]).await?;
    let verified = state
        .actors
        .credentials
        .send(VerifyPassword {
            password: password.into(),
            stored_hash,
        })
        .await?;
    if verified {
        ask(
            &state.actors.limiter,
            AttemptSucceeded {
                forget: vec![at_address],
                refund: vec![from_address],
            },
        )
        .await?;
    }
    Ok(verified)
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

/// Longest wait for the Mailer to take a message; it only composes and queues.
const MAIL_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// Hands a link to the Mailer. A failure is logged, never the client's error:
/// the account change the mail belongs to has happened either way.
async fn mail_link(
    state: &AppState,
    request_id: RequestId,
    user: &User,
    purpose: LinkPurpose,
    token: SecretString,
) {
    let queued = state
        .actors
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

/// The hash of a presented token, or a 422 for one Kiln cannot have made.
fn presented_token(token: &str) -> Result<String, ApiError> {
    match link_token::is_well_formed(token) {
        true => Ok(link_token::hash(token)),
        false => Err(refused_link(LinkCheck::<()>::Invalid)),
    }
}

/// The error for a token that cannot be used.
fn refused_link<T>(check: LinkCheck<T>) -> ApiError {
    match check {
        LinkCheck::Expired => {
            ApiError::unprocessable("token_expired", "this link has expired; ask for a new one")
        }
        LinkCheck::Valid(_) | LinkCheck::Invalid => ApiError::unprocessable(
            "invalid_token",
            "this link is not valid or has been used already",
        ),
    }
}

/// Mails a reset link if an account uses `email`. The outcome is the same
/// whether or not one does, so it tells nobody which addresses have accounts;
/// only the per-address rate limit (429) shows through.
pub async fn request_password_reset(
    state: &AppState,
    request_id: RequestId,
    client_ip: String,
    email: &str,
) -> Result<(), ApiError> {
    let email = Email::parse(email).map_err(|m| ApiError::unprocessable("invalid_email", m))?;
    reserve_attempt(state, vec![Subject::ResetRequestsFrom(client_ip)]).await?;
    // Made, hashed and offered to the Catalog whether or not the account
    // exists, so both answers take about as long; the mail itself is sent in
    // the background.
    let (token, reset) = new_link(LinkPurpose::ResetPassword);
    let user = ask(
        &state.actors.catalog,
        IssuePasswordReset {
            request_id: request_id.clone(),
            email: email.as_str().to_string(),
            token: reset,
            interval: MAIL_INTERVAL,
        },
    )
    .await?;
    if let Some(user) = user {
        tracing::info!(user_id = %user.id, "password reset asked for");
        mail_link(state, request_id, &user, LinkPurpose::ResetPassword, token).await;
    }
    Ok(())
}

/// Whether a reset link can still be used (a page checks before asking for
/// the new password).
pub async fn check_reset_link(
    state: &AppState,
    request_id: RequestId,
    token: &str,
) -> Result<User, ApiError> {
    let token_hash = presented_token(token)?;
    match ask(
        &state.actors.catalog,
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

/// Sets a new password through a reset link, which it spends. Everything that
/// signed in to the account before ends: its access tokens, its web sessions
/// and its API tokens (whoever made one may be who the owner is taking the
/// account back from).
pub async fn reset_password(
    state: &AppState,
    request_id: RequestId,
    token: &str,
    password: String,
) -> Result<Uuid, ApiError> {
    let user = check_reset_link(state, request_id.clone(), token).await?;
    // Checked before the token is spent, so a refused password leaves the
    // link usable for a better one.
    let password = Password::for_account(password, &user.email, &user.name)?;
    let password_hash = ask(
        &state.actors.credentials,
        HashPassword {
            password: SecretString::from(password.expose()),
        },
    )
    .await?;
    match ask(
        &state.actors.catalog,
        ResetPassword {
            request_id,
            token_hash: presented_token(token)?,
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

/// Changes the signed-in account's password. `current` must be its password,
/// checked under the sign-in limits, unless the account has none (it signed up
/// through a provider: this sets its first one). Every earlier sign-in of the
/// account ends, its access tokens and all its web sessions: the caller opens
/// a new session for the browser that made the change.
pub async fn change_password(
    state: &AppState,
    request_id: RequestId,
    client_ip: String,
    user: &User,
    current: String,
    new: String,
) -> Result<(), ApiError> {
    let candidate = ask(
        &state.actors.catalog,
        FindLoginCandidate {
            request_id: request_id.clone(),
            email: user.email.clone(),
        },
    )
    .await?
    .filter(|candidate| candidate.user.id == user.id)
    // A valid session for a deleted account proves nothing any more.
    .ok_or(ApiError::Unauthorized)?;
    if let Some(stored) = &candidate.password_hash {
        let verified =
            check_password_limited(state, &user.email, client_ip, Some(stored.clone()), current)
                .await?;
        if !verified {
            return Err(ApiError::unprocessable(
                "wrong_password",
                "your current password is not correct",
            ));
        }
    }
    let password = Password::for_account(new, &user.email, &user.name)?;
    let password_hash = ask(
        &state.actors.credentials,
        HashPassword {
            password: SecretString::from(password.expose()),
        },
    )
    .await?;
    let changed = ask(
        &state.actors.catalog,
        ChangePassword {
            request_id,
            user_id: user.id,
            password_hash,
            replaces: candidate.password_hash,
        },
    )
    .await?;
    if !changed {
        return Err(ApiError::Conflict {
            code: "password_changed",
            message: "your password was changed meanwhile; reload the page and try again".into(),
        });
    }
    tracing::info!(user_id = %user.id, "password changed; earlier sign-ins ended");
    Ok(())
}

/// Marks the address a verification link was sent to as verified.
pub async fn verify_email(
    state: &AppState,
    request_id: RequestId,
    token: &str,
) -> Result<Uuid, ApiError> {
    let token_hash = presented_token(token)?;
    match ask(
        &state.actors.catalog,
        VerifyEmail {
            request_id,
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

/// Mails the user a new verification link when asked to: 429 (with
/// `Retry-After`) when the client address has asked too often, else as
/// [`mail_verification_link`].
pub async fn resend_verification(
    state: &AppState,
    request_id: RequestId,
    client_ip: String,
    user_id: Uuid,
) -> Result<(), ApiError> {
    reserve_attempt(state, vec![Subject::VerificationResendsFrom(client_ip)]).await?;
    mail_verification_link(state, request_id, user_id).await
}

/// Mails the user a verification link: 409 when the address is verified
/// already, 429 (with `Retry-After`) within [`MAIL_INTERVAL`] of the last one.
pub async fn mail_verification_link(
    state: &AppState,
    request_id: RequestId,
    user_id: Uuid,
) -> Result<(), ApiError> {
    let (token, verification) = new_link(LinkPurpose::VerifyEmail);
    let user = ask(
        &state.actors.catalog,
        IssueEmailVerification {
            request_id: request_id.clone(),
            user_id,
            token: verification,
            interval: MAIL_INTERVAL,
        },
    )
    .await?
    // A valid credential for a deleted account proves nothing any more.
    .ok_or(ApiError::Unauthorized)?;
    mail_link(state, request_id, &user, LinkPurpose::VerifyEmail, token).await;
    Ok(())
}
