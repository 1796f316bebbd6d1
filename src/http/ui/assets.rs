//! The UI's stylesheet, script and logo, and the browser code it vendors from
//! npm (`templates/static/vendor/`), compiled into the binary and served by Kiln
//! itself (no CDN: the UI works offline). Pages link them with `?v=<version>`,
//! so they can be cached for long.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::http::error::ApiError;

/// Name, content type and bytes of each asset.
const ASSETS: [(&str, &str, &str); 8] = [
    (
        "kiln.css",
        "text/css; charset=utf-8",
        include_str!("../../../templates/static/kiln.css"),
    ),
    (
        "kiln.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/static/kiln.js"),
    ),
    (
        // Imported by kiln.js (a module), which paints ThumbHash placeholders.
        "thumbhash.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/static/vendor/thumbhash.js"),
    ),
    (
        // tus-js-client: the upload pages send files in resumable chunks.
        "tus.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/static/vendor/tus.min.js"),
    ),
    (
        // Swagger UI (its bundle and stylesheet) and what starts it: the API
        // reference page, /api/docs.
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/static/vendor/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_str!("../../../templates/static/vendor/swagger-ui.css"),
    ),
    (
        "api-docs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/static/api-docs.js"),
    ),
    (
        "logo.svg",
        "image/svg+xml",
        include_str!("../../../templates/static/logo.svg"),
    ),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{name}", web::get().to(asset));
}

async fn asset(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name.as_str())
        .ok_or(ApiError::NotFound("asset"))?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(*body))
}
