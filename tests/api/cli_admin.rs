//! The administration commands, run as the real `kiln` binary against the
//! database and object store a running Kiln uses: accounts, tokens, failed
//! jobs, purging old files and verifying storage.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::api::{error_code, file_id, job_in, variant_names};
use crate::support::app::{PASSWORD, spawn_app};
use crate::support::cli::kiln;
use crate::support::wait::wait_until;

#[actix_rt::test]
async fn a_created_account_signs_in_and_a_disabled_one_is_refused_everywhere_until_enabled() {
    let app = spawn_app().await;
    kiln(&["user", "create", "ops@example.com", "--name", "Ops"])
        .on(&app)
        .stdin(PASSWORD)
        .stdout();
    let login = app.login("ops@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let listed = kiln(&["user", "list"]).on(&app).stdout();
    assert!(listed.contains("ops@example.com"), "{listed}");

    let token = kiln(&["token", "create", "ops@example.com", "--name", "ci"])
        .on(&app)
        .stdout();
    let token = token.trim();
    assert_eq!(
        app.me_status(token).await,
        StatusCode::OK,
        "the printed token is a working bearer token"
    );

    kiln(&["user", "disable", "ops@example.com"])
        .on(&app)
        .stdout();
    let refused = app.get("/api/me", Some(token)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "account_disabled");
    let login = app.login("ops@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);

    kiln(&["user", "enable", "ops@example.com"])
        .on(&app)
        .stdout();
    assert_eq!(app.me_status(token).await, StatusCode::OK);

    // A weak password is refused, and nothing is created.
    let weak = kiln(&["user", "create", "weak@example.com"])
        .on(&app)
        .stdin("short")
        .run();
    assert!(!weak.status.success());
    assert!(
        !kiln(&["user", "list"])
            .on(&app)
            .stdout()
            .contains("weak@example.com")
    );
}

#[actix_rt::test]
async fn the_operator_makes_a_token_for_an_account_whose_address_is_not_verified() {
    let app = spawn_app().await;
    // Its owner could not (403 email_unverified); the operator vouches for it.
    let session = app.signed_in_user("robot@example.com").await;
    let refused = app
        .post_json("/api/tokens", &json!({ "name": "ci" }), Some(&session))
        .await;
    assert_eq!(error_code(refused).await, "email_unverified");
    let token = kiln(&["token", "create", "robot@example.com", "--name", "ci"])
        .on(&app)
        .stdout();
    assert_eq!(app.me_status(token.trim()).await, StatusCode::OK);
}

#[actix_rt::test]
async fn storage_verify_finds_a_missing_variant_and_a_stray_object_and_fix_repairs_them() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("verify@example.com").await;
    let file_id = file_id(&app.upload_fixture(&token, "photo.jpg").await);
    let details = app.wait_until_processed(&token, &file_id).await;
    assert_eq!(details["file"]["status"], "ready");
    kiln(&["storage", "verify"]).on(&app).stdout();

    // A variant's object disappears, and an object no row names appears.
    let thumbnail = format!("{user_id}/{file_id}/thumbnail.");
    let variant_key = app
        .stored_keys(&user_id)
        .await
        .into_iter()
        .find(|key| key.starts_with(&thumbnail))
        .expect("the thumbnail's object");
    app.delete_object(&variant_key).await;
    let stray = format!("{user_id}/stray.bin");
    app.put_object(&stray, b"nobody's").await;

    let report = kiln(&["storage", "verify", "--stray-min-age", "0s"])
        .on(&app)
        .run();
    assert_eq!(report.status.code(), Some(1), "problems remain");
    let text = String::from_utf8_lossy(&report.stdout).to_string()
        + &String::from_utf8_lossy(&report.stderr);
    assert!(text.contains("stray.bin"), "{text}");
    assert!(text.contains("thumbnail"), "{text}");

    kiln(&["storage", "verify", "--fix", "--stray-min-age", "0s"])
        .on(&app)
        .stdout();
    assert!(!app.stored_keys(&user_id).await.contains(&stray));
    // The thumbnail's job runs again (the reconciler publishes it) and remakes it.
    wait_until(Duration::from_secs(60), || async {
        kiln(&["storage", "verify", "--stray-min-age", "0s"])
            .on(&app)
            .run()
            .status
            .success()
    })
    .await;
    let details = app.wait_until_processed(&token, &file_id).await;
    assert!(variant_names(&details).contains(&"thumbnail"), "{details}");
}

#[actix_rt::test]
async fn files_purge_removes_rows_and_objects_of_old_files_only() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("purge@example.com").await;
    let file_id = app.uploaded(&token, "photo.jpg").await;
    let newer_id = app.uploaded(&token, "small.jpg").await;
    // The first file was uploaded 40 days ago, as far as the database knows.
    let db = app.database().await;
    let forty_days_ago = chrono::Utc::now() - chrono::Duration::days(40);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    kiln::entities::files::Entity::update_many()
        .col_expr(
            kiln::entities::files::Column::CreatedAt,
            Expr::value(forty_days_ago),
        )
        .filter(kiln::entities::files::Column::Id.eq(uuid::Uuid::parse_str(&file_id).unwrap()))
        .exec(&db)
        .await
        .unwrap();

    // A dry run names it and removes nothing.
    let dry = kiln(&["files", "purge", "--older-than", "30d", "--dry-run"])
        .on(&app)
        .stdout();
    assert!(dry.contains(&file_id) && !dry.contains(&newer_id), "{dry}");
    let before = app.stored_keys(&user_id).await;
    assert!(before.iter().any(|k| k.contains(&file_id)));

    kiln(&["files", "purge", "--older-than", "30d"])
        .on(&app)
        .stdout();
    let file_status = |id: String| {
        let app = &app;
        let token = &token;
        async move {
            app.get(&format!("/api/files/{id}"), Some(token))
                .await
                .status()
        }
    };
    assert_eq!(file_status(file_id.clone()).await, StatusCode::NOT_FOUND);
    assert_eq!(file_status(newer_id.clone()).await, StatusCode::OK);
    let after = app.stored_keys(&user_id).await;
    assert!(!after.iter().any(|k| k.contains(&file_id)), "{after:?}");
    assert!(after.iter().any(|k| k.contains(&newer_id)), "{after:?}");
    // The purged file's bytes are given back to its owner's quota.
    let usage = app.me(&token).await["usage"].clone();
    assert_eq!(usage["files"], 1, "{usage}");
    assert_eq!(usage["bytes"], app.stored_bytes(&user_id).await, "{usage}");
}

#[actix_rt::test]
async fn jobs_list_shows_a_dead_job_and_retry_runs_it_again() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("jobs@example.com").await;
    let file_id = file_id(&app.upload_fixture(&token, "truncated.jpg").await);
    let details = app.wait_until_processed(&token, &file_id).await;
    let dead = job_in(&details, "dead");
    let job_id = dead["id"].as_str().unwrap();

    let listed = kiln(&["jobs", "list", "--status", "dead"])
        .on(&app)
        .stdout();
    assert!(listed.contains(job_id), "{listed}");
    let retrying = kiln(&["jobs", "list", "--status", "retrying"])
        .on(&app)
        .stdout();
    assert!(!retrying.contains(job_id));

    kiln(&["jobs", "retry", job_id]).on(&app).stdout();
    // The input is still corrupt: the job runs again and is dead again, with
    // a fresh attempt recorded after the retry.
    app.wait_for_job(&token, job_id, |job| {
        job["status"] == "dead" && job["finished_at"] != dead["finished_at"]
    })
    .await;
    // Retrying a job that is not dead is refused, saying why.
    let unknown = kiln(&["jobs", "retry", &uuid::Uuid::now_v7().to_string()])
        .on(&app)
        .run();
    assert!(!unknown.status.success());
}
