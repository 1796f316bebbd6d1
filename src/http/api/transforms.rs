//! `POST /api/files/{id}/transform-url`: a signed URL to a transform of one
//! of the caller's images (see `http::transforms`), so a page can show it to
//! anyone. The parameters are checked as the transform route checks them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actors::transformer::CheckTransformable;
use crate::domain::transforms::{EXPIRES, TransformQuery};
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MintBody {
    /// Width, 1 to `TRANSFORM_MAX_DIMENSION`.
    #[schema(schema_with = number_or_text)]
    w: Option<Value>,
    /// Height, 1 to `TRANSFORM_MAX_DIMENSION`.
    #[schema(schema_with = number_or_text)]
    h: Option<Value>,
    /// `contain` (the default), `cover`, `fill` or `inside`.
    #[schema(schema_with = number_or_text)]
    fit: Option<Value>,
    /// `jpeg`, `png`, `webp`, `avif`, `gif` or `auto`.
    #[schema(schema_with = number_or_text)]
    fmt: Option<Value>,
    /// Quality, 1 to 100.
    #[schema(schema_with = number_or_text)]
    q: Option<Value>,
    /// Device pixel ratio, 1 to 4.
    #[schema(schema_with = number_or_text)]
    dpr: Option<Value>,
    /// Gravity for `cover`: `center`, `attention`, `n`, `s`, `e`, `w`, `ne`, `nw`, `se`, `sw`.
    #[schema(schema_with = number_or_text)]
    g: Option<Value>,
    /// How long the URL works, such as `"30d"`; none: for ever.
    expires_in: Option<String>,
}

/// What a transform parameter of [`MintBody`] may be in the API's document:
/// a number, or the text it has in a URL (or null, for none).
fn number_or_text() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![
            Type::Number,
            Type::String,
            Type::Null,
        ]))
        .build()
}

#[derive(Serialize, ToSchema)]
struct TransformUrl {
    /// `/t/{file_id}?...&sig=...`, which anyone may load.
    url: String,
}

/// A signed URL to an image of the file at another size or format.
#[utoipa::path(
    post,
    path = "/api/files/{id}/transform-url",
    tag = "transforms",
    operation_id = "transform_url",
    params(("id" = Uuid, Path, description = "The image's file id")),
    request_body = MintBody,
    responses(
        (status = 200, description = "The URL.", body = TransformUrl),
        (status = 404, description = "`not_found`: no such file of yours, or transforms are off", body = ErrorBody),
        (status = 415, description = "`unsupported_type`: the file is not an image", body = ErrorBody),
        (status = 422, description = "`invalid_transform`", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Ok().json(TransformUrl { url }))
}
