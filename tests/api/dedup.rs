//! Deduplication: an original whose bytes the same user already stored is kept
//! once. The new file names the stored objects, takes over the variants made
//! with the same options (ready at once), and each object goes with the last
//! file that names it; usage counts it once. Never across users.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::{file_id, variant_names};
use crate::support::app::{TestApp, spawn_app};
use crate::support::cli::kiln;
use crate::support::fixtures::fixture;

/// The account's usage equals the bytes of its objects in the store.
async fn assert_usage_is_what_is_stored(app: &TestApp, token: &str, user_id: &str, files: u64) {
    let usage = app.me(token).await["usage"].clone();
    assert_eq!(usage["bytes"], app.stored_bytes(user_id).await, "{usage}");
    assert_eq!(usage["files"], files, "{usage}");
}

async fn content(app: &TestApp, token: &str, id: &str, what: &str) -> Vec<u8> {
    app.download(token, &format!("/api/files/{id}/{what}"))
        .await
}

#[actix_rt::test]
async fn bytes_stored_before_are_kept_once_and_the_new_file_is_ready_at_once() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("twice@example.com").await;
    let first = app.uploaded(&token, "photo.jpg").await;
    let stored = app.stored_keys(&user_id).await;
    let first_details = app.wait_until_processed(&token, &first).await;

    let accepted = app.upload_fixture(&token, "photo.jpg").await;
    assert_eq!(accepted["file"]["deduplicated"], true, "{accepted}");
    assert_eq!(accepted["file"]["status"], "ready", "{accepted}");
    let jobs = accepted["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "thumbnail and resize: {accepted}");
    assert!(
        jobs.iter().all(|job| job["status"] == "succeeded"),
        "{accepted}"
    );
    let second = file_id(&accepted);

    let details: Value = app
        .get_json(&format!("/api/files/{second}"), Some(&token))
        .await;
    assert_eq!(variant_names(&details), variant_names(&first_details));
    assert_eq!(details["file"]["width"], first_details["file"]["width"]);
    let mut now = app.stored_keys(&user_id).await;
    now.sort();
    let mut before = stored.clone();
    before.sort();
    assert_eq!(now, before, "no new object");
    for what in ["content", "variants/thumbnail", "variants/md"] {
        assert_eq!(
            content(&app, &token, &second, what).await,
            content(&app, &token, &first, what).await,
            "{what}"
        );
    }
    assert_usage_is_what_is_stored(&app, &token, &user_id, 2).await;
}

#[actix_rt::test]
async fn a_shared_object_goes_with_the_last_file_that_names_it_in_either_order() {
    let app = spawn_app().await;
    for (account, delete_first_upload_first) in
        [("older@example.com", true), ("newer@example.com", false)]
    {
        let (token, user_id) = app.user_with_id(account).await;
        let first = app.uploaded(&token, "photo.jpg").await;
        let second = file_id(&app.upload_fixture(&token, "photo.jpg").await);
        let (gone, kept) = match delete_first_upload_first {
            true => (first, second),
            false => (second, first),
        };
        let keys = app.stored_keys(&user_id).await;
        let response = app.delete(&format!("/api/files/{gone}"), &token).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            app.stored_keys(&user_id).await.len(),
            keys.len(),
            "{account}: all still named"
        );
        assert_eq!(
            content(&app, &token, &kept, "content").await,
            fixture("photo.jpg")
        );
        assert!(
            !content(&app, &token, &kept, "variants/thumbnail")
                .await
                .is_empty()
        );
        assert_usage_is_what_is_stored(&app, &token, &user_id, 1).await;

        app.delete(&format!("/api/files/{kept}"), &token).await;
        assert_eq!(
            app.stored_keys(&user_id).await,
            Vec::<String>::new(),
            "{account}"
        );
        assert_usage_is_what_is_stored(&app, &token, &user_id, 0).await;
    }
}

