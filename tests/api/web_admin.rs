//! The administrators' failed-jobs page over HTTP: closed to everyone else,
//! listing other users' dead jobs with their owner and error, and retrying one
//! so that it runs again for real.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::support::api::file_id;
use crate::support::app::{spawn_app, spawn_app_with};
use crate::support::web::{WebClient, location};

#[actix_rt::test]
async fn the_jobs_page_is_closed_to_everyone_but_administrators() {
    let app = spawn_app().await;
    let mut stranger = WebClient::new(&app);
    let response = stranger.get("/admin/jobs").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/login"));

    let mut user = WebClient::register(&app, "plain@example.com").await;
    let page = user.page("/settings").await;
    assert!(
        !page.contains(r#"href="/admin/jobs""#),
        "no link to it either"
    );
    let response = user.get("/admin/jobs").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(page.contains("only administrators"), "{page}");
    let response = user
        .post_form(&format!("/admin/jobs/{}/retry", Uuid::now_v7()), &[])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    app.make_admin("plain@example.com").await;
    let response = user.get("/admin/jobs").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the role applies at once"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains(r#"href="/admin/jobs""#),
        "the header links to it"
    );
    assert!(page.contains("No failed jobs"), "an empty state");
}

#[actix_rt::test]
async fn an_administrator_sees_another_users_dead_job_and_retries_it() {
    // The reconciler must not publish the test's job before it is dead.
    let app = spawn_app_with(&[("REQUEUE_AFTER", "1h")]).await;
    let (token, owner_id) = app.user_with_id("owner@example.com").await;
    let file_id = file_id(&app.upload_fixture(&token, "small.jpg").await);
    assert_eq!(
        app.wait_until_processed(&token, &file_id).await["file"]["status"],
        "ready"
    );
    let job_id = app
        .dead_job(
            owner_id.parse().unwrap(),
            file_id.parse().unwrap(),
            "the disk caught fire",
        )
        .await;
    assert_eq!(app.job(&token, &job_id.to_string()).await["status"], "dead");

    let mut admin = WebClient::register(&app, "admin@example.com").await;
    app.make_admin("admin@example.com").await;
    let page = admin.page("/admin/jobs").await;
    for shown in [
        job_id.to_string().as_str(),
        "small.jpg",
        "owner@example.com",
        "thumbnail",
        "the disk caught fire",
        "badge-dead",
    ] {
        assert!(page.contains(shown), "{shown} missing from the page");
    }
    let page = admin.page("/admin/jobs?status=dead").await;
    assert!(page.contains(&job_id.to_string()));
    let page = admin.page("/admin/jobs?status=retrying").await;
    assert!(!page.contains(&job_id.to_string()));
    assert!(page.contains("No jobs waiting for a retry"));

    // Without the session's CSRF token nothing happens.
    let retry = format!("/admin/jobs/{job_id}/retry");
    let response = admin
        .post_raw(&retry, &[("status", "dead")], Some(&app.address.clone()))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.job(&token, &job_id.to_string()).await["status"], "dead");

    let response = admin.post_form(&retry, &[("status", "dead")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/jobs?status=dead");
    let page = admin.follow_with_notice(&response).await;
    assert!(page.contains("The job is queued again."));

    // Queued and published like the API's retry: a worker runs it to the end.
    let job = app
        .wait_for_job(&token, &job_id.to_string(), |job| {
            job["status"] == "succeeded"
        })
        .await;
    assert_eq!(job["attempts"], 1, "a fresh set of attempts: {job}");
    let details = app.wait_until_processed(&token, &file_id).await;
    assert_eq!(details["file"]["status"], "ready");
    let page = admin.page("/admin/jobs").await;
    assert!(!page.contains(&job_id.to_string()), "no longer failed");

    // Only a dead job can be retried; an unknown one is not found.
    let response = admin.post_form(&retry, &[]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("only a dead job"));
    let response = admin
        .post_form(&format!("/admin/jobs/{}/retry", Uuid::now_v7()), &[])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
