//! `kiln migrate-backend`: an embedded instance (SQLite, local objects) filled
//! through the API is copied by the real binary to a fresh PostgreSQL database
//! and a fresh prefix of the tests' S3 bucket, interrupted and resumed, and a
//! Kiln on PostgreSQL + Redis + S3 then serves every account, token, session,
//! file, variant and job as before.
//!
//! It needs PostgreSQL and S3, so it runs in services mode only
//! (`scripts/test.sh services`); on the embedded default it says so and passes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use kiln::entities::processing_jobs;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::support::api::file_id;
use crate::support::app::{Env, PASSWORD, TestApp, app_env, services_mode, spawn_app_with};
use crate::support::cli::{Kiln, kiln};
use crate::support::web::WebClient;

/// Everything that would point the source at a service: unset, so it runs on
/// the embedded default with its JWT key generated into DATA_DIR.
const EMBEDDED: &[(&str, &str)] = &[
    ("DATABASE_URL", ""),
    ("REDIS_URL", ""),
    ("REDIS_NAMESPACE", ""),
    ("MINIO_ENDPOINT", ""),
    ("MINIO_ACCESS_KEY", ""),
    ("MINIO_SECRET_KEY", ""),
    ("MINIO_BUCKET", ""),
    ("STORAGE_PREFIX", ""),
    ("JWT_SECRET", ""),
    // The held job below must stay where the test leaves it.
    ("RECONCILE_INTERVAL", "1h"),
];

/// The secret the new deployment is given (the embedded key cannot move).
const NEW_JWT_SECRET: &str = "a-new-secret-for-the-scaled-out-kiln!";

