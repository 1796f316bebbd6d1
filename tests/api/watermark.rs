//! Image watermarks from a user's side: one of their files (a PNG logo) marks
//! another; a mark that is someone else's, missing or a PDF is refused before a job
//! is queued; a mark deleted or unusable by the time the job runs ends the job dead
//! with a reason; and `kiln process --watermark` does the same with local files.

use image::RgbImage;
use kiln::actors::dispatcher::JobsQueued;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::{error_code, file_id, upload_form, variant};
use crate::support::app::{TestApp, spawn_app, spawn_app_with};
use crate::support::cli::kiln;
use crate::support::fixtures::{fixture, fixture_path};
use kiln::processing::JobSpec;

const MAGENTA: [u8; 3] = [255, 0, 255];

/// Whether two colours are within `tolerance` on every channel.
fn close(actual: [u8; 3], expected: [u8; 3], tolerance: u8) -> bool {
    actual
        .iter()
        .zip(expected)
        .all(|(a, e)| a.abs_diff(e) <= tolerance)
}

async fn ask_for_watermark(
    app: &TestApp,
    token: &str,
    file_id: &str,
    options: Value,
) -> reqwest::Response {
    app.process(
        token,
        file_id,
        &json!({ "processor": "watermark", "options": options }),
    )
    .await
}

/// Checks photo.jpg (1200x800, margin 16) carries logo.png (160x80, its own size,
/// at opacity 1) in the top-left corner and nothing in the bottom-right one.
fn assert_logo_top_left(marked: &RgbImage) {
    let original = image::load_from_memory(&fixture("photo.jpg"))
        .unwrap()
        .to_rgb8();
    assert_eq!(marked.dimensions(), original.dimensions());
    let at = |x: u32, y: u32| (marked.get_pixel(x, y).0, original.get_pixel(x, y).0);
    // The logo's opaque magenta, 8 px inside its box at (16, 16).
    let (mark, _) = at(16 + 26, 16 + 36);
    assert!(close(mark, MAGENTA, 2), "opaque part: {mark:?}");
    // Its half-transparent green over the photo's red marker block: half of each.
    let (mixed, below) = at(16 + 126, 16 + 36);
    let expected = [0, 1, 2].map(|c| ((u16::from(below[c]) + [0, 255, 0][c]) / 2) as u8);
    assert!(
        close(mixed, expected, 3),
        "translucent part: {mixed:?} over {below:?}"
    );
    // Its transparent border leaves the photo as it was.
    let (border, below) = at(16 + 2, 16 + 2);
    assert!(close(border, below, 2), "border: {border:?} vs {below:?}");
    let (corner, below) = at(1100, 700);
    assert!(close(corner, below, 2), "the opposite corner changed");
}

#[actix_rt::test]
async fn a_logo_the_user_uploaded_marks_a_photo_at_the_anchor_asked_for() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("logo@example.com").await;
    let logo = app.uploaded(&token, "logo.png").await;
    let photo = app.uploaded(&token, "photo.jpg").await;

    let options = json!({ "image": logo, "position": "top-left", "opacity": 1, "format": "png" });
    let response = ask_for_watermark(&app, &token, &photo, options).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let details = app.wait_until_processed(&token, &photo).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    let variant = variant(&details, "watermark");
    assert_eq!(variant["content_type"], "image/png");
    assert_eq!(
        (variant["width"].as_u64(), variant["height"].as_u64()),
        (Some(1200), Some(800))
    );

    let marked = app
        .download(&token, &format!("/api/files/{photo}/variants/watermark"))
        .await;
    assert_logo_top_left(&image::load_from_memory(&marked).unwrap().to_rgb8());
}

/// Uploads photo.jpg with the given `processors` and `options` form fields.
async fn upload_with_options(
    app: &TestApp,
    token: &str,
    processors: Option<&str>,
    options: &str,
) -> reqwest::Response {
    let mut fields = vec![("options", options)];
    fields.extend(processors.map(|p| ("processors", p)));
    app.post_upload(
        token,
        upload_form("photo.jpg", fixture("photo.jpg"), &fields),
    )
    .await
}

