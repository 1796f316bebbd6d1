//! Transforms (API.md "Delivery"): any size, fit and format of an image on
//! request, through URLs signed with `TRANSFORM_KEY` (minted by
//! `POST /api/files/{id}/transform-url`) or by the file's owner; made once,
//! cached, evicted beyond `TRANSFORM_CACHE_SIZE`, deleted with their file.

use std::time::Duration;

use image::{GenericImageView, Rgb, RgbImage};
use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::support::api::{
    error_code, fetch, file_id, header_of, metric_total as total, retry_after,
};
use crate::support::app::{TestApp, spawn_app, spawn_app_with};
use crate::support::cluster::Cluster;
use crate::support::fixtures::fixture;
use crate::support::wait::wait_for;

/// Mints a signed URL to a transform of `file_id`.
async fn mint(app: &TestApp, token: &str, file_id: &str, request: Value) -> String {
    let minted = app
        .post_json(
            &format!("/api/files/{file_id}/transform-url"),
            &request,
            Some(token),
        )
        .await;
    assert_eq!(minted.status(), StatusCode::OK);
    let body: Value = minted.json().await.unwrap();
    body["url"].as_str().unwrap().to_owned()
}

/// A GET with no account, as a page's visitor makes it.
async fn open(url: &str, headers: &[(header::HeaderName, &str)]) -> Response {
    fetch(url, Method::GET, headers).await
}

fn decoded(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).expect("a transform decodes")
}

#[actix_rt::test]
async fn a_signed_url_serves_the_transform_to_anyone_and_the_cache_serves_it_again() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let file_id = app.uploaded(&token, "photo.jpg").await;
    let url = mint(
        &app,
        &token,
        &file_id,
        json!({"w": 300, "h": 300, "fit": "cover", "fmt": "webp", "q": 70}),
    )
    .await;
    assert!(
        url.starts_with(&app.url(&format!("/t/{file_id}?"))),
        "{url}"
    );
    assert!(url.contains("sig="), "{url}");

    let first = open(&url, &[]).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header_of(&first, "kiln-cache".parse().unwrap()), "miss");
    assert_eq!(header_of(&first, header::CONTENT_TYPE), "image/webp");
    let cache_control = header_of(&first, header::CACHE_CONTROL);
    assert!(
        cache_control.starts_with("public") && cache_control.contains("immutable"),
        "{cache_control}"
    );
    assert_eq!(header_of(&first, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(header_of(&first, header::CONTENT_DISPOSITION).starts_with("inline"));
    let etag = header_of(&first, header::ETAG);
    let bytes = first.bytes().await.unwrap();
    assert_eq!(decoded(&bytes).dimensions(), (300, 300));

    let again = open(&url, &[]).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(header_of(&again, "kiln-cache".parse().unwrap()), "hit");
    assert_eq!(header_of(&again, header::ETAG), etag);
    assert_eq!(again.bytes().await.unwrap(), bytes);

    let kept = open(&url, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(kept.status(), StatusCode::NOT_MODIFIED);
    let part = open(&url, &[(header::RANGE, "bytes=0-9")]).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap(), bytes[..10]);
    let head = fetch(&url, Method::HEAD, &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header_of(&head, header::CONTENT_LENGTH),
        bytes.len().to_string()
    );

    // The same pixels asked another way are the same cached object.
    let doubled = mint(
        &app,
        &token,
        &file_id,
        json!({"w": 150, "h": 150, "dpr": 2, "fit": "cover", "fmt": "webp", "q": 70}),
    )
    .await;
    let same = open(&doubled, &[]).await;
    assert_eq!(header_of(&same, "kiln-cache".parse().unwrap()), "hit");
}

#[actix_rt::test]
async fn the_owner_needs_no_signature_and_everyone_else_needs_a_valid_one() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let stranger = app.signed_in_user("eve@example.com").await;
    let file_id = app.uploaded(&token, "photo.jpg").await;
    let path = format!("/t/{file_id}?w=120&fmt=png");

    let own = app.get(&path, Some(&token)).await;
    assert_eq!(own.status(), StatusCode::OK);
    assert!(header_of(&own, header::CACHE_CONTROL).starts_with("private"));
    assert_eq!(header_of(&own, header::CONTENT_TYPE), "image/png");
    assert_eq!(decoded(&own.bytes().await.unwrap()).dimensions(), (120, 80));

    let others = app.get(&path, Some(&stranger)).await;
    assert_eq!(others.status(), StatusCode::NOT_FOUND);
    let anonymous = app.get(&path, None).await;
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(anonymous).await, "invalid_signature");

    let url = mint(&app, &token, &file_id, json!({"w": 120})).await;
    assert_eq!(open(&url, &[]).await.status(), StatusCode::OK);
    let tampered = url.replace("w=120", "w=121");
    let refused = open(&tampered, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "invalid_signature");
    let forged = format!("{}AAAA", url);
    assert_eq!(open(&forged, &[]).await.status(), StatusCode::FORBIDDEN);

    let brief = mint(
        &app,
        &token,
        &file_id,
        json!({"w": 120, "expires_in": "1s"}),
    )
    .await;
    assert!(brief.contains("exp="), "{brief}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = open(&brief, &[]).await;
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(expired).await, "expired");
}