/// The `migrate-backend` command line towards `target`: the S3 secret by its
/// environment fallback, the rest as flags, and only the source's DATA_DIR.
fn migrate_command(source: &TestApp, target: &Env) -> Kiln {
    kiln(&[
        "migrate-backend",
        "--to-database",
        &target["DATABASE_URL"],
        "--to-storage",
        &format!(
            "s3://{}/{}",
            target["MINIO_BUCKET"], target["STORAGE_PREFIX"]
        ),
        "--s3-endpoint",
        &target["MINIO_ENDPOINT"],
        "--s3-access-key",
        &target["MINIO_ACCESS_KEY"],
        "--batch-size",
        "2",
    ])
    .env("DATA_DIR", &source.config.data_dir.display().to_string())
    .env("MIGRATE_TO_S3_SECRET_KEY", &target["MINIO_SECRET_KEY"])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Everything a user sees of their files: details (without times that tell
/// nothing) and the bytes of every original and variant.
async fn snapshot(app: &TestApp, token: &str) -> Snapshot {
    let listing = app.get_json("/api/files?limit=100", Some(token)).await;
    let mut files = Vec::new();
    for file in listing["files"].as_array().unwrap() {
        let id = file["id"].as_str().unwrap();
        let details = app.get_json(&format!("/api/files/{id}"), Some(token)).await;
        let mut contents = vec![(
            "original".to_string(),
            app.download(token, &format!("/api/files/{id}/content"))
                .await,
        )];
        for variant in details["variants"].as_array().unwrap() {
            let name = variant["name"].as_str().unwrap();
            let bytes = app
                .download(token, &format!("/api/files/{id}/variants/{name}"))
                .await;
            contents.push((name.to_string(), bytes));
        }
        files.push((details, contents));
    }
    files
}

#[actix_rt::test]
async fn an_embedded_instance_moves_to_postgres_and_s3_and_works_as_before() {
    if !services_mode() {
        eprintln!(
            "SKIPPED migrate_backend: it copies to PostgreSQL and S3, which only \
             `scripts/test.sh services` provides"
        );
        return;
    }
    // The source: everything through the API.
    let source = spawn_app_with(EMBEDDED).await;
    assert!(matches!(
        source.config.database.backend,
        kiln::config::DatabaseBackend::Sqlite
    ));
    // alice's address stays unverified; bob's is verified.
    let (alice, alice_id) = source.user_with_id("alice@example.com").await;
    let bob = source.verified_user("bob@example.com").await;
    let api_token = source.api_token(&bob, "backup script").await;
    let web = WebClient::sign_in(&source, "alice@example.com", PASSWORD).await;

    let mut file_ids = Vec::new();
    for fixture in ["photo.jpg", "alpha.png", "two-pages.pdf", "truncated.jpg"] {
        file_ids.push(source.uploaded(&alice, fixture).await);
    }
    // The same photo again: kept once, its objects shared by two files.
    let copy = source.upload_fixture(&alice, "photo.jpg").await;
    assert_eq!(copy["file"]["deduplicated"], true);
    let bob_file = file_id(&source.upload_fixture(&api_token, "small.jpg").await);
    source.wait_until_processed(&bob, &bob_file).await;
    let dead = source
        .get_json(&format!("/api/files/{}", file_ids[3]), Some(&alice))
        .await;
    assert_eq!(dead["file"]["status"], "failed");
    assert_eq!(dead["jobs"][0]["status"], "dead");
    // A share link alice gave out.
    let shared = source
        .post_json(
            &format!("/api/files/{}/shares", file_ids[0]),
            &serde_json::json!({"variants": ["thumbnail"]}),
            Some(&alice),
        )
        .await;
    assert_eq!(shared.status(), StatusCode::CREATED);
    let shared: Value = shared.json().await.unwrap();
    let share_path = shared["share"]["url"]
        .as_str()
        .unwrap()
        .replacen(&source.url(""), "", 1);
    // A job a worker holds when the source stops.
    let held = source
        .held_job(
            alice_id.parse().unwrap(),
            file_ids[0].parse().unwrap(),
            "small",
        )
        .await;
    let alice_before = snapshot(&source, &alice).await;
    let bob_before = snapshot(&source, &bob).await;

    // The target: a fresh database and a fresh prefix of the bucket.
    let target_dir = tempfile::tempdir().unwrap();
    let (target, _target_database) = app_env(target_dir.path()).await;

    let refused = migrate_command(&source, &target).run();
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("running under a live lease"),
        "a running source is refused: {}",
        text(&refused.stderr)
    );
    // The source has stopped, long enough ago for its worker's lease to run out.
    let source_db = source.database().await;
    processing_jobs::Entity::update_many()
        .col_expr(
            processing_jobs::Column::LeaseExpiresAt,
            Expr::value(Utc::now() - TimeDelta::minutes(1)),
        )
        .col_expr(
            processing_jobs::Column::UpdatedAt,
            Expr::value(Utc::now() - TimeDelta::minutes(6)),
        )
        .filter(processing_jobs::Column::Id.eq(held))
        .exec(&source_db)
        .await
        .unwrap();

    // Interrupted as soon as objects start moving...
    let mut child = migrate_command(&source, &target)
        .command()
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().contains("copying objects") {
            break;
        }
    }
    // It may have failed by itself, which the run below would show.
    let _ = child.kill();
    child.wait().unwrap();

    // ...and run again, which finishes the job.
    let resumed = migrate_command(&source, &target).run();
    let (stdout, stderr) = (text(&resumed.stdout), text(&resumed.stderr));
    assert!(resumed.status.success(), "{stderr}");
    assert!(stderr.contains("resuming the copy started at"), "{stderr}");
    assert!(stdout.contains("Copied and verified"), "{stdout}");
    let prefix = &target["STORAGE_PREFIX"];
    for line in [
        format!("MINIO_BUCKET={}", target["MINIO_BUCKET"]),
        format!("STORAGE_PREFIX={prefix}"),
        format!("MINIO_ACCESS_KEY={}", target["MINIO_ACCESS_KEY"]),
        "JWT_SECRET=<new secret".to_string(),
    ] {
        let line = line.as_str();
        assert!(stdout.contains(line), "prints {line}: {stdout}");
    }
    assert!(
        !stdout.contains(&target["MINIO_SECRET_KEY"]),
        "secrets are not echoed"
    );

    // A third run after the finish changes nothing.
    let again = migrate_command(&source, &target).run();
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("nothing to do"),
        "{}",
        text(&again.stderr)
    );

    // The new deployment, with a new JWT secret.
    let scaled = spawn_app_with(&[
        ("DATABASE_URL", target["DATABASE_URL"].as_str()),
        ("STORAGE_PREFIX", prefix),
        ("JWT_SECRET", NEW_JWT_SECRET),
    ])
    .await;
    assert!(scaled.uses_services());

    let alice_after = scaled
        .access_token("alice@example.com", PASSWORD)
        .await
        .expect("passwords still work");
    assert_eq!(
        scaled.me_status(&alice).await,
        StatusCode::UNAUTHORIZED,
        "a sign-in token of the old key ends, as documented"
    );
    let me = scaled.me(&api_token).await;
    assert_eq!(
        me["user"]["email"], "bob@example.com",
        "API tokens still work"
    );
    assert_eq!(me["user"]["email_verified"], true);
    let mut web_after = WebClient::with_session(&scaled, &web.session().unwrap());
    web_after.load_csrf_token().await;
    assert_eq!(
        web_after.csrf_token, web.csrf_token,
        "the web session goes on"
    );

    // The held job was queued again; the new workers finish it.
    scaled
        .wait_for_job(&alice_after, &held.to_string(), |job| {
            job["status"] == "succeeded"
        })
        .await;
    let alice_now = snapshot(&scaled, &alice_after).await;
    let bob_now = snapshot(&scaled, &api_token).await;
    assert_eq!(normalized(bob_now, None), normalized(bob_before, None));
    let held_file = Some((file_ids[0].as_str(), held.to_string()));
    assert_eq!(
        normalized(alice_now, held_file.clone()),
        normalized(alice_before, held_file)
    );
    let dead_job = &dead["jobs"][0];
    let dead_after = scaled
        .job(&alice_after, dead_job["id"].as_str().unwrap())
        .await;
    assert_eq!(
        at_microseconds(dead_after),
        at_microseconds(dead_job.clone()),
        "the dead job is as it was"
    );
    assert_content_type(&scaled, &alice_after, &file_ids[2], "application/pdf").await;
    // The link she gave out opens what it opened, from the new storage.
    let opened = scaled.get(&format!("{share_path}/thumbnail"), None).await;
    assert_eq!(opened.status(), StatusCode::OK, "{share_path}");
    let refused = scaled.get(&format!("{share_path}/original"), None).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
}

