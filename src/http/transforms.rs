//! `GET|HEAD /t/{file_id}?w=&h=&fit=&fmt=&q=&dpr=&g=&exp=&sig=`: an image
//! transformed on request (API.md "Delivery"), made and cached by the
//! Transformer and delivered like every stored object (`ETag`, 304, `Range`,
//! `HEAD`), with `Kiln-Cache: hit|miss` and, for `fmt=auto`, `Vary: Accept`.
//!
//! Who may ask: anyone with a URL signed with `TRANSFORM_KEY` (until its
//! `exp`), or the file's owner with their credentials and no `sig`. A signed
//! answer is public and immutable (the same URL always means the same
//! pixels); an owner's is private.

use actix_web::http::header::{self, HeaderName};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::ApiError;
use super::objects::deliver_object;
use super::{AppState, ask};
use crate::actors::transformer::{Transform, TransformAccess, Transformed};
use crate::domain::transforms::{SIGNATURE, TransformQuery};
use crate::telemetry::RequestId;
use crate::telemetry::metrics::TransformCache;

/// How long a signed answer without `exp` may be kept: a year.
const SIGNED_MAX_AGE: i64 = 365 * 24 * 60 * 60;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/t/{file_id}",
        web::route()
            .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
            .to(transformed),
    );
}

async fn transformed(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    file_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file_id = Uuid::parse_str(&file_id).map_err(|_| ApiError::NotFound("file"))?;
    let Some(transformer) = &state.actors.transformer else {
        return Err(ApiError::NotFound("resource"));
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let pairs_ref = || {
        pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    };
    let signature = pairs_ref()
        .find(|(name, _)| *name == SIGNATURE)
        .map(|(_, sig)| sig);
    let access = match signature {
        Some(signature)
            if state
                .transform_key
                .verify(req.path(), pairs_ref(), signature) =>
        {
            TransformAccess::Signed
        }
        Some(_) => return Err(invalid_signature()),
        None => match Authenticated::extract(&req).await {
            Ok(caller) => TransformAccess::Owner(caller.user_id),
            Err(ApiError::Unauthorized) => return Err(invalid_signature()),
            Err(other) => return Err(other),
        },
    };
    let query = TransformQuery::parse(pairs_ref(), state.config.transforms.max_dimension)
        .map_err(|message| ApiError::unprocessable("invalid_transform", message))?;
    let now = chrono::Utc::now().timestamp();
    if query.expires.is_some_and(|expires| expires < now) {
        return Err(ApiError::Denied {
            code: "expired",
            message: "this transform URL has expired".into(),
        });
    }
    let varies = query.varies_with_accept();
    let cache_control = match access {
        TransformAccess::Signed => {
            let max_age = query.expires.map_or(SIGNED_MAX_AGE, |expires| {
                (expires - now).min(SIGNED_MAX_AGE)
            });
            format!("public, max-age={max_age}, immutable")
        }
        TransformAccess::Owner(_) => "private, max-age=3600".to_owned(),
    };
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Transformed {
        key,
        delivery,
        cache,
    } = ask(
        transformer,
        Transform {
            request_id: request_id.clone(),
            file_id,
            access,
            query,
            accept,
        },
    )
    .await?;
    let mut more_headers = vec![(
        HeaderName::from_static("kiln-cache"),
        match cache {
            TransformCache::Hit => "hit",
            _ => "miss",
        }
        .to_owned(),
    )];
    if varies {
        more_headers.push((header::VARY, "Accept".to_owned()));
    }
    deliver_object(
        &state,
        request_id,
        &req,
        key,
        &delivery,
        &cache_control,
        &more_headers,
    )
    .await
}

fn invalid_signature() -> ApiError {
    ApiError::Denied {
        code: "invalid_signature",
        message: "a transform URL needs a valid signature (sig), or its owner's credentials".into(),
    }
}
