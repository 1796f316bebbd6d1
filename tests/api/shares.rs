//! Share links (API.md "Delivery"): made, listed and revoked by a file's owner;
//! opened by anyone with the link, without an account, for what it names and
//! while it lasts; a revoked link opens nothing from the next request on.

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::support::api::{error_code, fetch, file_id, header_of};
use crate::support::app::{TestApp, services_mode, spawn_app, spawn_app_with};
use crate::support::cluster::Cluster;
use crate::support::fixtures::fixture;
use crate::support::processes::KilnProcess;

/// Makes a link to `file_id` with `request`; returns the 201's `share`.
async fn make_share(app: &TestApp, token: &str, file_id: &str, request: Value) -> Value {
    let made = app
        .post_json(
            &format!("/api/files/{file_id}/shares"),
            &request,
            Some(token),
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    made.json::<Value>().await.unwrap()["share"].clone()
}

/// A GET with no account, as a stranger given the link makes it.
async fn open(url: &str, headers: &[(header::HeaderName, &str)]) -> Response {
    fetch(url, Method::GET, headers).await
}

#[actix_rt::test]
async fn a_link_opens_the_file_to_a_stranger_until_its_owner_revokes_it() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let file_id = app.uploaded(&token, "photo.jpg").await;

    let share = make_share(&app, &token, &file_id, json!({})).await;
    let url = share["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&app.url("/s/")), "{url}");
    assert_eq!(share["file_id"], file_id.as_str());
    assert_eq!(share["variants"], Value::Null, "everything");
    let lasts = chrono::DateTime::parse_from_rfc3339(share["expires_at"].as_str().unwrap())
        .unwrap()
        .to_utc()
        - chrono::Utc::now();
    assert!((lasts.num_hours() - 7 * 24).abs() <= 1, "a week: {lasts}");

    // The listing has the link but never its token.
    let listed = app
        .get_json(&format!("/api/files/{file_id}/shares"), Some(&token))
        .await;
    let shares = listed["shares"].as_array().unwrap();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0]["id"], share["id"]);
    assert!(shares[0].get("url").is_none(), "{listed}");
    let token_in_url = url.rsplit('/').next().unwrap();
    assert!(!listed.to_string().contains(token_in_url));

    // The page: the name, a preview and the downloads, for someone signed out.
    let page = open(&url, &[]).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("photo.jpg"));
    for name in ["original", "thumbnail", "sm", "md"] {
        assert!(html.contains(&format!("data-name=\"{name}\"")), "{name}");
    }

    // The bytes, with the delivery rules.
    let original = open(&format!("{url}/original"), &[]).await;
    assert_eq!(original.status(), StatusCode::OK);
    assert_eq!(header_of(&original, header::CONTENT_TYPE), "image/jpeg");
    assert_eq!(header_of(&original, header::CACHE_CONTROL), "no-cache");
    assert!(header_of(&original, header::CONTENT_DISPOSITION).starts_with("inline"));
    assert_eq!(
        header_of(&original, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    let etag = header_of(&original, header::ETAG);
    assert_eq!(original.bytes().await.unwrap(), fixture("photo.jpg"));
    let again = open(
        &format!("{url}/original"),
        &[(header::IF_NONE_MATCH, &etag)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let part = open(&format!("{url}/original"), &[(header::RANGE, "bytes=0-99")]).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap(), fixture("photo.jpg")[..100]);
    let thumbnail = open(&format!("{url}/thumbnail"), &[]).await;
    assert_eq!(thumbnail.status(), StatusCode::OK);
    assert_eq!(header_of(&thumbnail, header::CONTENT_TYPE), "image/jpeg");
    assert_eq!(
        open(&format!("{url}/webp"), &[]).await.status(),
        StatusCode::NOT_FOUND
    );

    // Revoked: nothing opens, at once.
    let revoked = app
        .delete(
            &format!("/api/shares/{}", share["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    for path in ["", "/original", "/thumbnail"] {
        let refused = open(&format!("{url}{path}"), &[]).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let listed = app
        .get_json(&format!("/api/files/{file_id}/shares"), Some(&token))
        .await;
    assert_eq!(listed["shares"], json!([]));
}

#[actix_rt::test]
async fn a_link_opens_only_what_it_names_while_it_lasts_and_while_its_file_exists() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let file_id = app.uploaded(&token, "photo.jpg").await;
    let request = json!({"variants": ["thumbnail"], "expires_in": "1h"});
    let share = make_share(&app, &token, &file_id, request).await;
    let url = share["url"].as_str().unwrap().to_string();
    assert_eq!(share["variants"], json!(["thumbnail"]));

    assert_eq!(
        open(&format!("{url}/thumbnail"), &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        open(&format!("{url}/original"), &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        open(&format!("{url}/sm"), &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    let page = open(&url, &[]).await.text().await.unwrap();
    assert!(page.contains("data-name=\"thumbnail\""));
    assert!(
        !page.contains("data-name=\"original\""),
        "the page offers only what the link opens"
    );

    // An hour on, it has expired: nothing opens, and the owner no longer sees it.
    app.set_time(
        kiln::entities::file_shares::Column::ExpiresAt,
        chrono::Utc::now() - chrono::Duration::seconds(1),
    )
    .await;
    assert_eq!(
        open(&format!("{url}/thumbnail"), &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(open(&url, &[]).await.status(), StatusCode::NOT_FOUND);
    let listed = app
        .get_json(&format!("/api/files/{file_id}/shares"), Some(&token))
        .await;
    assert_eq!(listed["shares"], json!([]));

    // A link goes with its file.
    let share = make_share(&app, &token, &file_id, json!({})).await;
    let url = share["url"].as_str().unwrap().to_string();
    let deleted = app.delete(&format!("/api/files/{file_id}"), &token).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(open(&url, &[]).await.status(), StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn links_are_refused_for_bad_requests_and_for_other_peoples_files() {
    let app = spawn_app().await;
    let ada = app.signed_in_user("ada@example.com").await;
    let bob = app.signed_in_user("bob@example.com").await;
    let file_id = app.uploaded(&ada, "small.jpg").await;
    let path = format!("/api/files/{file_id}/shares");

    for (body, problem) in [
        (json!({"expires_in": "forever"}), "not a duration"),
        (json!({"expires_in": "400d"}), "over a year"),
        (json!({"variants": []}), "opens nothing"),
        (json!({"variants": ["../original"]}), "not a name"),
    ] {
        let refused = app.post_json(&path, &body, Some(&ada)).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{problem}"
        );
        assert_eq!(error_code(refused).await, "invalid_share", "{problem}");
    }
    let strangers = app.post_json(&path, &json!({}), Some(&bob)).await;
    assert_eq!(strangers.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&path, Some(&bob)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&path, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let share = make_share(&app, &ada, &file_id, json!({})).await;
    let share_path = format!("/api/shares/{}", share["id"].as_str().unwrap());
    assert_eq!(
        app.delete(&share_path, &bob).await.status(),
        StatusCode::NOT_FOUND
    );
    let url = share["url"].as_str().unwrap();
    assert_eq!(
        open(url, &[]).await.status(),
        StatusCode::OK,
        "bob revoked nothing"
    );
    assert_eq!(
        open(&app.url("/s/not-a-token"), &[]).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_rt::test]
async fn a_client_that_asks_for_links_too_often_is_told_to_wait() {
    let app = spawn_app_with([("SHARE_MAX_PER_IP", "3"), ("SHARE_RATE_WINDOW", "1h")]).await;
    let token = app.signed_in_user("ada@example.com").await;
    let file_id = app.uploaded(&token, "small.jpg").await;
    let url = make_share(&app, &token, &file_id, json!({})).await["url"]
        .as_str()
        .unwrap()
        .to_string();
    // Guesses count like hits: a client cannot try tokens without end.
    for path in [format!("{url}/original"), app.url("/s/guess"), url.clone()] {
        let status = open(&path, &[]).await.status();
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    let refused = open(&url, &[]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header_of(&refused, header::RETRY_AFTER).parse().unwrap();
    assert!(retry_after > 0);
    // The owner's own API is not counted against the links.
    let listed = app
        .get(&format!("/api/files/{file_id}/shares"), Some(&token))
        .await;
    assert_eq!(listed.status(), StatusCode::OK);
}

#[actix_rt::test]
async fn a_revoked_link_is_refused_by_every_api_process_from_the_next_request() {
    // Two processes that serve the API over one database: `kiln api`s in the
    // scaled-out setup, two `kiln serve`s on one SQLite file embedded.
    let cluster = Cluster::start(1, None, &[]).await;
    let role = if services_mode() { "api" } else { "serve" };
    let second = KilnProcess::spawn(&[role, "--no-migrate"], cluster.dir.path(), &cluster.env);
    second.wait_for_log("kiln started").await;
    let api = &cluster.client;
    let id = file_id(&cluster.upload("small.jpg").await);
    api.wait_until_processed(&cluster.token, &id).await;
    let made = api
        .post_json(
            &format!("/api/files/{id}/shares"),
            &json!({}),
            Some(&cluster.token),
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let share: Value = made.json().await.unwrap();
    let url = share["share"]["url"].as_str().unwrap();
    let path = url.replacen(&cluster.api.address(), "", 1);
    let addresses = [cluster.api.address(), second.address()];
    for address in &addresses {
        let opened = open(&format!("{address}{path}/original"), &[]).await;
        assert_eq!(opened.status(), StatusCode::OK, "{address}");
    }
    let share_id = share["share"]["id"].as_str().unwrap();
    let revoked = api
        .delete(&format!("/api/shares/{share_id}"), &cluster.token)
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    for address in &addresses {
        let refused = open(&format!("{address}{path}/original"), &[]).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{address}");
    }
}
