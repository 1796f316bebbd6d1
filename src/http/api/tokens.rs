//! Personal API tokens: create (shown once), list, delete. The rules are the
//! Accounts actor's, shared with the settings page and `kiln token create`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::actors::accounts::{CreateApiToken, Requester, RevokeApiToken};
use crate::actors::catalog::sessions::{ApiToken, ListApiTokens};
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
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

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    expires_in_days: Option<i64>,
}

#[derive(Serialize)]
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

async fn create(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let CreateBody {
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
    Ok(HttpResponse::Created().json(json!({
        "id": stored.id,
        "name": stored.name,
        "token": created.secret,
        "created_at": stored.created_at,
        "expires_at": stored.expires_at,
    })))
}

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
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

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
