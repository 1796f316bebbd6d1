//! Bytes the way the web consumes them (API.md "Delivery"): download links
//! that stay the same for a while, so browsers and CDNs can keep what they
//! served, and, on Kiln's own route, strong `ETag`s with 304s, one `Range`
//! with 206 or 416, and `HEAD`.

use reqwest::{Method, StatusCode, header};

use crate::support::api::{fetch, file_id, header_of};
use crate::support::app::{TestApp, spawn_app};
use crate::support::fixtures::fixture;

/// Where `path` (a 302 route) sends the caller. The caller's browser may keep
/// the redirect, for itself alone, while the link it names lasts.
async fn location(app: &TestApp, token: &str, path: &str) -> String {
    let redirect = app.get(path, Some(token)).await;
    assert_eq!(redirect.status(), StatusCode::FOUND, "{path}");
    let cache_control = header_of(&redirect, header::CACHE_CONTROL);
    let max_age: i64 = cache_control
        .strip_prefix("private, max-age=")
        .and_then(|age| age.parse().ok())
        .unwrap_or_else(|| panic!("{path}: {cache_control}"));
    assert!(max_age > 0, "{path}: {cache_control}");
    assert_eq!(header_of(&redirect, header::VARY), "Authorization, Cookie");
    redirect.headers()["location"].to_str().unwrap().to_string()
}

#[actix_rt::test]
async fn repeated_requests_for_a_file_or_variant_are_sent_to_the_same_url() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let id = file_id(&app.upload_fixture(&token, "photo.jpg").await);
    app.wait_until_processed(&token, &id).await;
    for path in [
        format!("/api/files/{id}/content"),
        format!("/api/files/{id}/variants/thumbnail"),
    ] {
        let first = location(&app, &token, &path).await;
        let second = location(&app, &token, &path).await;
        assert_eq!(first, second, "{path}");
        let link = app
            .get_json(&format!("{path}?redirect=false"), Some(&token))
            .await;
        assert_eq!(link["url"], first.as_str(), "{path}");
        let served = reqwest::get(&first).await.unwrap();
        assert_eq!(served.status(), StatusCode::OK, "{path}");
    }
}

#[actix_rt::test]
async fn a_download_has_a_strong_etag_and_a_client_holding_it_gets_304() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let accepted = app.upload_fixture(&token, "photo.jpg").await;
    let id = file_id(&accepted);
    let details = app.wait_until_processed(&token, &id).await;
    let url = location(&app, &token, &format!("/api/files/{id}/content")).await;

    let response = fetch(&url, Method::GET, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = header_of(&response, header::ETAG);
    let sha256 = details["file"]["sha256"].as_str().unwrap();
    // Kiln's route tags the bytes with their SHA-256; S3 with its own hash.
    if !app.uses_services() {
        assert_eq!(etag, format!("\"{sha256}\""));
    }
    let cache_control = header_of(&response, header::CACHE_CONTROL);
    assert!(cache_control.contains("immutable"), "{cache_control}");
    if !app.uses_services() {
        assert_eq!(header_of(&response, header::ACCEPT_RANGES), "bytes");
    }
    assert_eq!(
        response.bytes().await.unwrap().to_vec(),
        fixture("photo.jpg")
    );

    // The S3 server the tests run (s3s-fs) answers no conditional GET; AWS
    // S3 and MinIO do. The tag and the caching above are what Kiln asks of it.
    if app.uses_services() {
        return;
    }
    let again = fetch(&url, Method::GET, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_of(&again, header::ETAG), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = fetch(&url, Method::GET, &[(header::IF_NONE_MATCH, "\"stale\"")]).await;
    assert_eq!(other.status(), StatusCode::OK);

    // A variant's tag is its own bytes' hash.
    let thumbnail = location(&app, &token, &format!("/api/files/{id}/variants/thumbnail")).await;
    let variant = fetch(&thumbnail, Method::GET, &[]).await;
    let variant_etag = header_of(&variant, header::ETAG);
    let bytes = variant.bytes().await.unwrap();
    let digest = sha2_hex(&bytes);
    assert_eq!(variant_etag, format!("\"{digest}\""));
}

fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[actix_rt::test]
async fn one_range_is_served_as_206_and_a_range_past_the_end_as_416() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let id = file_id(&app.upload_fixture(&token, "photo.jpg").await);
    let url = location(&app, &token, &format!("/api/files/{id}/content")).await;
    let original = fixture("photo.jpg");

    let part = fetch(&url, Method::GET, &[(header::RANGE, "bytes=0-99")]).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_of(&part, header::CONTENT_RANGE),
        format!("bytes 0-99/{}", original.len())
    );
    assert_eq!(part.bytes().await.unwrap().to_vec(), original[..100]);

    let tail = fetch(&url, Method::GET, &[(header::RANGE, "bytes=-10")]).await;
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        tail.bytes().await.unwrap().to_vec(),
        original[original.len() - 10..]
    );

    let past = format!("bytes={}-", original.len() + 10);
    let refused = fetch(&url, Method::GET, &[(header::RANGE, &past)]).await;
    assert_eq!(refused.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    if !app.uses_services() {
        assert_eq!(
            header_of(&refused, header::CONTENT_RANGE),
            format!("bytes */{}", original.len())
        );
    }
}

