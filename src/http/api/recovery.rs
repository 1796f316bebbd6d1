//! Password reset and e-mail verification over the API: the routes that mail a
//! single-use link (`password/forgot`, `email/resend`; registration mails the
//! first verification link) and the routes that take its token back
//! (`password/reset`, `email/verify`). The rules live in the Accounts actor.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::actors::accounts::{
    RequestPasswordReset, ResendVerification, ResetPassword, VerifyEmail,
};
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::request_context::counted_client;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/password/forgot", web::post().to(forgot_password))
        .route("/auth/password/reset", web::post().to(reset_password))
        .route("/auth/email/verify", web::post().to(verify_email))
        .route("/auth/email/resend", web::post().to(resend_verification));
}

#[derive(Deserialize)]
struct ForgotBody {
    email: String,
}

/// Always the same answer, so it tells nobody whether an account exists.
async fn forgot_password(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    body: web::Json<ForgotBody>,
) -> Result<HttpResponse, ApiError> {
    let request = RequestPasswordReset {
        request_id,
        client: counted_client(&req),
        email: body.into_inner().email,
    };
    ask(&state.actors.accounts, request).await?;
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
    let reset = ResetPassword {
        request_id,
        token,
        password: password.into(),
    };
    ask(&state.actors.accounts, reset).await?;
    Ok(HttpResponse::NoContent().finish())
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
    let token = body.into_inner().token;
    ask(&state.actors.accounts, VerifyEmail { request_id, token }).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mails the signed-in user a new verification link: 409 when the address is
/// verified already, 429 (with `Retry-After`) within a minute of the last one
/// or when the client address has asked too often.
async fn resend_verification(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let resend = ResendVerification {
        request_id,
        client: counted_client(&req),
        user_id: caller.user_id,
    };
    ask(&state.actors.accounts, resend).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "message": "a new verification link is on its way",
    })))
}
