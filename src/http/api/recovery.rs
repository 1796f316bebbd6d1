//! Password reset and e-mail verification: the routes that mail a single-use
//! link (`password/forgot`, `email/resend`; registration mails the first
//! verification link) and the routes that take its token back
//! (`password/reset`, `email/verify`).
//!
//! Tokens reach the Catalog only as hashes and the Mailer only to be written
//! into the mail. A user gets at most one mail of each kind per
//! [`MAIL_INTERVAL`]: a resend sooner is a 429, a forgotten password asked
//! for again sooner is answered like any other request, without a mail.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use chrono::Utc;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::actors::catalog::messages::{
    FindPasswordReset, IssueEmailVerification, IssuePasswordReset, NewLinkToken, ResetPassword,
    VerifyEmail,
};
use crate::actors::catalog::records::{LinkCheck, User};
use crate::actors::credentials::HashPassword;
use crate::actors::mailer::messages::SendLinkMail;
use crate::auth::link_token::{self, LinkPurpose, MAIL_INTERVAL};
use crate::domain::{Email, Password};
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/password/forgot", web::post().to(forgot_password))
        .route("/auth/password/reset", web::post().to(reset_password))
        .route("/auth/email/verify", web::post().to(verify_email))
        .route("/auth/email/resend", web::post().to(resend_verification));
}

/// A fresh token for a link of `purpose`: the secret to mail, and the row to
/// store (its hash, and when it stops working).
pub(super) fn new_link(purpose: LinkPurpose) -> (SecretString, NewLinkToken) {
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
pub(super) async fn mail_link(
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

#[derive(Deserialize)]
struct ForgotBody {
    email: String,
}

/// Always the same answer, so it tells nobody whether an account exists.
async fn forgot_password(
    state: web::Data<AppState>,
    request_id: RequestId,
    body: web::Json<ForgotBody>,
) -> Result<HttpResponse, ApiError> {
    let email =
        Email::parse(&body.email).map_err(|m| ApiError::unprocessable("invalid_email", m))?;
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
        mail_link(&state, request_id, &user, LinkPurpose::ResetPassword, token).await;
    }
    Ok(HttpResponse::Accepted().json(json!({
        "message": "if an account uses this address, a link to reset its password is on its way",
    })))
}

#[derive(Deserialize)]
struct ResetBody {
    token: String,
    password: String,
}

async fn reset_password(
    state: web::Data<AppState>,
    request_id: RequestId,
    body: web::Json<ResetBody>,
) -> Result<HttpResponse, ApiError> {
    let ResetBody { token, password } = body.into_inner();
    let token_hash = presented_token(&token)?;
    let user = match ask(
        &state.actors.catalog,
        FindPasswordReset {
            request_id: request_id.clone(),
            token_hash: token_hash.clone(),
        },
    )
    .await?
    {
        LinkCheck::Valid(user) => user,
        refused => return Err(refused_link(refused)),
    };
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
            token_hash,
            password_hash,
        },
    )
    .await?
    {
        LinkCheck::Valid(user_id) => {
            tracing::info!(%user_id, "password reset; earlier sign-ins ended");
            Ok(HttpResponse::NoContent().finish())
        }
        refused => Err(refused_link(refused)),
    }
}

#[derive(Deserialize)]
struct VerifyBody {
    token: String,
}

async fn verify_email(
    state: web::Data<AppState>,
    request_id: RequestId,
    body: web::Json<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    let token_hash = presented_token(&body.token)?;
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
            Ok(HttpResponse::NoContent().finish())
        }
        refused => Err(refused_link(refused)),
    }
}

/// Mails the signed-in user a new verification link: 409 when the address is
/// verified already, 429 (with `Retry-After`) within a minute of the last one.
async fn resend_verification(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (token, verification) = new_link(LinkPurpose::VerifyEmail);
    let user = ask(
        &state.actors.catalog,
        IssueEmailVerification {
            request_id: request_id.clone(),
            user_id: caller.user_id,
            token: verification,
            interval: MAIL_INTERVAL,
        },
    )
    .await?
    // A valid token for a deleted account proves nothing any more.
    .ok_or(ApiError::Unauthorized)?;
    mail_link(&state, request_id, &user, LinkPurpose::VerifyEmail, token).await;
    Ok(HttpResponse::Accepted().json(json!({
        "message": "a new verification link is on its way",
    })))
}