#[actix_rt::test]
async fn concurrent_identical_uploads_keep_one_original() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("burst@example.com").await;
    let uploads =
        (0..5).map(|_| app.upload(&token, "photo.jpg", fixture("photo.jpg"), Some("thumbnail")));
    let mut ids = Vec::new();
    let mut deduplicated = 0;
    for response in futures::future::join_all(uploads).await {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        deduplicated += usize::from(body["file"]["deduplicated"] == true);
        ids.push(file_id(&body));
    }
    assert_eq!(deduplicated, 4, "one stores, the others refer to it");
    for id in &ids {
        let details = app.wait_until_processed(&token, id).await;
        assert_eq!(details["file"]["status"], "ready", "{details}");
    }
    let originals = app
        .stored_keys(&user_id)
        .await
        .into_iter()
        .filter(|key| key.ends_with("/original.jpg"))
        .count();
    assert_eq!(originals, 1);
    assert_usage_is_what_is_stored(&app, &token, &user_id, 5).await;
}

#[actix_rt::test]
async fn processing_a_shared_file_with_other_options_never_changes_the_other_files_variant() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("options@example.com").await;
    let first = app.uploaded(&token, "photo.jpg").await;
    let second = file_id(&app.upload_fixture(&token, "photo.jpg").await);
    let thumbnail = content(&app, &token, &first, "variants/thumbnail").await;

    // Each file's thumbnail made again with other options, in turn.
    let smaller = json!({"processor": "thumbnail", "options": {"width": 64, "height": 64}});
    for (remade, other) in [(&second, &first), (&first, &second)] {
        let response = app.process(&token, remade, &smaller).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let details = app.wait_until_processed(&token, remade).await;
        let made = crate::support::api::variant(&details, "thumbnail");
        assert!(made["width"].as_i64().unwrap() <= 64, "{details}");
        assert_ne!(
            content(&app, &token, remade, "variants/thumbnail").await,
            thumbnail
        );
        if remade == &second {
            assert_eq!(
                content(&app, &token, other, "variants/thumbnail").await,
                thumbnail,
                "the first file's thumbnail is untouched"
            );
        }
        assert_usage_is_what_is_stored(&app, &token, &user_id, 2).await;
    }
    // Both now hold the same small thumbnail; the large one is gone with its
    // last row.
    let report = kiln(&["storage", "verify", "--stray-min-age", "0s"])
        .on(&app)
        .run();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stdout)
    );
}

#[actix_rt::test]
async fn deduplication_never_crosses_users() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user_with_id("alice-dedup@example.com").await;
    let (bob, bob_id) = app.user_with_id("bob-dedup@example.com").await;
    app.uploaded(&alice, "photo.jpg").await;
    let accepted = app.upload_fixture(&bob, "photo.jpg").await;
    assert_eq!(accepted["file"]["deduplicated"], false);
    let bob_file = file_id(&accepted);
    app.wait_until_processed(&bob, &bob_file).await;
    let bobs = app.stored_keys(&bob_id).await;
    assert!(
        bobs.iter().any(|key| key.ends_with("/original.jpg")),
        "{bobs:?}"
    );
    assert_usage_is_what_is_stored(&app, &alice, &alice_id, 1).await;
    assert_usage_is_what_is_stored(&app, &bob, &bob_id, 1).await;
}

#[actix_rt::test]
async fn verify_and_purge_understand_shared_objects() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("shared-ops@example.com").await;
    let first = app.uploaded(&token, "photo.jpg").await;
    let second = file_id(&app.upload_fixture(&token, "photo.jpg").await);
    kiln(&["storage", "verify", "--stray-min-age", "0s"])
        .on(&app)
        .stdout();

    // The first file is old enough to purge; the second still needs its objects.
    let db = app.database().await;
    use kiln::entities::files;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    files::Entity::update_many()
        .col_expr(
            files::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(40)),
        )
        .filter(files::Column::Id.eq(uuid::Uuid::parse_str(&first).unwrap()))
        .exec(&db)
        .await
        .unwrap();
    kiln(&["files", "purge", "--older-than", "30d"])
        .on(&app)
        .stdout();
    assert_eq!(
        app.get(&format!("/api/files/{first}"), Some(&token))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        content(&app, &token, &second, "content").await,
        fixture("photo.jpg")
    );
    assert!(
        !content(&app, &token, &second, "variants/thumbnail")
            .await
            .is_empty()
    );
    kiln(&["storage", "verify", "--stray-min-age", "0s"])
        .on(&app)
        .stdout();
    assert_usage_is_what_is_stored(&app, &token, &user_id, 1).await;
}
