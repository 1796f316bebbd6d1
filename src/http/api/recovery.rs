//! Password reset and e-mail verification over the API: the routes that mail a
//! single-use link (`password/forgot`, `email/resend`; registration mails the
//! first verification link) and the routes that take its token back
//! (`password/reset`, `email/verify`). The rules live in the Accounts actor.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::bodies::Notice;
use crate::actors::accounts::{
    RequestPasswordReset, ResendVerification, ResetPassword, VerifyEmail,
};
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::request_context::counted_client;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/password/forgot", web::post().to(forgot_password))
        .route("/auth/password/reset", web::post().to(reset_password))
        .route("/auth/email/verify", web::post().to(verify_email))
        .route("/auth/email/resend", web::post().to(resend_verification));
}

#[derive(Deserialize, ToSchema)]
struct ForgotBody {
    #[schema(format = Email)]
    email: String,
}

/// Mails a link to reset the password. Always the same answer, so it tells
/// nobody whether an account exists.
#[utoipa::path(
    post,
    path = "/api/auth/password/forgot",
    tag = "accounts",
    operation_id = "forgot_password",
    request_body = ForgotBody,
    responses(
        (status = 202, description = "Whether or not the account exists.", body = Notice),
        (status = 422, description = "`invalid_email`: not an e-mail address", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many requests from this address; see `Retry-After`", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Accepted().json(Notice {
        message: "if an account uses this address, a link to reset its password is on its way",
    }))
}

#[derive(Deserialize, ToSchema)]
struct ResetBody {
    /// The token from the mailed link.
    token: String,
    /// The new password: 8 to 128 characters, and not a guessable one.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// Sets a new password with a mailed link's token; signs every session out.
#[utoipa::path(
    post,
    path = "/api/auth/password/reset",
    tag = "accounts",
    operation_id = "reset_password",
    request_body = ResetBody,
    responses(
        (status = 204, description = "The password is changed."),
        (status = 409, description = "`password_changed`: the password changed after the link was sent", body = ErrorBody),
        (status = 422, description = "`invalid_token` (unknown, used or expired), `weak_password`", body = ErrorBody),
    ),
)]
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

#[derive(Deserialize, ToSchema)]
struct VerifyBody {
    /// The token from the mailed link.
    token: String,
}

/// Verifies an address with a mailed link's token.
#[utoipa::path(
    post,
    path = "/api/auth/email/verify",
    tag = "accounts",
    operation_id = "verify_email",
    request_body = VerifyBody,
    responses(
        (status = 204, description = "The address is verified."),
        (status = 422, description = "`invalid_token`: unknown, used or expired", body = ErrorBody),
    ),
)]
async fn verify_email(
    state: web::Data<AppState>,
    request_id: RequestId,
    body: web::Json<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token;
    ask(&state.actors.accounts, VerifyEmail { request_id, token }).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mails the caller a new link to verify their address.
#[utoipa::path(
    post,
    path = "/api/auth/email/resend",
    tag = "accounts",
    operation_id = "resend_verification",
    responses(
        (status = 202, description = "A new link is on its way.", body = Notice),
        (status = 409, description = "`already_verified`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: within a minute of the last mail; see `Retry-After`", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Accepted().json(Notice {
        message: "a new verification link is on its way",
    }))
}
