//! Transient failures for real: the object store goes away while a job runs.
//! The job retries with backoff and succeeds once storage is back; with its
//! retries used up it is dead, and the retry endpoint brings it back.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, user_with_id, wait_until};
use crate::servers::PrivateS3;

async fn app_on(s3: &PrivateS3, max_retries: &str) -> TestApp {
    let env = s3.env();
    let mut overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("MAX_RETRIES", max_retries));
    spawn_app_with(&overrides).await
}

/// Uploads a small image, waits for it, then asks for one more thumbnail.
async fn ready_file_and_new_job(app: &TestApp, token: &str, s3: &mut PrivateS3) -> String {
    let accepted = app.upload_fixture(token, "small.jpg").await;
    let id = accepted["file"]["id"].as_str().unwrap();
    assert_eq!(
        app.wait_until_processed(token, id).await["file"]["status"],
        "ready"
    );
    s3.stop();
    let response = app
        .post_json(
            &format!("/api/files/{id}/process"),
            &json!({ "processor": "thumbnail", "variant": "later" }),
            Some(token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    body["job"]["id"].as_str().unwrap().to_string()
}

#[actix_rt::test]
async fn a_job_retries_with_backoff_while_storage_is_down_and_succeeds_when_it_returns() {
    let mut s3 = PrivateS3::start().await;
    let app = app_on(&s3, "5").await;
    let (token, _) = user_with_id(&app, "outage@example.com").await;
    let job_id = ready_file_and_new_job(&app, &token, &mut s3).await;

    wait_until(Duration::from_secs(30), || async {
        let job = app.job(&token, &job_id).await;
        job["status"] == "retrying" && job["attempts"].as_i64() >= Some(2)
    })
    .await;
    let retrying = app.job(&token, &job_id).await;
    assert!(
        retrying["error"].as_str().unwrap().contains("storage"),
        "{retrying}"
    );

    s3.resume().await;
    wait_until(Duration::from_secs(60), || async {
        app.job(&token, &job_id).await["status"] == "succeeded"
    })
    .await;
    let done = app.job(&token, &job_id).await;
    assert!(done["attempts"].as_i64().unwrap() >= 3, "{done}");
    assert!(
        done.get("error").is_none(),
        "a success clears the error: {done}"
    );
}

#[actix_rt::test]
async fn a_job_out_of_retries_is_dead_and_the_retry_endpoint_brings_it_back() {
    let mut s3 = PrivateS3::start().await;
    let app = app_on(&s3, "1").await;
    let (token, _) = user_with_id(&app, "exhausted@example.com").await;
    let job_id = ready_file_and_new_job(&app, &token, &mut s3).await;

    wait_until(Duration::from_secs(30), || async {
        app.job(&token, &job_id).await["status"] == "dead"
    })
    .await;
    let dead = app.job(&token, &job_id).await;
    assert_eq!(
        dead["attempts"], 2,
        "one try and MAX_RETRIES=1 retry: {dead}"
    );
    assert!(
        dead["error"].as_str().unwrap().contains("storage"),
        "{dead}"
    );
    let file: Value = app
        .get(
            &format!("/api/files/{}", dead["file_id"].as_str().unwrap()),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(file["file"]["status"], "failed");

    s3.resume().await;
    let retried = app
        .post_json(
            &format!("/api/jobs/{job_id}/retry"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    wait_until(Duration::from_secs(30), || async {
        app.job(&token, &job_id).await["status"] == "succeeded"
    })
    .await;
    let file: Value = app
        .get(
            &format!("/api/files/{}", dead["file_id"].as_str().unwrap()),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(file["file"]["status"], "ready");
}
