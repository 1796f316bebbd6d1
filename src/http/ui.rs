//! The web UI's pages, rendered from `templates/` with Tera. For now the landing
//! page; sign-in and file pages come with the web UI.

use actix_web::{HttpResponse, web};

use super::AppState;
use super::error::ApiError;

/// The templates, compiled into the binary so Kiln runs from any directory.
pub fn load_templates() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates([
        ("base.html", include_str!("../../templates/base.html")),
        (
            "pages/index.html",
            include_str!("../../templates/pages/index.html"),
        ),
    ])?;
    Ok(tera)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index));
}

async fn index(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut context = tera::Context::new();
    context.insert("version", env!("CARGO_PKG_VERSION"));
    let page = state
        .templates
        .render("pages/index.html", &context)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}
