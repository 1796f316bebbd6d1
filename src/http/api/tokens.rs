//! Personal API tokens: create (shown once), list, delete.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::actors::catalog::messages::{CreateApiToken, DeleteApiToken, ListApiTokens};
use crate::actors::catalog::records::ApiToken;
use crate::auth::api_token;
use crate::domain::TokenName;
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

/// Longest lifetime a token may be given: ten years.
const MAX_EXPIRES_IN_DAYS: i64 = 3650;

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
    let name = TokenName::parse(&name).map_err(|m| ApiError::unprocessable("invalid_name", m))?;
    let expires_at = match expires_in_days {
        None => None,
        Some(days @ 1..=MAX_EXPIRES_IN_DAYS) => Some(Utc::now() + Duration::days(days)),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_expiry",
                format!("expires_in_days must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
            ));
        }
    };
    let generated = api_token::generate();
    let stored = ask(
        &state.actors.catalog,
        CreateApiToken {
            request_id,
            user_id: caller.user_id,
            name: name.into_inner(),
            prefix: generated.display_prefix,
            token_hash: generated.hash,
            expires_at,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": stored.id,
        "name": stored.name,
        "token": generated.token,
        "created_at": stored.created_at,
        "expires_at": stored.expires_at,
    })))
}

async fn list(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let tokens = ask(
        &state.actors.catalog,
        ListApiTokens {
            request_id,
            user_id: caller.user_id,
        },
    )
    .await?;
    let tokens: Vec<TokenListing> = tokens.into_iter().map(TokenListing::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

async fn delete(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    token_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let deleted = ask(
        &state.actors.catalog,
        DeleteApiToken {
            request_id,
            user_id: caller.user_id,
            token_id: token_id.into_inner(),
        },
    )
    .await?;
    if !deleted {
        return Err(ApiError::NotFound("token"));
    }
    Ok(HttpResponse::NoContent().finish())
}