type Snapshot = Vec<(Value, Vec<(String, Vec<u8>)>)>;

/// A snapshot as comparable across the move: times at PostgreSQL's precision
/// (microseconds), jobs and variants in id and name order, and on the file whose job was
/// held, what that job changed since (its job, its variant, the file's status).
fn normalized(files: Snapshot, held: Option<(&str, String)>) -> Snapshot {
    files
        .into_iter()
        .map(|(mut details, mut contents)| {
            if let Some((file_id, job_id)) = &held
                && details["file"]["id"] == *file_id
            {
                let jobs = details["jobs"].as_array_mut().unwrap();
                jobs.retain(|job| job["id"] != job_id.as_str());
                let variants = details["variants"].as_array_mut().unwrap();
                variants.retain(|variant| variant["name"] != "small");
                contents.retain(|(name, _)| name != "small");
                details["file"]["status"] = Value::Null;
                details["file"]["updated_at"] = Value::Null;
            }
            // Jobs have ids; variants are named (one per name and file).
            for (list, key) in [("jobs", "id"), ("variants", "name")] {
                let items = details[list].as_array_mut().unwrap();
                items.sort_by_key(|item| item[key].as_str().unwrap().to_string());
            }
            contents.sort();
            (at_microseconds(details), contents)
        })
        .collect()
}

/// Every RFC 3339 time in `value` cut to whole microseconds, as PostgreSQL
/// (through sqlx) keeps them; SQLite keeps the nanoseconds.
fn at_microseconds(value: Value) -> Value {
    match value {
        Value::String(text) => match DateTime::parse_from_rfc3339(&text) {
            Ok(time) => {
                let micros = time.timestamp_micros();
                Value::String(
                    DateTime::from_timestamp_micros(micros)
                        .unwrap()
                        .to_rfc3339_opts(SecondsFormat::Micros, true),
                )
            }
            Err(_) => Value::String(text),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(at_microseconds).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(name, field)| (name, at_microseconds(field)))
                .collect(),
        ),
        other => other,
    }
}

/// A presigned S3 link to a copied original serves the type its row records.
async fn assert_content_type(app: &TestApp, token: &str, file_id: &str, expected: &str) {
    let response = app
        .download_response(token, &format!("/api/files/{file_id}/content"))
        .await;
    assert_eq!(response.headers()["content-type"], expected);
}
