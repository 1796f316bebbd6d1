//! Health, readiness, request ids and the error body on framework-level errors.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::api::error_code;
use crate::support::app::{services_mode, spawn_app, spawn_app_with};

#[actix_rt::test]
async fn healthz_and_readyz_answer_200_when_every_backend_answers() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["storage"], "ok");
    if app.uses_services() {
        assert_eq!(body["checks"]["redis"], "ok");
    } else {
        assert!(body["checks"].get("redis").is_none());
    }
}

#[actix_rt::test]
async fn readyz_is_a_503_naming_storage_when_the_bucket_is_unreachable() {
    // Nothing listens on port 9 of loopback.
    let app = spawn_app_with(&[
        ("MINIO_ENDPOINT", "http://127.0.0.1:9"),
        ("MINIO_ACCESS_KEY", "key"),
        ("MINIO_SECRET_KEY", "secret"),
        ("STORAGE_PREFIX", "unreachable"),
    ])
    .await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready");
    assert_eq!(body["error"]["failed"], serde_json::json!(["storage"]));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("storage")
    );
    assert_eq!(body["checks"]["database"], "ok");
}

#[actix_rt::test]
async fn readyz_is_a_503_naming_redis_when_redis_does_not_answer() {
    let app = spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:9")]).await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["failed"], serde_json::json!(["redis"]));
    assert_eq!(body["checks"]["storage"], "ok");
}

#[actix_rt::test]
async fn a_client_request_id_is_echoed_and_one_is_generated_otherwise() {
    let app = spawn_app().await;
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
    let generated = app.get("/healthz", None).await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

#[actix_rt::test]
async fn unknown_routes_and_wrong_methods_get_the_error_body() {
    let app = spawn_app().await;
    let missing = app.get("/api/nothing-here", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(missing).await, "not_found");
    let wrong_method = app.get("/api/auth/login", None).await;
    assert!(wrong_method.status().is_client_error());
    let code = error_code(wrong_method).await;
    assert!(
        code == "method_not_allowed" || code == "not_found",
        "{code}"
    );
}

#[actix_rt::test]
async fn the_landing_page_renders() {
    let app = spawn_app().await;
    let page = app.get("/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("<h1>Kiln</h1>"));
}

#[actix_rt::test]
async fn without_jwt_secret_the_embedded_default_keeps_a_generated_one_in_data_dir() {
    if services_mode() {
        return; // PostgreSQL requires JWT_SECRET; config unit tests cover the refusal.
    }
    let app = spawn_app_with(&[("JWT_SECRET", "")]).await;
    let secret_file = app.config.data_dir.join("jwt_secret");
    let kept = std::fs::read_to_string(&secret_file).expect("a secret is kept in DATA_DIR");
    assert_eq!(kept.trim().len(), 64);
    let token = app.signed_in_user("embedded@example.com").await;
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
}