#[actix_rt::test]
async fn bad_parameters_are_refused_and_only_images_are_transformed() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let photo = app.uploaded(&token, "photo.jpg").await;
    for query in [
        "w=0",
        "w=4097",
        "h=abc",
        "fit=stretch",
        "fmt=tiff",
        "q=101",
        "dpr=9",
        "g=up",
        "size=3",
        "w=3000&dpr=2",
    ] {
        let refused = app.get(&format!("/t/{photo}?{query}"), Some(&token)).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        assert_eq!(error_code(refused).await, "invalid_transform", "{query}");
    }
    let minted = app
        .post_json(
            &format!("/api/files/{photo}/transform-url"),
            &json!({"w": 99999}),
            Some(&token),
        )
        .await;
    assert_eq!(minted.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let minted = app
        .post_json(
            &format!("/api/files/{photo}/transform-url"),
            &json!({"w": 100, "expires_in": "whenever"}),
            Some(&token),
        )
        .await;
    assert_eq!(minted.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let pdf = app.uploaded(&token, "two-pages.pdf").await;
    let refused = app.get(&format!("/t/{pdf}?w=100"), Some(&token)).await;
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let minted = app
        .post_json(
            &format!("/api/files/{pdf}/transform-url"),
            &json!({"w": 100}),
            Some(&token),
        )
        .await;
    assert_eq!(minted.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unknown = app
        .get(&format!("/t/{}?w=100", uuid::Uuid::new_v4()), Some(&token))
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn fmt_auto_answers_avif_or_webp_to_browsers_that_take_them_and_says_the_answer_varies() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let file_id = app.uploaded(&token, "photo.jpg").await;
    let url = mint(&app, &token, &file_id, json!({"w": 200, "fmt": "auto"})).await;
    let chrome = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
    let older = "image/webp,image/apng,image/*,*/*;q=0.8";
    for (accept, expected) in [
        (chrome, "image/avif"),
        (older, "image/webp"),
        ("image/png,image/*;q=0.8", "image/jpeg"),
    ] {
        let answer = open(&url, &[(header::ACCEPT, accept)]).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(header_of(&answer, header::CONTENT_TYPE), expected);
        assert_eq!(header_of(&answer, header::VARY), "Accept");
    }
}

/// 600 x 200, flat grey, with a busy, colourful patch near the right edge.
fn off_centre_subject() -> Vec<u8> {
    let image = RgbImage::from_fn(600, 200, |x, y| {
        if (470..570).contains(&x) && (50..150).contains(&y) {
            if (x / 10 + y / 10) % 2 == 0 {
                Rgb([230, 40, 40])
            } else {
                Rgb([250, 210, 30])
            }
        } else {
            Rgb([128, 128, 128])
        }
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// How many of a picture's pixels are clearly coloured (not grey).
fn coloured_pixels(image: &image::DynamicImage) -> usize {
    image
        .to_rgb8()
        .pixels()
        .filter(|px| {
            let [r, g, b] = px.0;
            r.max(g).max(b) - r.min(g).min(b) > 60
        })
        .count()
}

#[actix_rt::test]
async fn attention_crops_to_a_subject_off_the_centre() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let accepted = app
        .upload(
            &token,
            "subject.png",
            off_centre_subject(),
            Some("thumbnail"),
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let id = file_id(&accepted.json().await.unwrap());
    let crop = async |gravity: &str| {
        let path = format!("/t/{id}?w=200&h=200&fit=cover&fmt=png&g={gravity}");
        let answer = app.get(&path, Some(&token)).await;
        assert_eq!(answer.status(), StatusCode::OK, "{gravity}");
        let image = decoded(&answer.bytes().await.unwrap());
        assert_eq!(image.dimensions(), (200, 200));
        coloured_pixels(&image)
    };
    let subject = 100 * 100;
    assert!(
        crop("attention").await > subject * 9 / 10,
        "the subject is kept"
    );
    assert_eq!(crop("center").await, 0, "the centre misses it");
}

#[actix_rt::test]
async fn deleting_a_file_deletes_its_cached_transforms() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("ada@example.com").await;
    let file_id = app.uploaded(&token, "photo.jpg").await;
    let urls = [
        mint(&app, &token, &file_id, json!({"w": 100})).await,
        mint(&app, &token, &file_id, json!({"w": 200, "fmt": "png"})).await,
    ];
    for url in &urls {
        assert_eq!(open(url, &[]).await.status(), StatusCode::OK);
    }
    let cached = app.stored_keys(&format!("{user_id}/{file_id}/t")).await;
    assert_eq!(cached.len(), 2, "{cached:?}");

    let deleted = app.delete(&format!("/api/files/{file_id}"), &token).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(
        app.stored_keys(&format!("{user_id}/{file_id}"))
            .await
            .is_empty()
    );
    for url in &urls {
        assert_eq!(open(url, &[]).await.status(), StatusCode::NOT_FOUND);
    }
}

#[actix_rt::test]
async fn the_least_recently_used_transforms_go_when_the_cache_outgrows_its_budget() {
    // Each 200-wide PNG of photo.jpg takes some 30-80 KB: a few fit.
    let app = spawn_app_with([("TRANSFORM_CACHE_SIZE", "200KB")]).await;
    let (token, user_id) = app.user_with_id("ada@example.com").await;
    let file_id = app.uploaded(&token, "photo.jpg").await;
    let mut urls = Vec::new();
    for w in 200..212 {
        let url = mint(&app, &token, &file_id, json!({"w": w, "fmt": "png"})).await;
        let made = open(&url, &[]).await;
        assert_eq!(header_of(&made, "kiln-cache".parse().unwrap()), "miss");
        urls.push(url);
    }
    let prefix = format!("{user_id}/{file_id}/t");
    let kept = wait_for(Duration::from_secs(10), async || {
        let kept = app.stored_keys(&prefix).await;
        match kept.len() < urls.len() {
            true => Ok(kept),
            false => Err(format!("{} cached, none evicted", kept.len())),
        }
    })
    .await;
    assert!(!kept.is_empty(), "the newest stay");
    let newest = open(urls.last().unwrap(), &[]).await;
    assert_eq!(header_of(&newest, "kiln-cache".parse().unwrap()), "hit");
    let oldest = open(&urls[0], &[]).await;
    assert_eq!(oldest.status(), StatusCode::OK, "made again");
    assert_eq!(header_of(&oldest, "kiln-cache".parse().unwrap()), "miss");
}

#[actix_rt::test]
async fn fifty_identical_requests_at_once_make_the_transform_once() {
    // `kiln api` in the scaled-out setup (`kiln serve` embedded), whose
    // /metrics are its own.
    let cluster = Cluster::start(0, None, &[]).await;
    let id = file_id(&cluster.upload("photo.jpg").await);
    let minted = cluster
        .client
        .post_json(
            &format!("/api/files/{id}/transform-url"),
            &json!({"w": 900, "fmt": "png"}),
            Some(&cluster.token),
        )
        .await;
    let url = minted.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let answers = futures::future::join_all((0..50).map(|_| open(&url, &[]))).await;
    let mut bodies = Vec::new();
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::OK);
        bodies.push(answer.bytes().await.unwrap());
    }
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
    let metrics = cluster.client.metrics().await;
    let made = total(
        &metrics,
        "kiln_transforms_made_total",
        &[r#"outcome="made""#],
    );
    assert_eq!(made, 1.0, "{metrics}");
    let answered = total(&metrics, "kiln_transform_requests_total", &[]);
    assert_eq!(answered, 50.0, "{metrics}");
}

#[actix_rt::test]
async fn beyond_its_slots_and_queue_a_process_refuses_transforms_with_retry_after() {
    let cluster = Cluster::start(
        0,
        None,
        &[("TRANSFORM_CONCURRENCY", "1"), ("TRANSFORM_QUEUE", "1")],
    )
    .await;
    let id = file_id(&cluster.upload("photo.jpg").await);
    let token = cluster.token.clone();
    // Large PNGs, each distinct, so each must be made.
    let paths: Vec<String> = (0..8)
        .map(|n| format!("/t/{id}?w={}&fmt=png", 3000 + n))
        .collect();
    let answers = futures::future::join_all(
        paths
            .iter()
            .map(|path| cluster.client.get(path, Some(&token))),
    )
    .await;
    let busy: Vec<&Response> = answers
        .iter()
        .filter(|answer| answer.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let made = answers
        .iter()
        .filter(|answer| answer.status() == StatusCode::OK)
        .count();
    assert!(
        !busy.is_empty() && made >= 1,
        "{made} made, {} busy",
        busy.len()
    );
    assert_eq!(made + busy.len(), paths.len());
    assert!(busy.iter().all(|answer| retry_after(answer) >= 1));
}

/// Uploads animated.gif for a new account: its token and the file's id.
async fn with_animation(app: &TestApp) -> (String, String) {
    let token = app.signed_in_user("ada@example.com").await;
    let accepted = app
        .upload(
            &token,
            "animated.gif",
            fixture("animated.gif"),
            Some("thumbnail"),
        )
        .await;
    (token, file_id(&accepted.json().await.unwrap()))
}

#[actix_rt::test]
async fn an_animation_stays_animated_as_gif_or_webp_and_too_many_frames_are_refused() {
    use image::AnimationDecoder;
    let app = spawn_app_with([("MAX_FRAMES", "1")]).await;
    let (token, id) = with_animation(&app).await;
    // The fixture has two frames: refused, as the webp processor does.
    let refused = app
        .get(&format!("/t/{id}?w=40&fmt=gif"), Some(&token))
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_code(refused).await.contains("unsupported"));

    let app = spawn_app().await;
    let (token, id) = with_animation(&app).await;
    let gif = app
        .get(&format!("/t/{id}?w=40&fmt=gif"), Some(&token))
        .await;
    assert_eq!(gif.status(), StatusCode::OK);
    let bytes = gif.bytes().await.unwrap();
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&bytes))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].buffer().width(), 40);

    let webp = app
        .get(&format!("/t/{id}?w=40&fmt=webp"), Some(&token))
        .await;
    let bytes = webp.bytes().await.unwrap();
    let decoder = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&bytes)).unwrap();
    assert!(decoder.has_animation());
}

