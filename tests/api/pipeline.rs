//! The pipeline from a user's side: upload, processing to variants, downloads,
//! refusals, the files and jobs API, and status events.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::{error_code, file_id, job_in, variant, variant_names};
use crate::support::app::{spawn_app, spawn_app_with};
use crate::support::cluster::Cluster;
use crate::support::fixtures::fixture;
use crate::support::wait::wait_until;

fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(bytes).expect("a variant decodes");
    (image.width(), image.height())
}

#[actix_rt::test]
async fn an_uploaded_photo_becomes_ready_with_a_thumbnail_and_the_sizes_narrower_than_it() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("photos@example.com").await;
    let accepted = app.upload_fixture(&token, "photo.jpg").await;
    let file = &accepted["file"];
    assert_eq!(file["status"], "processing");
    assert_eq!(file["content_type"], "image/jpeg");
    assert_eq!(file["filename"], "photo.jpg");
    assert_eq!(file["size_bytes"], fixture("photo.jpg").len());
    assert_eq!(file["width"], 1200);
    assert_eq!(file["height"], 800);
    let expected_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(fixture("photo.jpg")))
    };
    assert_eq!(file["sha256"], expected_sha);
    let processors: Vec<&str> = accepted["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["processor"].as_str().unwrap())
        .collect();
    assert_eq!(processors, ["thumbnail", "resize"]);

    let id = file["id"].as_str().unwrap();
    let details = app.wait_until_processed(&token, id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    assert!(
        details["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] == "succeeded")
    );
    assert_eq!(
        variant_names(&details),
        ["md", "sm", "thumbnail"],
        "1200 px wide: no lg (1920) or xl (2560)"
    );

    let thumbnail = app
        .download(&token, &format!("/api/files/{id}/variants/thumbnail"))
        .await;
    assert_eq!(dimensions(&thumbnail), (300, 200));
    assert_eq!(variant(&details, "thumbnail")["width"], 300);
    let sm = app
        .download(&token, &format!("/api/files/{id}/variants/sm"))
        .await;
    assert_eq!(dimensions(&sm).0, 640);
    let md = app
        .download(&token, &format!("/api/files/{id}/variants/md"))
        .await;
    assert_eq!(dimensions(&md).0, 1024);
    assert_eq!(
        app.download(&token, &format!("/api/files/{id}/content"))
            .await,
        fixture("photo.jpg")
    );

    // The original by its name; each variant by its name and the start of
    // its bytes' SHA-256 (a variant's object is never overwritten).
    let prefix = format!("{user_id}/{id}/");
    let mut names: Vec<String> = app
        .stored_keys(&user_id)
        .await
        .iter()
        .map(|key| {
            key.strip_prefix(&prefix)
                .expect("under the file")
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names[1], "original.jpg", "{names:?}");
    for (name, variant) in [
        (&names[0], "md"),
        (&names[2], "sm"),
        (&names[3], "thumbnail"),
    ] {
        let hash = name
            .strip_prefix(&format!("{variant}."))
            .and_then(|rest| rest.strip_suffix(".jpg"))
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
    }
}

/// What `FileStatus::from_jobs` makes of a file's jobs, as a client reads them.
fn status_its_jobs_make(details: &Value) -> &'static str {
    let statuses: Vec<&str> = details["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["status"].as_str().unwrap())
        .collect();
    if statuses.contains(&"dead") {
        "failed"
    } else if statuses.iter().all(|status| *status == "succeeded") {
        "ready"
    } else {
        "processing"
    }
}

#[actix_rt::test]
async fn a_files_details_are_one_moment_while_its_jobs_end_one_after_another() {
    let app = spawn_app().await;
    let token = app.signed_in_user("moments@example.com").await;
    let accepted = app
        .upload_accepted(
            &token,
            "photo.jpg",
            fixture("photo.jpg"),
            Some("thumbnail,resize,webp"),
        )
        .await;
    let path = format!("/api/files/{}", file_id(&accepted));
    // Three readers as fast as they can, so that some answer is read while a
    // job ends: the file's status and its jobs must agree in every one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let reader = || async {
        let mut answers = 0;
        loop {
            assert!(tokio::time::Instant::now() < deadline, "still processing");
            let details = app.get_json(&path, Some(&token)).await;
            answers += 1;
            assert_eq!(
                details["file"]["status"],
                status_its_jobs_make(&details),
                "answer {answers}: {details}"
            );
            if details["file"]["status"] != "processing" {
                return answers;
            }
        }
    };
    let (first, second, third) = tokio::join!(reader(), reader(), reader());
    assert!(
        first + second + third > 3,
        "no reader saw the file processing: nothing was checked"
    );
}

#[actix_rt::test]
async fn a_pdf_gets_a_page_preview_and_its_page_count() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("docs@example.com").await;
    let accepted = app.upload_fixture(&token, "two-pages.pdf").await;
    assert_eq!(accepted["jobs"][0]["processor"], "pdf_thumbnail");
    let id = &file_id(&accepted);
    let details = app.wait_until_processed(&token, id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    assert_eq!(details["file"]["page_count"], 2);
    let preview = app
        .download(&token, &format!("/api/files/{id}/variants/pdf_thumbnail"))
        .await;
    let (width, height) = dimensions(&preview);
    assert!(
        width <= 300 && height <= 300 && width.max(height) == 300,
        "{width}x{height}"
    );
}

#[actix_rt::test]
async fn a_file_that_is_not_an_image_or_pdf_is_refused_whatever_its_name_and_nothing_is_kept() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("spoof@example.com").await;
    let response = app
        .upload(&token, "cat.jpg", fixture("spoofed.jpg"), None)
        .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(response).await, "unsupported_type");
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    let response = app.upload(&token, "logo.svg", svg, None).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(app.stored_keys(&user_id).await.is_empty());
    let files = app.get_json("/api/files", Some(&token)).await;
    assert_eq!(files["files"], json!([]));
}

