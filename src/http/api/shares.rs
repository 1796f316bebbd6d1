//! Share links to a file, for its owner: make one (its URL is shown once),
//! list the live ones, revoke one. The rules are the Ingest actor's, shared
//! with the file page's Share panel.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actors::catalog::shares::Share;
use crate::actors::ingest::{RevokeShare, ShareFile, ShowShares};
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewShare {
    /// How long the link works, such as `"7d"` (the default) or `"12h"`.
    expires_in: Option<String>,
    /// The variants it shares besides the original; none: every variant.
    variants: Option<Vec<String>>,
}

/// `share` as the API shows it; `url` only in the answer that made it.
#[derive(Serialize, ToSchema)]
#[schema(as = Share)]
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

#[derive(Serialize, ToSchema)]
struct ShareEnvelope {
    share: ShareBody,
}

#[derive(Serialize, ToSchema)]
struct ShareList {
    shares: Vec<ShareBody>,
}

/// Makes a public, expiring link to the file; its URL is shown this once.
#[utoipa::path(
    post,
    path = "/api/files/{id}/shares",
    tag = "shares",
    operation_id = "create_share",
    params(("id" = Uuid, Path, description = "The file's id")),
    request_body = NewShare,
    responses(
        (status = 201, description = "The share, with its URL.", body = ShareEnvelope,
            links(("RevokeShare" = (operation_id = "revoke_share", parameters(("id" = "$response.body#/share/id")))))),
        (status = 422, description = "`invalid_share`: a bad `expires_in` or an unknown variant", body = ErrorBody),
    ),
)]
async fn create(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    req: HttpRequest,
    file_id: web::Path<Uuid>,
    body: web::Json<NewShare>,
) -> Result<HttpResponse, ApiError> {
    let NewShare {
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
    Ok(HttpResponse::Created().json(ShareEnvelope { share }))
}

/// The file's live shares, without their URLs.
#[utoipa::path(
    get,
    path = "/api/files/{id}/shares",
    tag = "shares",
    operation_id = "list_shares",
    params(("id" = Uuid, Path, description = "The file's id")),
    responses((status = 200, description = "The shares.", body = ShareList)),
)]
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
    Ok(HttpResponse::Ok().json(ShareList {
        shares: shares.into_iter().map(ShareBody::from).collect(),
    }))
}

/// Revokes a share: its link stops working at once.
#[utoipa::path(
    delete,
    path = "/api/shares/{id}",
    tag = "shares",
    operation_id = "revoke_share",
    params(("id" = Uuid, Path, description = "The share's id")),
    responses((status = 204, description = "The link no longer works.")),
)]
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
