//! The administration commands, run as the real `kiln` binary against the
//! database and object store a running Kiln uses: accounts, tokens, failed
//! jobs, purging old files and verifying storage.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use kiln::actors::storage::ObjectKey;
use kiln::actors::storage::messages::{DeleteObject, PutObject};
use kiln::config::StorageBackend;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{JWT_SECRET, PASSWORD, TestApp, error_code, spawn_app, user_with_id};

/// Runs `kiln` with what it needs to reach `app`'s database and storage,
/// feeding `stdin`.
fn kiln_with_input(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut env = HashMap::from([
        ("DATA_DIR", app.config.data_dir.display().to_string()),
        (
            "DATABASE_URL",
            app.config.database.url.expose_secret().to_string(),
        ),
        ("JWT_SECRET", JWT_SECRET.to_string()),
        ("STORAGE_PREFIX", app.config.storage.key_prefix.clone()),
    ]);
    if let StorageBackend::S3 {
        endpoint,
        access_key,
        secret_key,
        bucket,
        ..
    } = &app.config.storage.backend
    {
        env.extend([
            ("MINIO_ENDPOINT", endpoint.to_string()),
            ("MINIO_ACCESS_KEY", access_key.clone()),
            ("MINIO_SECRET_KEY", secret_key.expose_secret().to_string()),
            ("MINIO_BUCKET", bucket.clone()),
        ]);
    }
    // Run outside the checkout so a developer's .env cannot leak in.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiln runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn kiln(app: &TestApp, args: &[&str]) -> Output {
    kiln_with_input(app, args, "")
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "kiln failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[actix_rt::test]
async fn a_created_account_signs_in_and_a_disabled_one_is_refused_everywhere_until_enabled() {
    let app = spawn_app().await;
    succeeded(&kiln_with_input(
        &app,
        &["user", "create", "ops@example.com", "--name", "Ops"],
        PASSWORD,
    ));
    let login = app.login("ops@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let listed = succeeded(&kiln(&app, &["user", "list"]));
    assert!(listed.contains("ops@example.com"), "{listed}");

    let token = succeeded(&kiln(
        &app,
        &["token", "create", "ops@example.com", "--name", "ci"],
    ));
    let token = token.trim();
    assert_eq!(
        app.get("/api/me", Some(token)).await.status(),
        StatusCode::OK,
        "the printed token is a working bearer token"
    );

    succeeded(&kiln(&app, &["user", "disable", "ops@example.com"]));
    let refused = app.get("/api/me", Some(token)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "account_disabled");
    let login = app.login("ops@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);

    succeeded(&kiln(&app, &["user", "enable", "ops@example.com"]));
    assert_eq!(
        app.get("/api/me", Some(token)).await.status(),
        StatusCode::OK
    );

    // A weak password is refused, and nothing is created.
    let weak = kiln_with_input(&app, &["user", "create", "weak@example.com"], "short");
    assert!(!weak.status.success());
    assert!(!succeeded(&kiln(&app, &["user", "list"])).contains("weak@example.com"));
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
    let token = succeeded(&kiln(
        &app,
        &["token", "create", "robot@example.com", "--name", "ci"],
    ));
    assert_eq!(
        app.get("/api/me", Some(token.trim())).await.status(),
        StatusCode::OK
    );
}

#[actix_rt::test]
async fn storage_verify_finds_a_missing_variant_and_a_stray_object_and_fix_repairs_them() {
    let app = spawn_app().await;
    let (token, user_id) = user_with_id(&app, "verify@example.com").await;
    let accepted = app.upload_fixture(&token, "photo.jpg").await;
    let file_id = accepted["file"]["id"].as_str().unwrap().to_string();
    let details = app.wait_until_processed(&token, &file_id).await;
    assert_eq!(details["file"]["status"], "ready");
    succeeded(&kiln(&app, &["storage", "verify"]));

    // A variant's object disappears, and an object no row names appears.
    let variant_key = format!("{user_id}/{file_id}/thumbnail.jpg");
    assert!(app.stored_keys(&user_id).await.contains(&variant_key));
    app.actors
        .storage
        .send(DeleteObject {
            request_id: kiln::telemetry::RequestId::generate(),
            key: ObjectKey::parse(&variant_key).unwrap(),
        })
        .await
        .unwrap()
        .unwrap();
    let stray = format!("{user_id}/stray.bin");
    app.actors
        .storage
        .send(PutObject {
            request_id: kiln::telemetry::RequestId::generate(),
            key: ObjectKey::parse(&stray).unwrap(),
            content_type: "application/octet-stream".into(),
            body: futures::StreamExt::boxed(futures::stream::once(async {
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"nobody's"))
            })),
        })
        .await
        .unwrap()
        .unwrap();

    let report = kiln(&app, &["storage", "verify", "--stray-min-age", "0s"]);
    assert_eq!(report.status.code(), Some(1), "problems remain");
    let text = String::from_utf8_lossy(&report.stdout).to_string()
        + &String::from_utf8_lossy(&report.stderr);
    assert!(text.contains("stray.bin"), "{text}");
    assert!(text.contains("thumbnail"), "{text}");

    succeeded(&kiln(
        &app,
        &["storage", "verify", "--fix", "--stray-min-age", "0s"],
    ));
    assert!(!app.stored_keys(&user_id).await.contains(&stray));
    // The thumbnail's job runs again (the reconciler publishes it) and remakes it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if kiln(&app, &["storage", "verify", "--stray-min-age", "0s"])
            .status
            .success()
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never repaired");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let details = app.wait_until_processed(&token, &file_id).await;
    assert!(
        details["variants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "thumbnail"),
        "{details}"
    );
}

#[actix_rt::test]
async fn files_purge_removes_rows_and_objects_of_old_files_only() {
    let app = spawn_app().await;
    let (token, user_id) = user_with_id(&app, "purge@example.com").await;
    let accepted = app.upload_fixture(&token, "photo.jpg").await;
    let file_id = accepted["file"]["id"].as_str().unwrap().to_string();
    app.wait_until_processed(&token, &file_id).await;
    let newer = app.upload_fixture(&token, "small.jpg").await;
    let newer_id = newer["file"]["id"].as_str().unwrap().to_string();
    app.wait_until_processed(&token, &newer_id).await;
    // The first file was uploaded 40 days ago, as far as the database knows.
    let db = sea_orm::Database::connect(app.config.database.url.expose_secret())
        .await
        .unwrap();
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
    let dry = succeeded(&kiln(
        &app,
        &["files", "purge", "--older-than", "30d", "--dry-run"],
    ));
    assert!(dry.contains(&file_id) && !dry.contains(&newer_id), "{dry}");
    let before = app.stored_keys(&user_id).await;
    assert!(before.iter().any(|k| k.contains(&file_id)));

    succeeded(&kiln(&app, &["files", "purge", "--older-than", "30d"]));
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
}

#[actix_rt::test]
async fn jobs_list_shows_a_dead_job_and_retry_runs_it_again() {
    let app = spawn_app().await;
    let (token, _) = user_with_id(&app, "jobs@example.com").await;
    let accepted = app.upload_fixture(&token, "truncated.jpg").await;
    let file_id = accepted["file"]["id"].as_str().unwrap().to_string();
    let details = app.wait_until_processed(&token, &file_id).await;
    let dead = details["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["status"] == "dead")
        .expect("a dead job")
        .clone();
    let job_id = dead["id"].as_str().unwrap();

    let listed = succeeded(&kiln(&app, &["jobs", "list", "--status", "dead"]));
    assert!(listed.contains(job_id), "{listed}");
    let retrying = succeeded(&kiln(&app, &["jobs", "list", "--status", "retrying"]));
    assert!(!retrying.contains(job_id));

    succeeded(&kiln(&app, &["jobs", "retry", job_id]));
    // The input is still corrupt: the job runs again and is dead again, with
    // a fresh attempt recorded after the retry.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job = app.job(&token, job_id).await;
        if job["status"] == "dead" && job["finished_at"] != dead["finished_at"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not run again: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Retrying a job that is not dead is refused, saying why.
    let unknown = kiln(&app, &["jobs", "retry", &uuid::Uuid::now_v7().to_string()]);
    assert!(!unknown.status.success());
}
