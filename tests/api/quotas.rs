//! Quotas and retention: what an account stores (originals and variants)
//! against its limits, from `DEFAULT_QUOTA_*` or its own; uploads and variants
//! past them refused, and usage that stays what the store holds through
//! uploads, processing, deletes, `kiln user set-quota` and `kiln storage
//! verify --fix`; and files older than `FILE_RETENTION` purged on their own.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::{error_code, file_id, job_in};
use crate::support::app::{TestApp, spawn_app, spawn_app_with};
use crate::support::cli::kiln;
use crate::support::fixtures::fixture;
use crate::support::wait::wait_until;
use crate::support::web::WebClient;

async fn usage(app: &TestApp, token: &str) -> Value {
    app.me(token).await["usage"].clone()
}

/// The account's usage matches the bytes its originals and variants take in
/// the store, and the number of its files.
async fn assert_usage_is_what_is_stored(app: &TestApp, token: &str, user_id: &str, files: u64) {
    let usage = usage(app, token).await;
    assert_eq!(usage["bytes"], app.stored_bytes(user_id).await, "{usage}");
    assert_eq!(usage["files"], files, "{usage}");
}

#[actix_rt::test]
async fn usage_counts_originals_and_variants_as_stored_and_falls_with_a_delete() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("counted@example.com").await;
    assert_eq!(
        usage(&app, &token).await,
        json!({"bytes": 0, "files": 0, "quota_bytes": null, "quota_files": null}),
        "unlimited by default"
    );
    let photo = app.uploaded(&token, "photo.jpg").await;
    let small = app.uploaded(&token, "small.jpg").await;
    assert_usage_is_what_is_stored(&app, &token, &user_id, 2).await;
    let usage_now = usage(&app, &token).await["bytes"].as_u64().unwrap();
    assert!(usage_now > (fixture("photo.jpg").len() + fixture("small.jpg").len()) as u64);

    // A transform made on request is cached, and does not count.
    let resized = app
        .get(&format!("/t/{photo}?w=37&fmt=png"), Some(&token))
        .await;
    assert_eq!(resized.status(), StatusCode::OK);
    assert_eq!(usage(&app, &token).await["bytes"], usage_now);

    // Processing more adds the new variant.
    let job = app
        .process(&token, &small, &json!({"processor": "webp"}))
        .await;
    assert_eq!(job.status(), StatusCode::ACCEPTED);
    app.wait_until_processed(&token, &small).await;
    assert_usage_is_what_is_stored(&app, &token, &user_id, 2).await;

    assert_eq!(
        app.delete(&format!("/api/files/{photo}"), &token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_usage_is_what_is_stored(&app, &token, &user_id, 1).await;
}

#[actix_rt::test]
async fn an_upload_past_a_quota_is_refused_with_413_and_the_usage_and_leaves_nothing() {
    let photo = fixture("photo.jpg");
    // Room for the photo and its thumbnail, not for two photos.
    let quota = photo.len() as u64 * 2 - 1;
    let app = spawn_app_with(&[
        ("DEFAULT_QUOTA_BYTES", quota.to_string().as_str()),
        ("DEFAULT_QUOTA_FILES", "2"),
    ])
    .await;
    let (token, user_id) = app.user_with_id("full@example.com").await;
    let first = app
        .upload_accepted(&token, "photo.jpg", photo.clone(), Some("thumbnail"))
        .await;
    // Its thumbnail made, so what is stored stays put while the test looks.
    app.wait_until_processed(&token, &file_id(&first)).await;
    let stored = app.stored_keys(&user_id).await;

    let refused = app
        .upload(&token, "again.jpg", photo.clone(), Some("thumbnail"))
        .await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "quota_exceeded");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("of 54 KB and 1 of 2 files used"),
        "usage in the message: {message}"
    );
    assert_eq!(app.stored_keys(&user_id).await, stored, "nothing kept");
    assert_eq!(usage(&app, &token).await["files"], 1);

    // The file quota: a small file fits in bytes, but not a third file.
    app.upload_accepted(&token, "small.jpg", fixture("small.jpg"), Some("thumbnail"))
        .await;
    let third = app
        .upload(&token, "logo.png", fixture("logo.png"), Some("thumbnail"))
        .await;
    assert_eq!(error_code(third).await, "quota_exceeded");
    let usage = usage(&app, &token).await;
    assert_eq!(usage["files"], 2);
    assert_eq!(usage["quota_files"], 2);
    assert_eq!(usage["quota_bytes"], quota);

    // Deleting a file makes room again.
    let first = file_id(&first);
    app.delete(&format!("/api/files/{first}"), &token).await;
    app.upload_accepted(&token, "logo.png", fixture("logo.png"), Some("thumbnail"))
        .await;
}

