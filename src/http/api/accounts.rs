//! Register (which mails the first verification link), log in, log out, and
//! who am I. The rules live in the Accounts actor; these handlers speak JSON.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::UserBody;
use crate::actors::accounts::{Register, SignIn, SignedInAccount};
use crate::actors::catalog::accounts::{FindUsage, FindUser};
use crate::actors::catalog::sessions::RevokeAccessToken;
use crate::http::auth::{Authenticated, Credential};
use crate::http::error::ApiError;
use crate::http::request_context::counted_client;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/register", web::post().to(register))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/me", web::get().to(me));
}

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    name: String,
}

async fn register(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let RegisterBody {
        email,
        password,
        name,
    } = body.into_inner();
    let register = Register {
        request_id,
        client: counted_client(&req),
        email,
        password: password.into(),
        name,
    };
    let user = ask(&state.actors.accounts, register).await?;
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
    let sign_in = SignIn {
        request_id,
        client: counted_client(&req),
        email,
        password: password.into(),
    };
    let SignedInAccount {
        user,
        token_generation,
    } = ask(&state.actors.accounts, sign_in).await?;
    let issued = state
        .jwt
        .issue(user.id, token_generation)
        .map_err(ApiError::internal)?;
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
            "only a login token is logged out here: API tokens are revoked with \
             DELETE /api/tokens/{id}, and web sessions sign out on their page",
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
            request_id: request_id.clone(),
            user_id: caller.user_id,
        },
    )
    .await?
    // A valid token for a deleted account proves nothing any more.
    .ok_or(ApiError::Unauthorized)?;
    let usage = ask(
        &state.actors.catalog,
        FindUsage {
            request_id,
            user_id: caller.user_id,
        },
    )
    .await?
    .ok_or(ApiError::Unauthorized)?;
    Ok(HttpResponse::Ok().json(json!({ "user": UserBody::from(user), "usage": usage })))
}
