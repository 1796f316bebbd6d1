//! Operational routes: `/healthz` (the process answers) and `/readyz` (every
//! backend answers, or 503 naming the ones that do not).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::error_body;
use crate::actors::supervisor::CheckReadiness;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let readiness = match state.actors.supervisor.send(CheckReadiness).await {
        Ok(readiness) => readiness,
        Err(_) => {
            return error_body(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "supervisor unavailable",
            );
        }
    };
    let checks: Map<String, Value> = readiness
        .checks
        .iter()
        .map(|(name, failure)| {
            let value = match failure {
                None => json!("ok"),
                Some(reason) => json!(reason),
            };
            (name.to_string(), value)
        })
        .collect();
    if readiness.is_ready() {
        return HttpResponse::Ok().json(json!({ "status": "ready", "checks": checks }));
    }
    let failed: Vec<&str> = readiness
        .checks
        .iter()
        .filter(|(_, failure)| failure.is_some())
        .map(|(name, _)| *name)
        .collect();
    let mut response = HttpResponse::ServiceUnavailable().json(json!({
        "error": {
            "code": "not_ready",
            "message": format!("unavailable: {}", failed.join(", ")),
            "failed": failed,
        },
        "checks": checks,
    }));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
