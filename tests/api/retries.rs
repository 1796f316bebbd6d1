//! Transient failures for real: the object store goes away while a job runs.
//! The job retries with backoff and succeeds once storage is back; with its
//! retries used up it is dead, and the retry endpoint brings it back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::file_id;
use crate::support::app::{TestApp, spawn_app_with};
use crate::support::servers::PrivateS3;

async fn app_on(s3: &PrivateS3, max_retries: &str) -> TestApp {
    let retries = ("MAX_RETRIES".to_string(), max_retries.to_string());
    spawn_app_with(s3.env().into_iter().chain([retries])).await
}

/// Uploads a small image, waits for it, then asks for one more thumbnail.
async fn ready_file_and_new_job(app: &TestApp, token: &str, s3: &mut PrivateS3) -> String {
    let id = &file_id(&app.upload_fixture(token, "small.jpg").await);
    assert_eq!(
        app.wait_until_processed(token, id).await["file"]["status"],
        "ready"
    );
    s3.stop();
    let response = app
        .process(
            token,
            id,
            &json!({ "processor": "thumbnail", "variant": "later" }),
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
    let (token, _) = app.user_with_id("outage@example.com").await;
    let job_id = ready_file_and_new_job(&app, &token, &mut s3).await;

    let retrying = app
        .wait_for_job(&token, &job_id, |job| {
            job["status"] == "retrying" && job["attempts"].as_i64() >= Some(2)
        })
        .await;
    assert!(
        retrying["error"].as_str().unwrap().contains("storage"),
        "{retrying}"
    );

    s3.resume().await;
    let done = app
        .wait_for_job(&token, &job_id, |job| job["status"] == "succeeded")
        .await;
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
    let (token, _) = app.user_with_id("exhausted@example.com").await;
    let job_id = ready_file_and_new_job(&app, &token, &mut s3).await;

    let dead = app
        .wait_for_job(&token, &job_id, |job| job["status"] == "dead")
        .await;
    assert_eq!(
        dead["attempts"], 2,
        "one try and MAX_RETRIES=1 retry: {dead}"
    );
    assert!(
        dead["error"].as_str().unwrap().contains("storage"),
        "{dead}"
    );
    let file = app
        .get_json(
            &format!("/api/files/{}", dead["file_id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(file["file"]["status"], "failed");

    s3.resume().await;
    let retried = app.retry_job(&token, &job_id).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    app.wait_for_job(&token, &job_id, |job| job["status"] == "succeeded")
        .await;
    let file = app
        .get_json(
            &format!("/api/files/{}", dead["file_id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(file["file"]["status"], "ready");
}
