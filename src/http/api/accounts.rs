//! Register (which mails the first verification link), log in, log out, and
//! who am I.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use super::UserBody;
use super::recovery::{mail_link, new_link};
use crate::actors::catalog::messages::{
    CreateUser, FindLoginCandidate, FindUser, RevokeAccessToken,
};
use crate::actors::credentials::{HashPassword, VerifyPassword};
use crate::actors::limiter::{CheckLogin, ClearLoginFailures, LoginSubject, RecordLoginFailure};
use crate::auth::link_token::LinkPurpose;
use crate::domain::{Email, Password};
use crate::http::auth::{Authenticated, Credential};
use crate::http::error::ApiError;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/register", web::post().to(register))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/me", web::get().to(me));
}

const MAX_NAME_CHARS: usize = 100;

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    name: String,
}

async fn register(
    state: web::Data<AppState>,
    request_id: RequestId,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let RegisterBody {
        email,
        password,
        name,
    } = body.into_inner();
    let email = Email::parse(&email).map_err(|m| ApiError::unprocessable("invalid_email", m))?;
    let name = name.trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::unprocessable(
            "invalid_name",
            format!("name must be 1 to {MAX_NAME_CHARS} printable characters"),
        ));
    }
    let password = Password::for_account(password, email.as_str(), &name)?;
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
            verification,
        },
    )
    .await?;
    tracing::info!(user_id = %user.id, "account registered");
    mail_link(&state, request_id, &user, LinkPurpose::VerifyEmail, token).await;
    Ok(HttpResponse::Created().json(json!({ "user": UserBody::from(user) })))
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let LoginBody { email, password } = body.into_inner();
    // A malformed address cannot have an account; it still pays for a password
    // check below so it answers like any other unknown e-mail.
    let email = email.trim().to_lowercase();
    let client_ip = req
        .peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let account = LoginSubject::Account(email.clone());
    let subjects = vec![account.clone(), LoginSubject::ClientIp(client_ip)];

    if let Some(retry_after) = ask(
        &state.actors.limiter,
        CheckLogin {
            subjects: subjects.clone(),
        },
    )
    .await?
    {
        return Err(ApiError::TooManyRequests { retry_after });
    }

    let candidate = ask(
        &state.actors.catalog,
        FindLoginCandidate { request_id, email },
    )
    .await?;
    let (user, stored_hash) = match candidate {
        Some(candidate) => (
            Some((candidate.user, candidate.token_generation)),
            candidate.password_hash,
        ),
        None => (None, None),
    };
    let verified = state
        .actors
        .credentials
        .send(VerifyPassword {
            password: password.into(),
            stored_hash,
        })
        .await?;
    let Some((user, generation)) = user.filter(|_| verified) else {
        ask(&state.actors.limiter, RecordLoginFailure { subjects }).await?;
        return Err(ApiError::InvalidCredentials);
    };

    ask(
        &state.actors.limiter,
        ClearLoginFailures { subject: account },
    )
    .await?;
    let issued = state
        .jwt
        .issue(user.id, generation)
        .map_err(ApiError::internal)?;
    tracing::info!(user_id = %user.id, "signed in");
    Ok(HttpResponse::Ok().json(json!({
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in.as_secs(),
        "user": UserBody::from(user),
    })))
}

async fn logout(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let Credential::AccessToken(token) = caller.credential else {
        return Err(ApiError::bad_request(
            "not_revocable_here",
            "API tokens are revoked with DELETE /api/tokens/{id}",
        ));
    };
    ask(
        &state.actors.catalog,
        RevokeAccessToken {
            request_id,
            jti: token.jti,
            user_id: caller.user_id,
            expires_at: token.expires_at,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn me(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = ask(
        &state.actors.catalog,
        FindUser {
            request_id,
            user_id: caller.user_id,
        },
    )
    .await?
    // A valid token for a deleted account proves nothing any more.
    .ok_or(ApiError::Unauthorized)?;
    Ok(HttpResponse::Ok().json(json!({ "user": UserBody::from(user) })))
}