#[actix_rt::test]
async fn head_answers_with_the_headers_and_no_body() {
    let app = spawn_app().await;
    if app.uses_services() {
        // An S3 link is signed for GET alone.
        return;
    }
    let token = app.signed_in_user("ada@example.com").await;
    let id = file_id(&app.upload_fixture(&token, "photo.jpg").await);
    let url = location(&app, &token, &format!("/api/files/{id}/content")).await;
    let response = fetch(&url, Method::HEAD, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_of(&response, header::CONTENT_LENGTH),
        fixture("photo.jpg").len().to_string()
    );
    assert_eq!(header_of(&response, header::CONTENT_TYPE), "image/jpeg");
    assert_eq!(
        header_of(&response, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    assert!(response.headers().contains_key(header::ETAG));
    assert!(response.bytes().await.unwrap().is_empty());
}

/// The mean colour of a fixture, each pixel weighted by its opacity, and its
/// mean opacity, all 0..1: what a ThumbHash keeps as its average.
fn mean_colour(name: &str) -> [f64; 4] {
    let image = image::load_from_memory(&fixture(name)).unwrap().to_rgba8();
    let mut sums = [0.0_f64; 4];
    for pixel in image.pixels() {
        let alpha = f64::from(pixel[3]) / 255.0;
        for (sum, channel) in sums.iter_mut().zip(&pixel.0[..3]) {
            *sum += alpha * f64::from(*channel) / 255.0;
        }
        sums[3] += alpha;
    }
    let pixels = f64::from(image.width() * image.height());
    [
        sums[0] / sums[3],
        sums[1] / sums[3],
        sums[2] / sums[3],
        sums[3] / pixels,
    ]
}

/// The average colour and opacity a file's `thumbhash` paints, 0..1.
fn placeholder_average(file: &serde_json::Value) -> [f64; 4] {
    use base64::Engine as _;
    let thumbhash = file["thumbhash"]
        .as_str()
        .unwrap_or_else(|| panic!("{file}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(thumbhash)
        .unwrap();
    assert!(bytes.len() <= 30, "a placeholder of {} bytes", bytes.len());
    let (r, g, b, a) = thumbhash::thumb_hash_to_average_rgba(&bytes).unwrap();
    [r, g, b, a].map(f64::from)
}

#[actix_rt::test]
async fn a_processed_image_carries_a_thumbhash_that_looks_like_it() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    for (fixture_name, processors) in [
        ("photo.jpg", None),
        ("alpha.png", None),
        // Without a thumbnail job, the webp job learns it.
        ("photo.jpg", Some("webp")),
    ] {
        let bytes = fixture(fixture_name);
        let accepted = app.upload(&token, fixture_name, bytes, processors).await;
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
        let id = file_id(&accepted.json().await.unwrap());
        let details = app.wait_until_processed(&token, &id).await;
        let painted = placeholder_average(&details["file"]);
        let real = mean_colour(fixture_name);
        for (channel, (painted, real)) in painted.iter().zip(real).enumerate() {
            assert!(
                (painted - real).abs() < 0.06,
                "{fixture_name} ({processors:?}) channel {channel}: {painted:.3} painted, {real:.3} real"
            );
        }
        // The list carries it too, for a grid to paint.
        let listed = app.get_json("/api/files", Some(&token)).await;
        let entry = listed["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|file| file["id"] == id.as_str())
            .unwrap();
        assert_eq!(entry["thumbhash"], details["file"]["thumbhash"]);
    }
}
