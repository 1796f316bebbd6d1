//! Register (which mails the first verification link), log in, log out, and
//! who am I. The rules live in the Accounts actor; these handlers speak JSON.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::UserBody;
use crate::actors::accounts::{Register, SignIn, SignedInAccount};
use crate::actors::catalog::accounts::{FindUsage, FindUser};
use crate::actors::catalog::sessions::RevokeAccessToken;
use crate::domain::display_name::MAX_NAME_CHARS;
use crate::domain::password;
use crate::domain::quota::Usage;
use crate::http::auth::{Authenticated, Credential};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::request_context::counted_client;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/register", web::post().to(register))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/me", web::get().to(me));
}

#[derive(Deserialize, ToSchema)]
struct RegisterBody {
    #[schema(format = Email)]
    email: String,
    /// 8 to 128 characters, and not a guessable one.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// 1 to 100 printable characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
}

// The lengths the document gives are the rules' own.
const _: () = assert!(password::MIN_CHARS == 8 && password::MAX_CHARS == 128);
const _: () = assert!(MAX_NAME_CHARS == 100);

/// An account, as registering and `/api/me` answer.
#[derive(Serialize, ToSchema)]
struct UserEnvelope {
    user: UserBody,
}

/// Creates an account.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "accounts",
    operation_id = "register",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The account; a link to verify its address is mailed.", body = UserEnvelope),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_email`, `invalid_name`, `weak_password`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many attempts from this address; see `Retry-After`", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Created().json(UserEnvelope {
        user: UserBody::from(user),
    }))
}

#[derive(Deserialize, ToSchema)]
struct LoginBody {
    #[schema(format = Email)]
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
struct LoginAnswer {
    /// A JWT for `Authorization: Bearer`.
    access_token: String,
    #[schema(examples("Bearer"))]
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: u64,
    user: UserBody,
}

/// Signs in: a bearer token for the account.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "accounts",
    operation_id = "login",
    request_body = LoginBody,
    responses(
        (status = 200, description = "A bearer token for the account.", body = LoginAnswer),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 403, description = "`account_disabled`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many attempts; see `Retry-After`", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Ok().json(LoginAnswer {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in.as_secs(),
        user: UserBody::from(user),
    }))
}

/// Revokes the JWT this request carries.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "accounts",
    operation_id = "logout",
    responses(
        (status = 204, description = "The token no longer works."),
        (status = 400, description = "`not_revocable_here`: the credential is not a login token", body = ErrorBody),
    ),
)]
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

/// The account and what it stores, against its quotas.
#[derive(Serialize, ToSchema)]
struct Me {
    user: UserBody,
    usage: Usage,
}

/// The caller's account and usage.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "accounts",
    operation_id = "me",
    responses((status = 200, description = "The caller's account.", body = Me)),
)]
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
    Ok(HttpResponse::Ok().json(Me {
        user: UserBody::from(user),
        usage,
    }))
}
