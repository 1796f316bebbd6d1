//! Share links to a file, for its owner: make one (its URL is shown once),
//! list the live ones, revoke one. The rules are the Ingest actor's, shared
//! with the file page's Share panel.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::actors::catalog::shares::Share;
use crate::actors::ingest::{RevokeShare, ShareFile, ShowShares};
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::shares::share_url;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/files/{id}/shares")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .route("/shares/{id}", web::delete().to(revoke));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    expires_in: Option<String>,
    variants: Option<Vec<String>>,
}

/// `share` as the API shows it; `url` only in the answer that made it.
#[derive(Serialize)]
pub(crate) struct ShareBody {
    id: Uuid,
    file_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// `null`: the original and every variant.
    variants: Option<Vec<String>>,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl From<Share> for ShareBody {
    fn from(share: Share) -> Self {
        Self {
            id: share.id,
            file_id: share.file_id,
            url: None,
            variants: share.names,
            expires_at: share.expires_at,
            created_at: share.created_at,
        }
    }
}

async fn create(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    req: HttpRequest,
    file_id: web::Path<Uuid>,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let CreateBody {
        expires_in,
        variants,
    } = body.into_inner();
    let made = ask(
        &state.actors.ingest,
        ShareFile {
            request_id,
            user_id: caller.user_id,
            file_id: file_id.into_inner(),
            expires_in,
            names: variants,
        },
    )
    .await?;
    let mut share = ShareBody::from(made.share);
    share.url = Some(share_url(&req, &state, made.token.expose_secret()));
    Ok(HttpResponse::Created().json(json!({ "share": share })))
}

async fn list(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let shares = ask(
        &state.actors.ingest,
        ShowShares {
            request_id,
            user_id: caller.user_id,
            file_id: file_id.into_inner(),
        },
    )
    .await?;
    let shares: Vec<ShareBody> = shares.into_iter().map(ShareBody::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "shares": shares })))
}

async fn revoke(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    share_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ask(
        &state.actors.ingest,
        RevokeShare {
            request_id,
            user_id: caller.user_id,
            share_id: share_id.into_inner(),
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
