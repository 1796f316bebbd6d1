//! What a share link opens without an account: the bytes of its file's original
//! and variants (`GET|HEAD /s/{token}/{name}`), with the delivery headers
//! ([`Delivery::headers`](crate::domain::delivery::Delivery::headers)), a strong
//! `ETag` with 304s, one `Range` and `HEAD`. The bytes come through Kiln on
//! either backend, and every response says `no-cache`: a browser or CDN may keep
//! them but asks again each time, so a revoked link stops working at once.
//! The page (`/s/{token}`) is the web UI's (`ui::share`).
//!
//! Every request counts against the client's `SHARE_MAX_PER_IP` per
//! `SHARE_RATE_WINDOW` ([`admit`]), so nobody guesses tokens or pulls a shared
//! file without end.

use actix_web::{HttpRequest, HttpResponse, web};

use super::error::ApiError;
use super::objects::deliver_object;
use super::request_context::counted_client;
use super::{AppState, ask};
use crate::actors::ingest::{FindSharedObject, SharedObject};
use crate::actors::limiter::{ReserveAttempt, Subject};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/s/{token}/{name}",
        web::route()
            .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
            .to(shared_bytes),
    );
}

/// Counts a request for a share link against its client's limit; beyond it,
/// 429 with `Retry-After`.
pub async fn admit(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let subjects = vec![Subject::ShareRequestsFrom(counted_client(req))];
    match ask(&state.actors.limiter, ReserveAttempt { subjects }).await? {
        None => Ok(()),
        Some(retry_after) => Err(ApiError::TooManyRequests { retry_after }),
    }
}

/// The public address of the link whose token is `token`.
pub fn share_url(req: &HttpRequest, state: &AppState, token: &str) -> String {
    public_url(req, state, &format!("/s/{token}"))
}

/// The public address of `path` on this Kiln: under `BASE_URL` when set, else
/// under the address this request was sent to.
pub fn public_url(req: &HttpRequest, state: &AppState, path: &str) -> String {
    let base = match &state.config.base_url {
        Some(base) => base.as_str().trim_end_matches('/').to_string(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    };
    format!("{base}{path}")
}

async fn shared_bytes(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    admit(&state, &req).await?;
    let (token, name) = path.into_inner();
    let SharedObject { key, delivery } = ask(
        &state.actors.ingest,
        FindSharedObject {
            request_id: request_id.clone(),
            token,
            name,
        },
    )
    .await?;
    deliver_object(&state, request_id, &req, key, &delivery, "no-cache", &[]).await
}
