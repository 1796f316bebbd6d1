//! Personal API tokens: create (shown once), list, delete. The rules are the
//! Accounts actor's, shared with the settings page and `kiln token create`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actors::accounts::{CreateApiToken, Requester, RevokeApiToken};
use crate::actors::catalog::sessions::{ApiToken, ListApiTokens};
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tokens")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .route("/tokens/{id}", web::delete().to(delete));
}

#[derive(Deserialize, ToSchema)]
struct NewToken {
    name: String,
    /// None: the token does not expire.
    expires_in_days: Option<i64>,
}

/// A token just made: the only answer that shows its secret.
#[derive(Serialize, ToSchema)]
struct CreatedToken {
    id: Uuid,
    name: String,
    /// `kiln_...`, for `Authorization: Bearer`; shown this once.
    token: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
}

/// A token as listed: its first characters, never its secret.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiToken)]
struct TokenListing {
    id: Uuid,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenListing {
    fn from(token: ApiToken) -> Self {
        Self {
            id: token.id,
            name: token.name,
            prefix: token.prefix,
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            expires_at: token.expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct TokenList {
    tokens: Vec<TokenListing>,
}

/// Makes a personal API token; its secret is shown this once.
#[utoipa::path(
    post,
    path = "/api/tokens",
    tag = "tokens",
    operation_id = "create_token",
    request_body = NewToken,
    responses(
        (status = 201, description = "The token, with its secret.", body = CreatedToken,
            links(("DeleteToken" = (operation_id = "delete_token", parameters(("id" = "$response.body#/id")))))),
        (status = 403, description = "`email_unverified`: the address must be verified first; `account_disabled`", body = ErrorBody),
        (status = 422, description = "`invalid_name`, `invalid_expiry`", body = ErrorBody),
    ),
)]
async fn create(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, ApiError> {
    let NewToken {
        name,
        expires_in_days,
    } = body.into_inner();
    let request = CreateApiToken {
        request_id,
        requester: Requester::Owner,
        user_id: caller.user_id,
        name,
        expires_in_days,
    };
    let created = ask(&state.actors.accounts, request).await?;
    let stored = created.stored;
    Ok(HttpResponse::Created().json(CreatedToken {
        id: stored.id,
        name: stored.name,
        token: created.secret,
        created_at: stored.created_at,
        expires_at: stored.expires_at,
    }))
}

/// The caller's API tokens, without their secrets.
#[utoipa::path(
    get,
    path = "/api/tokens",
    tag = "tokens",
    operation_id = "list_tokens",
    responses((status = 200, description = "The caller's tokens.", body = TokenList)),
)]
async fn list(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let listing = ListApiTokens {
        request_id,
        user_id: caller.user_id,
    };
    let tokens: Vec<TokenListing> = ask(&state.actors.catalog, listing)
        .await?
        .into_iter()
        .map(TokenListing::from)
        .collect();
    Ok(HttpResponse::Ok().json(TokenList { tokens }))
}

/// Revokes an API token.
#[utoipa::path(
    delete,
    path = "/api/tokens/{id}",
    tag = "tokens",
    operation_id = "delete_token",
    params(("id" = Uuid, Path, description = "The token's id")),
    responses((status = 204, description = "The token no longer works.")),
)]
async fn delete(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    token_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let revoke = RevokeApiToken {
        request_id,
        user_id: caller.user_id,
        token_id: token_id.into_inner(),
    };
    ask(&state.actors.accounts, revoke).await?;
    Ok(HttpResponse::NoContent().finish())
}