#[actix_rt::test]
async fn concurrent_uploads_cannot_both_take_the_last_file() {
    let app = spawn_app_with(&[("DEFAULT_QUOTA_FILES", "1")]).await;
    let (token, user_id) = app.user_with_id("racer@example.com").await;
    let uploads =
        (0..6).map(|_| app.upload(&token, "small.jpg", fixture("small.jpg"), Some("thumbnail")));
    let mut accepted = Vec::new();
    let mut statuses = Vec::new();
    for response in futures::future::join_all(uploads).await {
        statuses.push(response.status());
        if response.status() == StatusCode::ACCEPTED {
            accepted.push(file_id(&response.json().await.unwrap()));
        }
    }
    assert_eq!(accepted.len(), 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::ACCEPTED || *s == StatusCode::PAYLOAD_TOO_LARGE),
        "{statuses:?}"
    );
    assert_eq!(usage(&app, &token).await["files"], 1);
    let stored = app.stored_keys(&user_id).await;
    assert!(
        stored.iter().all(|key| key.contains(&accepted[0])),
        "the refused left nothing: {stored:?}"
    );
}

#[actix_rt::test]
async fn a_variant_that_would_pass_the_quota_ends_its_job_dead_and_is_not_kept() {
    let photo = fixture("photo.jpg");
    // The original fits, with no room for its variants.
    let quota = photo.len() + 10;
    let app = spawn_app_with(&[("DEFAULT_QUOTA_BYTES", quota.to_string().as_str())]).await;
    let (token, user_id) = app.user_with_id("variants@example.com").await;
    let file = file_id(&app.upload_accepted(&token, "photo.jpg", photo, None).await);
    let details = app.wait_until_every_job_ended(&token, &file).await;
    assert_eq!(details["file"]["status"], "failed", "{details}");
    let dead = job_in(&details, "dead");
    let error = dead["error"].as_str().unwrap();
    assert!(error.starts_with("quota exceeded"), "{error}");
    assert!(error.contains("of 27 KB"), "{error}");
    assert_eq!(dead["attempts"], 1, "refused at once, not retried");
    assert_eq!(
        app.stored_keys(&user_id).await.len(),
        1,
        "only the original is kept"
    );
    assert_usage_is_what_is_stored(&app, &token, &user_id, 1).await;
}

#[actix_rt::test]
async fn the_operator_sets_a_quota_and_verify_fix_brings_a_drifted_usage_back() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("ops-quota@example.com").await;
    app.uploaded(&token, "small.jpg").await;

    let set = kiln(&[
        "user",
        "set-quota",
        "ops-quota@example.com",
        "--bytes",
        "1KiB",
    ])
    .on(&app)
    .stdout();
    assert!(set.contains("may store 1 KB"), "{set}");
    let refused = app
        .upload(&token, "logo.png", fixture("logo.png"), Some("thumbnail"))
        .await;
    assert_eq!(error_code(refused).await, "quota_exceeded");
    let listed = kiln(&["user", "list"]).on(&app).stdout();
    let row = listed
        .lines()
        .find(|line| line.contains("ops-quota@example.com"))
        .unwrap();
    assert!(row.contains("/ 1 KB") && row.contains("1 / -"), "{listed}");

    kiln(&["user", "set-quota", "ops-quota@example.com", "--unlimited"])
        .on(&app)
        .stdout();
    assert_eq!(usage(&app, &token).await["quota_bytes"], Value::Null);
    app.uploaded(&token, "logo.png").await;

    // The recorded usage drifts from the rows (as a crash mid-repair could
    // leave it); verify reports it, and --fix restores it.
    let db = app.database().await;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    kiln::entities::users::Entity::update_many()
        .col_expr(kiln::entities::users::Column::UsedBytes, Expr::value(5i64))
        .filter(kiln::entities::users::Column::Id.eq(uuid::Uuid::parse_str(&user_id).unwrap()))
        .exec(&db)
        .await
        .unwrap();
    let report = kiln(&["storage", "verify"]).on(&app).run();
    assert_eq!(report.status.code(), Some(1));
    let text = String::from_utf8_lossy(&report.stdout).to_string()
        + &String::from_utf8_lossy(&report.stderr);
    assert!(text.contains("usage of ops-quota@example.com"), "{text}");
    kiln(&["storage", "verify", "--fix"]).on(&app).stdout();
    assert_usage_is_what_is_stored(&app, &token, &user_id, 2).await;
    kiln(&["storage", "verify"]).on(&app).stdout();
}