#[actix_rt::test]
async fn an_upload_can_carry_options_for_the_processors_it_names() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("upload-options@example.com").await;
    let (stranger, _) = app.user_with_id("upload-stranger@example.com").await;
    let logo = app.uploaded(&token, "logo.png").await;
    let theirs = app.uploaded(&stranger, "logo.png").await;
    let stored_before = app.stored_keys(&user_id).await.len();

    let options = json!({
        "watermark": { "image": logo, "position": "top-left", "opacity": 1, "format": "png" },
        "thumbnail": { "width": 120, "height": 120 },
    });
    let response = upload_with_options(
        &app,
        &token,
        Some("thumbnail,watermark"),
        &options.to_string(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Value = response.json().await.unwrap();
    let photo = file_id(&accepted);
    let details = app.wait_until_processed(&token, &photo).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    let thumbnail = variant(&details, "thumbnail");
    assert_eq!(
        (thumbnail["width"].as_u64(), thumbnail["height"].as_u64()),
        (Some(120), Some(80))
    );
    let marked = app
        .download(&token, &format!("/api/files/{photo}/variants/watermark"))
        .await;
    assert_logo_top_left(&image::load_from_memory(&marked).unwrap().to_rgb8());

    // Refused before anything is recorded, and the stored original goes again.
    let stored_after_one = app.stored_keys(&user_id).await.len();
    assert!(stored_after_one > stored_before);
    for (processors, options, code) in [
        (
            Some("watermark"),
            json!({ "watermark": { "image": theirs } }).to_string(),
            "invalid_watermark_image",
        ),
        (
            Some("thumbnail"),
            json!({ "watermark": { "text": "x" } }).to_string(),
            "invalid_options",
        ),
        (
            Some("watermark"),
            json!({ "watermark": { "text": "" } }).to_string(),
            "invalid_options",
        ),
        (
            None,
            json!({ "thumbnail": { "width": 10 } }).to_string(),
            "invalid_options",
        ),
        (
            Some("thumbnail"),
            "{not json".to_string(),
            "invalid_options",
        ),
    ] {
        let response = upload_with_options(&app, &token, processors, &options).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{options}"
        );
        assert_eq!(error_code(response).await, code, "{options}");
    }
    assert_eq!(app.stored_keys(&user_id).await.len(), stored_after_one);
    let files = app.get_json("/api/files", Some(&token)).await;
    assert_eq!(files["files"].as_array().unwrap().len(), 2);
}

#[actix_rt::test]
async fn a_mark_that_is_not_one_of_your_images_is_a_422_and_queues_nothing() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("marker@example.com").await;
    let (stranger, _) = app.user_with_id("stranger@example.com").await;
    let photo = app.uploaded(&token, "photo.jpg").await;
    let pdf = app.uploaded(&token, "two-pages.pdf").await;
    let theirs = app.uploaded(&stranger, "logo.png").await;
    let nobodys = uuid::Uuid::now_v7().to_string();

    let refusal = async |image: &str| {
        let response = ask_for_watermark(&app, &token, &photo, json!({ "image": image })).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{image}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_watermark_image", "{body}");
        body["error"]["message"].as_str().unwrap().to_string()
    };
    // Someone else's file is answered exactly as a file that does not exist.
    let other_users = refusal(&theirs).await;
    let missing = refusal(&nobodys).await;
    assert_eq!(
        other_users.replace(&theirs, "ID"),
        missing.replace(&nobodys, "ID")
    );
    assert_eq!(
        missing,
        format!("the watermark image {nobodys} is not one of your files")
    );
    let not_an_image = refusal(&pdf).await;
    assert!(
        not_an_image.contains("must be an image") && not_an_image.contains("PDF"),
        "{not_an_image}"
    );
    let not_an_id = refusal("logo.png").await;
    assert!(not_an_id.contains("`image` must be the id"), "{not_an_id}");

    let both = ask_for_watermark(
        &app,
        &token,
        &photo,
        json!({ "image": nobodys, "text": "Kiln" }),
    )
    .await;
    assert_eq!(both.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(both).await, "invalid_options");

    let details = app
        .get_json(&format!("/api/files/{photo}"), Some(&token))
        .await;
    assert!(
        details["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["processor"] != "watermark"),
        "{details}"
    );
}

