//! The `kiln` binary as an operator runs it: JSON logs that tie a request to its
//! id and user, and a clean stop on SIGTERM and SIGINT for each role.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::api::Api;
use crate::support::app::{PASSWORD, ServiceDatabase, app_env, override_env};
use crate::support::processes::{KilnProcess, json_lines};

/// Starts `kiln <role>` on the current mode's backends, in `data_dir`.
async fn start(
    role: &str,
    data_dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> (KilnProcess, Option<ServiceDatabase>) {
    let (mut env, database) = app_env(data_dir).await;
    override_env(&mut env, extra);
    (KilnProcess::spawn(&[role], data_dir, &env), database)
}

#[actix_rt::test]
async fn json_logs_carry_the_request_id_and_user_id_and_sigterm_stops_cleanly() {
    let data_dir = tempfile::tempdir().unwrap();
    let (kiln, _database) = start("serve", data_dir.path(), &[("LOG_FORMAT", "json")]).await;
    kiln.wait_for_log("kiln started").await;
    let api = Api::new(kiln.address());

    let register = api.register("ops@example.com").await;
    assert_eq!(register.status(), StatusCode::CREATED);
    let user: Value = register.json().await.unwrap();
    let token = api.access_token("ops@example.com", PASSWORD).await.unwrap();
    let me = api
        .client
        .get(api.url("/api/me"))
        .bearer_auth(token)
        .header("x-request-id", "ops-trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    kiln.wait_for_log("ops-trace-1").await;

    kiln.signal("TERM");
    let (code, log) = kiln.wait_for_exit().await;
    assert_eq!(code, Some(0), "{log}");
    let lines = json_lines(&log);
    let finished = lines
        .iter()
        .find(|l| l["message"] == "request finished" && l["request_id"] == "ops-trace-1")
        .expect("the request is logged under its id");
    // One flat object per line: the span's fields sit beside the event's.
    assert_eq!(finished["user_id"], user["user"]["id"]);
    assert_eq!(finished["status"], 200);
    assert!(log.contains("kiln stopped"));
    assert!(!log.contains(PASSWORD), "passwords never reach the log");
}

#[actix_rt::test]
async fn sigint_stops_the_api_and_sigterm_stops_a_worker() {
    let api_dir = tempfile::tempdir().unwrap();
    let (api, _api_database) = start("api", api_dir.path(), &[]).await;
    api.wait_for_log("kiln started").await;
    api.signal("INT");
    let (code, log) = api.wait_for_exit().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("kiln stopped"), "{log}");

    let worker_dir = tempfile::tempdir().unwrap();
    let (worker, _worker_database) = start("worker", worker_dir.path(), &[]).await;
    worker.wait_for_log("kiln started").await;
    assert!(
        reqwest::get(format!("{}/healthz", worker.address()))
            .await
            .is_err(),
        "a worker serves no HTTP"
    );
    worker.signal("TERM");
    let (code, log) = worker.wait_for_exit().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("kiln stopped"), "{log}");
}