#[actix_rt::test]
async fn an_administrator_sets_a_quota_on_the_accounts_page_and_its_owner_sees_the_bar() {
    let app = spawn_app_with(&[("DEFAULT_QUOTA_BYTES", "10MiB")]).await;
    let mut owner = WebClient::register_verified(&app, "owner-bar@example.com").await;
    let settings = owner.page("/settings").await;
    assert!(settings.contains("0 B of 10 MB used"), "{settings}");

    let mut admin = WebClient::register(&app, "root@example.com").await;
    assert_eq!(
        admin.get("/admin/users").await.status(),
        StatusCode::FORBIDDEN
    );
    app.make_admin("root@example.com").await;
    let page = admin.page("/admin/users").await;
    assert!(page.contains("owner-bar@example.com"), "{page}");
    let saved = admin
        .post_form(
            "/admin/users/quota",
            &[
                ("email", "owner-bar@example.com"),
                ("bytes", "2 MiB"),
                ("files", "7"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let page = admin.follow_with_notice(&saved).await;
    assert!(page.contains("The quota is saved"), "{page}");
    assert!(page.contains("0 of 7"), "{page}");

    let refused = admin
        .post_form(
            "/admin/users/quota",
            &[("email", "owner-bar@example.com"), ("bytes", "lots")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("not a size"));

    let settings = owner.page("/settings").await;
    assert!(settings.contains("0 B of 2 MB used"), "{settings}");
    assert!(settings.contains("0 of 7 files"), "{settings}");
    assert!(settings.contains(r#"id="storage-meter""#), "{settings}");
}

#[actix_rt::test]
async fn files_older_than_the_retention_are_purged_with_their_objects_and_usage() {
    let app = spawn_app_with(&[("FILE_RETENTION", "30d"), ("RECONCILE_INTERVAL", "1s")]).await;
    let (token, user_id) = app.user_with_id("kept@example.com").await;
    let old = app.uploaded(&token, "photo.jpg").await;
    let new = app.uploaded(&token, "small.jpg").await;
    // The photo was uploaded 40 days ago, as far as the database knows.
    let db = app.database().await;
    use kiln::entities::files;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    files::Entity::update_many()
        .col_expr(
            files::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(40)),
        )
        .filter(files::Column::Id.eq(uuid::Uuid::parse_str(&old).unwrap()))
        .exec(&db)
        .await
        .unwrap();

    wait_until(Duration::from_secs(20), || async {
        app.get(&format!("/api/files/{old}"), Some(&token))
            .await
            .status()
            == StatusCode::NOT_FOUND
    })
    .await;
    let stored = app.stored_keys(&user_id).await;
    assert!(!stored.iter().any(|key| key.contains(&old)), "{stored:?}");
    assert!(stored.iter().any(|key| key.contains(&new)), "{stored:?}");
    assert_usage_is_what_is_stored(&app, &token, &user_id, 1).await;
    let metrics = app.metrics().await;
    assert!(
        crate::support::api::metric_total(&metrics, "kiln_files_expired_total", &[]) >= 1.0,
        "{metrics}"
    );
}
