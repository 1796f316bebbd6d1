//! Operational routes: `/healthz` (the process answers), `/readyz` (every
//! backend answers, each with its latency, or 503 naming the ones that do not)
//! and `/metrics` (Prometheus text). With `OPS_PORT` set they are served on
//! that listener (which is how a `kiln worker`, with no API, is probed and
//! scraped), and the public port keeps only `/healthz`: which backends are down
//! and how deep the queue is are for operators, not for whoever can reach the
//! API.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::error_body;
use crate::actors::supervisor::{CheckReadiness, MeasureQueue};
use crate::telemetry::metrics;

/// Every operational route, for the listener that serves them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_health(cfg);
    cfg.route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(prometheus_metrics));
}

/// `/healthz` alone, for the public port when `OPS_PORT` serves the rest.
pub fn configure_health(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
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
        .map(|check| {
            let value = match &check.failure {
                None => json!("ok"),
                Some(reason) => json!(reason),
            };
            (check.name.to_string(), value)
        })
        .collect();
    // Only the backends are timed; `pdf` is what the processor children said.
    let latency_ms: Map<String, Value> = readiness
        .checks
        .iter()
        .filter(|check| check.essential)
        .map(|check| {
            let ms = (check.latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
            (check.name.to_string(), json!(ms))
        })
        .collect();
    if readiness.is_ready() {
        return HttpResponse::Ok().json(json!({
            "status": "ready",
            "checks": checks,
            "latency_ms": latency_ms,
        }));
    }
    let failed = readiness.failed();
    let mut response = HttpResponse::ServiceUnavailable().json(json!({
        "error": {
            "code": "not_ready",
            "message": format!("unavailable: {}", failed.join(", ")),
            "failed": failed,
        },
        "checks": checks,
        "latency_ms": latency_ms,
    }));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// Measures the queue gauges, then renders every metric. A backend that does
/// not answer leaves its gauges at their last values; the scrape still works.
async fn prometheus_metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Err(err) = state.actors.supervisor.send(MeasureQueue).await {
        tracing::warn!(error = %err, "cannot measure the queue for /metrics");
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render())
}