#[actix_rt::test]
async fn a_job_whose_mark_was_deleted_before_it_ran_is_dead_saying_so() {
    // The job is queued in the catalog but published only after the mark is gone,
    // so the runner meets the deletion every time; the reconciler must not publish
    // it earlier.
    let app = spawn_app_with(&[("REQUEUE_AFTER", "1h")]).await;
    let (token, user_id) = app.user_with_id("deleted@example.com").await;
    let logo = app.uploaded(&token, "logo.png").await;
    let photo = app.uploaded(&token, "photo.jpg").await;
    let mark = JobSpec {
        processor: "watermark".into(),
        variant: "watermark".into(),
        options: json!({ "image": logo }),
    };
    let queued = app
        .add_job(user_id.parse().unwrap(), photo.parse().unwrap(), mark)
        .await;
    assert_eq!(
        app.delete(&format!("/api/files/{logo}"), &token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    app.actors
        .dispatcher
        .as_ref()
        .expect("serve publishes jobs")
        .send(JobsQueued {
            job_ids: vec![queued],
        })
        .await
        .unwrap();

    let job_id = queued.to_string();
    let dead = app
        .wait_for_job(&token, &job_id, |job| job["status"] == "dead")
        .await;
    assert_eq!(dead["attempts"], 1, "a missing mark is not retried: {dead}");
    assert_eq!(
        dead["error"],
        format!("the watermark image {logo} no longer exists")
    );
    let details = app.wait_until_processed(&token, &photo).await;
    assert_eq!(details["file"]["status"], "failed");
}

#[actix_rt::test]
async fn a_mark_too_large_to_decode_is_refused_like_an_original_would_be() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("bomb@example.com").await;
    // The bomb's own thumbnail dies; as a mark it is still an image, and only its
    // original is read, so the job is accepted and dies when it decodes the header.
    let bomb = app.uploaded(&token, "bomb.png").await;
    let photo = app.uploaded(&token, "photo.jpg").await;
    let response = ask_for_watermark(&app, &token, &photo, json!({ "image": bomb })).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let job_id = body["job"]["id"].as_str().unwrap().to_string();
    let dead = app
        .wait_for_job(&token, &job_id, |job| job["status"] == "dead")
        .await;
    let error = dead["error"].as_str().unwrap().to_string();
    assert!(
        error.starts_with("the watermark image cannot be used") && error.contains("pixels"),
        "{error}"
    );
}

fn kiln_process(args: &[&str]) -> std::process::Output {
    kiln(&[&["process"], args].concat()).run()
}

#[test]
fn kiln_process_draws_the_mark_given_with_watermark() {
    let out = tempfile::tempdir().unwrap();
    let marked = out.path().join("marked.png");
    let output = kiln_process(&[
        "watermark",
        &fixture_path("photo.jpg"),
        marked.to_str().unwrap(),
        "--watermark",
        &fixture_path("logo.png"),
        "--options",
        r#"{"position":"top-left","opacity":1,"format":"png"}"#,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_logo_top_left(&image::open(&marked).unwrap().to_rgb8());

    for (args, reason) in [
        (
            vec![
                "watermark",
                "in.jpg",
                "out.png",
                "--options",
                r#"{"image":"logo"}"#,
            ],
            "--watermark",
        ),
        (
            vec![
                "watermark",
                "in.jpg",
                "out.png",
                "--watermark",
                "logo.png",
                "--options",
                r#"{"text":"Kiln"}"#,
            ],
            "leave `text` out",
        ),
        (
            vec!["thumbnail", "in.jpg", "out.png", "--watermark", "logo.png"],
            "for the watermark processor",
        ),
    ] {
        let output = kiln_process(&args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
}
