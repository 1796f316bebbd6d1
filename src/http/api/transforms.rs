//! `POST /api/files/{id}/transform-url`: a signed URL to a transform of one
//! of the caller's images (see `http::transforms`), so a page can show it to
//! anyone. The parameters are checked as the transform route checks them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::actors::transformer::CheckTransformable;
use crate::domain::transforms::{EXPIRES, TransformQuery};
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::shares::public_url;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/files/{id}/transform-url", web::post().to(mint));
}

/// The longest a minted URL may last: ten years.
const MAX_LIFETIME_SECS: i64 = 10 * 365 * 24 * 60 * 60;

/// The transform's parameters as in its URL (numbers or strings), and how
/// long the URL lasts (`"30d"`; none: for ever).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    w: Option<Value>,
    h: Option<Value>,
    fit: Option<Value>,
    fmt: Option<Value>,
    q: Option<Value>,
    dpr: Option<Value>,
    g: Option<Value>,
    expires_in: Option<String>,
}

async fn mint(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    req: HttpRequest,
    file_id: web::Path<Uuid>,
    body: web::Json<MintBody>,
) -> Result<HttpResponse, ApiError> {
    let file_id = file_id.into_inner();
    let transformer = state
        .actors
        .transformer
        .as_ref()
        .ok_or(ApiError::NotFound("resource"))?;
    let body = body.into_inner();
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (name, value) in [
        ("w", &body.w),
        ("h", &body.h),
        ("fit", &body.fit),
        ("fmt", &body.fmt),
        ("q", &body.q),
        ("dpr", &body.dpr),
        ("g", &body.g),
    ] {
        match value {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => pairs.push((name, text.clone())),
            Some(Value::Number(number)) => pairs.push((name, number.to_string())),
            Some(other) => {
                return Err(ApiError::unprocessable(
                    "invalid_transform",
                    format!("`{name}` must be a number or a string, not {other}"),
                ));
            }
        }
    }
    if let Some(expires_in) = body.expires_in.as_deref() {
        let lifetime = humantime::parse_duration(expires_in.trim())
            .ok()
            .and_then(|lifetime| i64::try_from(lifetime.as_secs()).ok())
            .filter(|secs| (1..=MAX_LIFETIME_SECS).contains(secs))
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "invalid_transform",
                    "expires_in must be a duration such as \"1h\" or \"30d\", from 1 second to 10 years",
                )
            })?;
        let expires = chrono::Utc::now().timestamp() + lifetime;
        pairs.push((EXPIRES, expires.to_string()));
    }
    // Checked as the transform route will check it, and written back in order.
    let query = TransformQuery::parse(
        pairs.iter().map(|(name, value)| (*name, value.as_str())),
        state.config.transforms.max_dimension,
    )
    .map_err(|message| ApiError::unprocessable("invalid_transform", message))?;
    ask(
        transformer,
        CheckTransformable {
            request_id,
            user_id: caller.user_id,
            file_id,
        },
    )
    .await?;
    let path = format!("/t/{file_id}");
    let pairs = query.pairs();
    let signature = state.transform_key.sign(
        &path,
        pairs.iter().map(|(name, value)| (*name, value.as_str())),
    );
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &pairs {
        url.append_pair(name, value);
    }
    url.append_pair("sig", &signature);
    let url = format!("{}?{}", public_url(&req, &state, &path), url.finish());
    Ok(HttpResponse::Ok().json(json!({ "url": url })))
}