#[actix_rt::test]
async fn a_processor_that_cannot_take_the_file_is_a_422_and_nothing_is_kept() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("mismatch@example.com").await;
    let response = app
        .upload(
            &token,
            "doc.pdf",
            fixture("two-pages.pdf"),
            Some("thumbnail"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("thumbnail cannot process"),
        "{body}"
    );
    assert!(app.stored_keys(&user_id).await.is_empty());
    let files = app.get_json("/api/files", Some(&token)).await;
    assert_eq!(files["files"], json!([]));
}

#[actix_rt::test]
async fn an_upload_over_the_size_limit_is_a_413_and_leaves_nothing_behind() {
    let app = spawn_app_with(&[("MAX_UPLOAD_SIZE", "16KiB")]).await;
    let (token, user_id) = app.user_with_id("big@example.com").await;
    let response = app
        .upload(&token, "photo.jpg", fixture("photo.jpg"), None)
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(response).await, "file_too_large");
    // Larger than one multipart part, so a partly sent upload must be aborted.
    let huge = [fixture("photo.jpg"), vec![0u8; 9 * 1024 * 1024]].concat();
    let app_large = spawn_app_with(&[("MAX_UPLOAD_SIZE", "8MiB")]).await;
    let (token_large, user_large) = app_large.user_with_id("huge@example.com").await;
    let response = app_large.upload(&token_large, "huge.jpg", huge, None).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.stored_keys(&user_id).await.is_empty());
    assert!(app_large.stored_keys(&user_large).await.is_empty());
    let files = app_large.get_json("/api/files", Some(&token_large)).await;
    assert_eq!(files["files"], json!([]));
}