/// The width and height an AVIF's `ispe` box declares.
fn avif_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[4..12], b"ftypavif", "an AVIF");
    let at = bytes
        .windows(4)
        .position(|w| w == b"ispe")
        .expect("an ispe box");
    let word = |from: usize| u32::from_be_bytes(bytes[from..from + 4].try_into().unwrap());
    (word(at + 8), word(at + 12))
}

#[actix_rt::test]
async fn thumbnails_resizes_and_transforms_can_be_avif() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let id = app.uploaded(&token, "photo.jpg").await;
    for request in [
        json!({"processor": "thumbnail", "variant": "thumb_avif", "options": {"format": "avif"}}),
        json!({"processor": "resize", "variant": "small_avif", "options": {"width": 320, "format": "avif"}}),
    ] {
        let queued = app.process(&token, &id, &request).await;
        assert_eq!(queued.status(), StatusCode::ACCEPTED, "{request}");
    }
    let details = app.wait_until_processed(&token, &id).await;
    for (name, size) in [("thumb_avif", (300, 200)), ("small_avif", (320, 213))] {
        let listed = crate::support::api::variant(&details, name);
        assert_eq!(listed["content_type"], "image/avif", "{details}");
        let bytes = app
            .download(&token, &format!("/api/files/{id}/variants/{name}"))
            .await;
        assert_eq!(avif_size(&bytes), size, "{name}");
    }
    let avif = app
        .get(&format!("/t/{id}?w=160&fmt=avif"), Some(&token))
        .await;
    assert_eq!(avif.status(), StatusCode::OK);
    assert_eq!(header_of(&avif, header::CONTENT_TYPE), "image/avif");
    assert_eq!(avif_size(&avif.bytes().await.unwrap()), (160, 107));
}