#[actix_rt::test]
async fn an_empty_upload_or_one_without_a_file_is_a_400() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("empty@example.com").await;
    let response = app.upload(&token, "nothing.jpg", Vec::new(), None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "empty_file");
    let form = reqwest::multipart::Form::new().text("processors", "thumbnail");
    let response = app
        .client
        .post(app.url("/api/upload"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "missing_file");
    let response = app
        .client
        .post(app.url("/api/upload"))
        .bearer_auth(&token)
        .body("raw")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "invalid_multipart");
    let anonymous = app
        .client
        .post(app.url("/api/upload"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// Uploads a fixture and waits for it to end `failed`; returns the dead job.
async fn dead_job_for(fixture_name: &str) -> Value {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("broken@example.com").await;
    let accepted = app.upload_fixture(&token, fixture_name).await;
    let details = app.wait_until_processed(&token, &file_id(&accepted)).await;
    assert_eq!(details["file"]["status"], "failed", "{details}");
    let dead = job_in(&details, "dead");
    assert_eq!(dead["attempts"], 1, "a permanent error is not retried");
    dead
}

#[actix_rt::test]
async fn a_truncated_jpeg_ends_in_a_dead_job_with_a_reason() {
    let dead = dead_job_for("truncated.jpg").await;
    let reason = dead["error"].as_str().unwrap();
    assert!(
        reason.contains("corrupt") || reason.contains("truncated"),
        "{reason}"
    );
}

#[actix_rt::test]
async fn a_small_png_claiming_20000_by_20000_is_refused_before_decoding() {
    let dead = dead_job_for("bomb.png").await;
    assert!(dead["error"].as_str().unwrap().contains("pixels"), "{dead}");
}

#[actix_rt::test]
async fn an_encrypted_pdf_ends_in_a_dead_job_saying_so() {
    let dead = dead_job_for("encrypted.pdf").await;
    assert!(
        dead["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("encrypt"),
        "{dead}"
    );
}

#[actix_rt::test]
async fn another_users_file_and_jobs_answer_404_everywhere() {
    let app = spawn_app().await;
    let (owner, _) = app.user_with_id("owner@example.com").await;
    let (stranger, _) = app.user_with_id("stranger@example.com").await;
    let accepted = app.upload_fixture(&owner, "small.jpg").await;
    let id = &file_id(&accepted);
    let job_id = accepted["jobs"][0]["id"].as_str().unwrap();
    for path in [
        format!("/api/files/{id}"),
        format!("/api/files/{id}/content"),
        format!("/api/files/{id}/variants/thumbnail"),
        format!("/api/files/{id}/events"),
        format!("/api/jobs/{job_id}"),
    ] {
        let response = app.get(&path, Some(&stranger)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(response).await, "not_found");
    }
    let process = app
        .process(&stranger, id, &json!({ "processor": "thumbnail" }))
        .await;
    assert_eq!(process.status(), StatusCode::NOT_FOUND);
    let retry = app.retry_job(&stranger, job_id).await;
    assert_eq!(retry.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete(&format!("/api/files/{id}"), &stranger)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/files/{id}"), Some(&owner))
            .await
            .status(),
        StatusCode::OK
    );
}

#[actix_rt::test]
async fn deleting_a_file_removes_its_objects_and_rows() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("delete@example.com").await;
    let accepted = app.upload_fixture(&token, "photo.jpg").await;
    let id = &file_id(&accepted);
    app.wait_until_processed(&token, id).await;
    assert_eq!(app.stored_keys(&user_id).await.len(), 4);
    assert_eq!(
        app.delete(&format!("/api/files/{id}"), &token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(app.stored_keys(&user_id).await.is_empty());
    assert_eq!(
        app.get(&format!("/api/files/{id}"), Some(&token))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let job_id = accepted["jobs"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/jobs/{job_id}"), Some(&token))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_rt::test]
async fn files_are_listed_newest_first_in_pages_with_a_status_filter() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("lister@example.com").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let accepted = app.upload_fixture(&token, "small.jpg").await;
        ids.push(file_id(&accepted));
    }
    let broken = app.upload_fixture(&token, "truncated.jpg").await;
    let broken_id = file_id(&broken);
    for id in ids.iter().chain([&broken_id]) {
        app.wait_until_processed(&token, id).await;
    }
    let first = app.get_json("/api/files?limit=2", Some(&token)).await;
    let page: Vec<&str> = first["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [broken_id.as_str(), ids[2].as_str()]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get_json(&format!("/api/files?limit=2&cursor={cursor}"), Some(&token))
        .await;
    let page: Vec<&str> = second["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [ids[1].as_str(), ids[0].as_str()]);
    assert!(second["next_cursor"].is_null());
    let failed = app.get_json("/api/files?status=failed", Some(&token)).await;
    assert_eq!(failed["files"].as_array().unwrap().len(), 1);
    for bad in [
        "/api/files?limit=0",
        "/api/files?limit=101",
        "/api/files?status=lost",
        "/api/files?cursor=zzz",
    ] {
        let response = app.get(bad, Some(&token)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[actix_rt::test]
async fn more_processing_can_be_asked_for_and_bad_requests_are_422() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("process@example.com").await;
    let accepted = app.upload_fixture(&token, "photo.jpg").await;
    let id = &file_id(&accepted);
    app.wait_until_processed(&token, id).await;
    let path = format!("/api/files/{id}/process");
    let response = app
        .post_json(&path, &json!({ "processor": "thumbnail", "variant": "square", "options": { "width": 100, "height": 100, "fit": "cover", "format": "png" } }), Some(&token))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["job"]["status"], "queued");
    assert_eq!(job["job"]["variant"], "square");
    let details = app.wait_until_processed(&token, id).await;
    assert_eq!(details["file"]["status"], "ready");
    let square = app
        .download(&token, &format!("/api/files/{id}/variants/square"))
        .await;
    assert_eq!(dimensions(&square), (100, 100));
    assert_eq!(variant(&details, "square")["content_type"], "image/png");

    for (body, code) in [
        (json!({ "processor": "sharpen" }), "unknown_processor"),
        (
            json!({ "processor": "thumbnail", "options": { "width": -4 } }),
            "invalid_options",
        ),
        (
            json!({ "processor": "thumbnail", "options": { "colour": "red" } }),
            "invalid_options",
        ),
        (
            json!({ "processor": "pdf_thumbnail" }),
            "unsupported_processor",
        ),
        (
            json!({ "processor": "thumbnail", "variant": "../x" }),
            "invalid_variant",
        ),
    ] {
        let response = app.post_json(&path, &body, Some(&token)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(error_code(response).await, code, "{body}");
    }
    let unknown = app
        .upload(
            &token,
            "photo.jpg",
            fixture("photo.jpg"),
            Some("thumbnail,sharpen"),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_rt::test]
async fn only_chosen_processors_run_when_the_upload_names_them() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("choose@example.com").await;
    let accepted = app
        .upload_accepted(&token, "photo.jpg", fixture("photo.jpg"), Some("thumbnail"))
        .await;
    assert_eq!(accepted["jobs"].as_array().unwrap().len(), 1);
    let details = app.wait_until_processed(&token, &file_id(&accepted)).await;
    assert_eq!(variant_names(&details), ["thumbnail"]);
}

#[actix_rt::test]
async fn a_dead_job_can_be_retried_and_other_jobs_cannot() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("retry@example.com").await;
    let broken = app.upload_fixture(&token, "truncated.jpg").await;
    let id = &file_id(&broken);
    let details = app.wait_until_processed(&token, id).await;
    let dead = job_in(&details, "dead");
    let job_id = dead["id"].as_str().unwrap();
    let retried = app.retry_job(&token, job_id).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["job"]["status"], "queued");
    assert_eq!(retried["job"]["attempts"], 0);
    // It really runs again (and, the file being corrupt, dies again).
    app.wait_for_job(&token, job_id, |job| {
        job["status"] == "dead" && job["attempts"] == 1
    })
    .await;

    let fine = app.upload_fixture(&token, "small.jpg").await;
    app.wait_until_processed(&token, &file_id(&fine)).await;
    let job_id = fine["jobs"][0]["id"].as_str().unwrap();
    let refused = app.retry_job(&token, job_id).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(refused).await, "job_not_dead");
}

#[actix_rt::test]
async fn download_links_come_as_json_when_asked_not_to_redirect() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("links@example.com").await;
    let accepted = app.upload_fixture(&token, "small.jpg").await;
    let id = &file_id(&accepted);
    let link = app
        .get_json(
            &format!("/api/files/{id}/content?redirect=false"),
            Some(&token),
        )
        .await;
    let expires =
        chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires > chrono::Utc::now());
    let bytes = reqwest::get(link["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.to_vec(), fixture("small.jpg"));
    let missing = app
        .get(&format!("/api/files/{id}/variants/nope"), Some(&token))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn an_event_stream_shows_a_job_running_then_succeeded() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("events@example.com").await;
    let accepted = app.upload_fixture(&token, "photo.jpg").await;
    let id = file_id(&accepted);
    app.wait_until_processed(&token, &id).await;

    let mut stream = app
        .event_stream(&token, &format!("/api/files/{id}/events"))
        .await;
    let job: Value = app
        .process(
            &token,
            &id,
            &json!({ "processor": "thumbnail", "variant": "again" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let job_id = job["job"]["id"].as_str().unwrap().to_string();

    let statuses = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["type"] == "job" && e["job_id"] == job_id.as_str())
            .map(|e| e["status"].as_str().unwrap().to_string())
            .collect()
    };
    stream
        .read_until(Duration::from_secs(30), |events| {
            statuses(events).contains(&"succeeded".to_string())
        })
        .await;
    let seen = statuses(&stream.events);
    let running = seen
        .iter()
        .position(|s| s == "running")
        .expect("running is announced");
    let succeeded = seen.iter().position(|s| s == "succeeded").unwrap();
    assert!(running < succeeded, "{seen:?}");
}

/// A 12-megapixel JPEG, slow enough to process that a test can act mid-job.
fn large_photo() -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(4000, 3000, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 239) as u8])
    });
    let mut encoded = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, 90)
        .encode_image(&pixels)
        .unwrap();
    encoded
}

#[actix_rt::test]
async fn deleting_a_file_while_its_job_runs_ends_the_job_and_leaves_nothing_behind() {
    // Made before the app: encoding it blocks this thread for seconds, and a
    // kept-alive connection the server closes meanwhile would be reused unseen.
    let photo = large_photo();
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("hasty@example.com").await;
    let accepted = app
        .upload_accepted(&token, "large.jpg", photo, Some("resize"))
        .await;
    let id = &file_id(&accepted);
    let job_id = accepted["jobs"][0]["id"].as_str().unwrap();
    app.wait_for_job(&token, job_id, |job| job["status"] == "running")
        .await;
    assert_eq!(
        app.delete(&format!("/api/files/{id}"), &token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // The job ends after its file is gone, and nothing it touched remains.
    wait_until(Duration::from_secs(30), || async {
        app.stored_keys(&user_id).await.is_empty()
    })
    .await;
    let files = app.get_json("/api/files", Some(&token)).await;
    assert_eq!(files["files"], json!([]));
}

#[actix_rt::test]
async fn an_allowed_extra_type_is_stored_without_processing() {
    let app = spawn_app_with(&[("ALLOWED_EXTRA_TYPES", "application/zip")]).await;
    let (token, _) = app.user_with_id("archive@example.com").await;
    let zip = [b"PK\x03\x04".as_slice(), &[0u8; 60]].concat();
    let accepted = app
        .upload_accepted(&token, "bundle.zip", zip.clone(), None)
        .await;
    assert_eq!(accepted["jobs"], json!([]));
    assert_eq!(accepted["file"]["status"], "ready");
    assert_eq!(accepted["file"]["content_type"], "application/zip");
    let id = &file_id(&accepted);
    assert_eq!(
        app.download(&token, &format!("/api/files/{id}/content"))
            .await,
        zip
    );
    let asked = app
        .upload(&token, "bundle.zip", zip.clone(), Some("thumbnail"))
        .await;
    assert_eq!(asked.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let process = app
        .process(&token, id, &json!({ "processor": "thumbnail" }))
        .await;
    assert_eq!(process.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let strict = spawn_app().await;
    let (token, _) = strict.user_with_id("strict@example.com").await;
    let refused = strict.upload(&token, "bundle.zip", zip, None).await;
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[actix_rt::test]
async fn webp_and_watermark_variants_can_be_asked_for_at_upload_or_later() {
    let app = spawn_app().await;
    let (token, _) = app.user_with_id("variants@example.com").await;
    let accepted = app
        .upload_accepted(&token, "photo.jpg", fixture("photo.jpg"), Some("webp"))
        .await;
    let id = &file_id(&accepted);
    let details = app.wait_until_processed(&token, id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    let webp = app
        .download(&token, &format!("/api/files/{id}/variants/webp"))
        .await;
    assert_eq!(&webp[..4], b"RIFF");
    assert_eq!(&webp[8..12], b"WEBP");
    assert_eq!(dimensions(&webp), (1200, 800));
    assert_eq!(variant(&details, "webp")["content_type"], "image/webp");
    assert!(
        webp.len() < fixture("photo.jpg").len(),
        "lossy q80 is smaller than the JPEG source"
    );

    let job = app
        .process(&token, id, &json!({ "processor": "watermark", "options": { "text": "© Kiln", "position": "top-left", "format": "png" } }))
        .await;
    assert_eq!(job.status(), StatusCode::ACCEPTED);
    let details = app.wait_until_processed(&token, id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    let marked = app
        .download(&token, &format!("/api/files/{id}/variants/watermark"))
        .await;
    let marked = image::load_from_memory(&marked).unwrap().to_rgb8();
    let original = image::load_from_memory(&fixture("photo.jpg"))
        .unwrap()
        .to_rgb8();
    assert_eq!(marked.dimensions(), original.dimensions());
    let differs = |x0: u32, y0: u32| {
        (x0..x0 + 100).any(|x| {
            (y0..y0 + 40).any(|y| {
                let (a, b) = (marked.get_pixel(x, y), original.get_pixel(x, y));
                a.0.iter().zip(b.0).any(|(p, q)| p.abs_diff(q) > 40)
            })
        })
    };
    assert!(differs(0, 0), "the mark is in the top-left corner");
    assert!(!differs(1100, 760), "the opposite corner is untouched");

    let missing_text = app
        .process(&token, id, &json!({ "processor": "watermark" }))
        .await;
    assert_eq!(missing_text.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// The number of frames of a WebP (1 for a still one).
fn webp_frames(bytes: &[u8]) -> usize {
    use image::AnimationDecoder;
    let decoder = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    if !decoder.has_animation() {
        return 1;
    }
    decoder.into_frames().count()
}

#[actix_rt::test]
async fn an_animated_gif_keeps_moving_as_a_webp_and_one_over_max_frames_is_refused() {
    let app = spawn_app_with([("MAX_FRAMES", "1")]).await;
    let token = app.signed_in_user("ada@example.com").await;
    let frames = {
        use image::AnimationDecoder;
        let gif = fixture("animated.gif");
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(gif))
            .unwrap()
            .into_frames()
            .count()
    };
    assert!(frames > 1, "the fixture has {frames} frames");

    // Within the limit: every frame, still moving; the thumbnail is the first.
    let small = spawn_app().await;
    let small_token = small.signed_in_user("ada@example.com").await;
    let accepted = small
        .upload_accepted(
            &small_token,
            "animated.gif",
            fixture("animated.gif"),
            Some("thumbnail,webp"),
        )
        .await;
    let id = file_id(&accepted);
    let details = small.wait_until_processed(&small_token, &id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    let webp = small
        .download(&small_token, &format!("/api/files/{id}/variants/webp"))
        .await;
    assert_eq!(webp_frames(&webp), frames);
    assert!(details["file"]["thumbhash"].is_string());

    // Over MAX_FRAMES: the webp job is dead and says why; the thumbnail is made.
    let accepted = app
        .upload_accepted(
            &token,
            "animated.gif",
            fixture("animated.gif"),
            Some("thumbnail,webp"),
        )
        .await;
    let id = file_id(&accepted);
    let details = app.wait_until_processed(&token, &id).await;
    let job_of = |processor: &str| {
        details["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|job| job["processor"] == processor)
            .unwrap()
            .clone()
    };
    let webp_job = job_of("webp");
    assert_eq!(webp_job["status"], "dead", "{details}");
    assert!(
        webp_job["error"]
            .as_str()
            .unwrap()
            .contains("too many frames; the limit is 1"),
        "{webp_job}"
    );
    // The file is failed once a job is dead; the thumbnail may still be running.
    let thumbnail = job_of("thumbnail")["id"].as_str().unwrap().to_string();
    app.wait_for_job(&token, &thumbnail, |job| job["status"] == "succeeded")
        .await;
}

/// A file deleted while one of its jobs records its end: the delete and the
/// job's transition lock the same rows (the job's, the file's) in the same
/// order, so PostgreSQL never breaks a deadlock between them by failing one.
/// Each delete answers 204, and no process logs a deadlock.
#[actix_rt::test]
async fn files_deleted_while_their_jobs_end_go_without_a_database_error() {
    let cluster = Cluster::start(1, None, &[]).await;
    let (api, token) = (&cluster.client, &cluster.token);
    for _ in 0..40 {
        let id = file_id(&cluster.upload("photo.jpg").await);
        let asked = api
            .process(token, &id, &json!({"processor": "thumbnail"}))
            .await;
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
        let deleted = api.delete(&format!("/api/files/{id}"), token).await;
        assert_eq!(
            deleted.status(),
            StatusCode::NO_CONTENT,
            "{}",
            cluster.api.log()
        );
    }
    // What the worker was doing when the last file went has ended.
    wait_until(Duration::from_secs(30), async || {
        cluster.count("SELECT COUNT(*) FROM processing_jobs").await == 0
    })
    .await;
    for process in std::iter::once(&cluster.api).chain(&cluster.workers) {
        let log = process.log();
        assert!(!log.contains("deadlock"), "{log}");
    }
}
