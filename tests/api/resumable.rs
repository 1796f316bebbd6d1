//! Uploads that resume (tus 1.0.0 at `/api/uploads`), driven by tuspy, a real
//! tus client from PyPI, and by hand where a test needs a request tuspy would
//! not send: a finished upload is a file with its jobs; chunks below S3's
//! 5 MiB part minimum and above it both land whole; offsets, checksums,
//! lengths and ownership are checked; termination and expiry give everything
//! back.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::app::{TestApp, spawn_app, spawn_app_with};
use crate::support::cluster::Cluster;
use crate::support::fixtures::fixture;
use crate::support::processes::KilnProcess;
use crate::support::servers::test_python;
use crate::support::wait::wait_until;

/// Uploads `bytes` with tuspy in chunks of `chunk` bytes; returns the upload's URL.
/// The client runs as a child process, awaited: the app's actors share this
/// test's thread.
async fn tus_upload(
    app: &TestApp,
    token: &str,
    bytes: &[u8],
    chunk: usize,
    metadata: &[(&str, &str)],
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload.bin");
    std::fs::write(&path, bytes).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/support/tus_upload.py"
    );
    let output = tokio::process::Command::new(test_python())
        .arg(script)
        .arg(app.url("/api/uploads"))
        .arg(token)
        .arg(&path)
        .arg(chunk.to_string())
        .args(metadata.iter().map(|(k, v)| format!("{k}={v}")))
        .output()
        .await
        .expect("run tuspy (scripts/test.sh installs it into target/test-venv)");
    assert!(
        output.status.success(),
        "tuspy failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A request to an upload with `Tus-Resumable` and the bearer token.
fn tus(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
}

/// What `GET` of a finished upload answers: `{file, jobs}`.
async fn finished_upload(app: &TestApp, path: &str, token: &str) -> Value {
    let response = tus(app, reqwest::Method::GET, path, token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_string()
}

/// A file of `size` bytes that Kiln stores as `application/zip` (no jobs).
fn zip_of(size: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..size).map(|i| (i * 7 + i / 251) as u8).collect();
    bytes[..4].copy_from_slice(b"PK\x03\x04");
    bytes
}

#[actix_rt::test]
async fn a_tus_client_uploads_a_photo_in_small_chunks_and_it_becomes_a_file_with_its_jobs() {
    let app = spawn_app().await;
    let (token, user_id) = app.user_with_id("tus@example.com").await;
    let photo = fixture("photo.jpg");
    let url = tus_upload(
        &app,
        &token,
        &photo,
        8 * 1024,
        &[("filename", "holiday.jpg")],
    )
    .await;
    let path = url.strip_prefix(&app.url("")).unwrap_or(&url).to_string();
    assert!(path.starts_with("/api/uploads/"), "{url}");

    let body = finished_upload(&app, &path, &token).await;
    assert_eq!(body["file"]["filename"], "holiday.jpg");
    assert_eq!(body["file"]["size_bytes"], photo.len());
    assert_eq!(body["jobs"].as_array().unwrap().len(), 2, "{body}");
    let id = body["file"]["id"].as_str().unwrap().to_string();
    let details = app.wait_until_processed(&token, &id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    assert_eq!(
        app.download(&token, &format!("/api/files/{id}/content"))
            .await,
        photo
    );
    let usage = app.me(&token).await["usage"].clone();
    assert_eq!(usage["files"], 1);
    assert_eq!(usage["bytes"], app.stored_bytes(&user_id).await);
}

#[actix_rt::test]
async fn a_large_upload_crosses_s3_part_boundaries_and_lands_byte_for_byte() {
    let app = spawn_app_with(&[("ALLOWED_EXTRA_TYPES", "application/zip")]).await;
    let (token, _) = app.user_with_id("big-tus@example.com").await;
    // 12 MiB in 3 MiB chunks: tails below the 5 MiB part minimum, then parts.
    let bytes = zip_of(12 * 1024 * 1024 + 12345);
    let url = tus_upload(
        &app,
        &token,
        &bytes,
        3 * 1024 * 1024,
        &[("filename", "big.zip")],
    )
    .await;
    let path = url.strip_prefix(&app.url("")).unwrap().to_string();
    let body = finished_upload(&app, &path, &token).await;
    assert_eq!(body["file"]["sha256"], hex::encode(Sha256::digest(&bytes)));
    let id = body["file"]["id"].as_str().unwrap();
    assert_eq!(
        app.download(&token, &format!("/api/files/{id}/content"))
            .await,
        bytes
    );
    let leftovers: Vec<String> = app.stored_keys("uploads").await;
    assert!(
        leftovers.is_empty(),
        "the assembled copy is gone: {leftovers:?}"
    );
}

#[actix_rt::test]
async fn offsets_checksums_lengths_and_owners_are_checked() {
    let app = spawn_app().await;
    let token = app.signed_in_user("strict@example.com").await;
    let stranger = app.signed_in_user("stranger-tus@example.com").await;
    let options = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.url("/api/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&options, "Tus-Version"), "1.0.0");
    assert!(header(&options, "Tus-Extension").contains("creation-with-upload"));
    assert_eq!(header(&options, "Tus-Checksum-Algorithm"), "sha1,sha256");

    let too_big = tus(&app, reqwest::Method::POST, "/api/uploads", &token)
        .header("Upload-Length", (200u64 << 20).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        too_big.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "refused before the first byte"
    );
    let no_version = reqwest::Client::new()
        .post(app.url("/api/uploads"))
        .bearer_auth(&token)
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), StatusCode::PRECONDITION_FAILED);

    let photo = fixture("photo.jpg");
    // creation-with-upload: the first 1000 bytes come with the POST.
    let created = tus(&app, reqwest::Method::POST, "/api/uploads", &token)
        .header("Upload-Length", photo.len().to_string())
        .header(
            "Upload-Metadata",
            format!("filename {}", STANDARD.encode("p.jpg")),
        )
        .header("Content-Type", "application/offset+octet-stream")
        .body(photo[..1000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(header(&created, "Upload-Offset"), "1000");
    assert!(!header(&created, "Upload-Expires").is_empty());
    let path = header(&created, "Location");

    let patch = |offset: usize, body: &[u8], checksum: Option<String>| {
        let mut request = tus(&app, reqwest::Method::PATCH, &path, &token)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(body.to_vec());
        if let Some(checksum) = checksum {
            request = request.header("Upload-Checksum", checksum);
        }
        request.send()
    };
    let wrong_offset = patch(5, &photo[5..100], None).await.unwrap();
    assert_eq!(wrong_offset.status(), StatusCode::CONFLICT);
    let bad_sum = format!("sha256 {}", STANDARD.encode(Sha256::digest(b"other")));
    let mismatch = patch(1000, &photo[1000..2000], Some(bad_sum))
        .await
        .unwrap();
    assert_eq!(mismatch.status().as_u16(), 460);
    let head = tus(&app, reqwest::Method::HEAD, &path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&head, "Upload-Offset"),
        "1000",
        "a refused chunk counts for nothing"
    );
    assert_eq!(header(&head, "Upload-Length"), photo.len().to_string());
    assert_eq!(header(&head, "Cache-Control"), "no-store");
    let theirs = tus(&app, reqwest::Method::HEAD, &path, &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(
        theirs.status(),
        StatusCode::NOT_FOUND,
        "an upload is its creator's"
    );

    let good_sum = format!("sha256 {}", STANDARD.encode(Sha256::digest(&photo[1000..])));
    let last = patch(1000, &photo[1000..], Some(good_sum)).await.unwrap();
    assert_eq!(last.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&last, "Upload-Offset"), photo.len().to_string());
    let file_id = header(&last, "Kiln-File-Id");
    assert_eq!(
        app.download(&token, &format!("/api/files/{file_id}/content"))
            .await,
        photo
    );
    let again = patch(photo.len(), b"", None).await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::CONFLICT,
        "a finished upload takes no more"
    );
}

#[actix_rt::test]
async fn a_terminated_or_expired_upload_gives_its_bytes_and_quota_back() {
    let app = spawn_app_with(&[("UPLOAD_EXPIRY", "2s"), ("RECONCILE_INTERVAL", "1s")]).await;
    let token = app.signed_in_user("gone@example.com").await;
    let photo = fixture("photo.jpg");
    let start = |length: usize| {
        tus(&app, reqwest::Method::POST, "/api/uploads", &token)
            .header("Upload-Length", length.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(photo[..500].to_vec())
            .send()
    };
    let first = start(photo.len()).await.unwrap();
    let path = header(&first, "Location");
    let usage = app.me(&token).await["usage"].clone();
    assert_eq!(
        usage["bytes"],
        photo.len(),
        "the length is reserved: {usage}"
    );
    assert_eq!(usage["files"], 1);
    let deleted = tus(&app, reqwest::Method::DELETE, &path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let head = tus(&app, reqwest::Method::HEAD, &path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.me(&token).await["usage"]["bytes"], 0);

    let abandoned = start(photo.len()).await.unwrap();
    let path = header(&abandoned, "Location");
    assert!(!app.stored_keys("uploads").await.is_empty());
    wait_until(Duration::from_secs(20), || async {
        tus(&app, reqwest::Method::HEAD, &path, &token)
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::NOT_FOUND
            && app.me(&token).await["usage"]["bytes"] == 0
            && app.stored_keys("uploads").await.is_empty()
    })
    .await;
}

#[actix_rt::test]
async fn an_api_killed_mid_chunk_loses_only_that_chunk_and_another_api_finishes_the_upload() {
    let mut cluster = Cluster::start(0, None, &[("ALLOWED_EXTRA_TYPES", "application/zip")]).await;
    let bytes = zip_of(12 * 1024 * 1024);
    let half = 6 * 1024 * 1024;
    let client = reqwest::Client::new();
    let on = |address: &str, method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{address}{path}"))
            .bearer_auth(&cluster.token)
            .header("Tus-Resumable", "1.0.0")
    };
    let first = cluster.api.address();
    let created = on(&first, reqwest::Method::POST, "/api/uploads")
        .header("Upload-Length", bytes.len().to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(bytes[..half].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "{}",
        cluster.api.log()
    );
    assert_eq!(header(&created, "Upload-Offset"), half.to_string());
    let path = header(&created, "Location");

    // The next chunk starts, and its api process dies with a part of it sent.
    let (sender, receiver) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let mut sender = sender;
    let in_flight = on(&first, reqwest::Method::PATCH, &path)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", half.to_string())
        .body(reqwest::Body::wrap_stream(receiver))
        .send();
    let in_flight = actix_rt::spawn(in_flight);
    use futures::SinkExt;
    sender
        .send(Ok(bytes[half..half + 1024 * 1024].to_vec()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.api.child.kill().unwrap();
    cluster.api.child.wait().unwrap();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the connection died with the process"
    );

    // Another api process has what was recorded, and finishes the upload once
    // the dead one's lease has run out.
    let second = KilnProcess::spawn(&["api"], cluster.dir.path(), &cluster.env);
    second.wait_for_log("kiln started").await;
    let other = second.address();
    let head = on(&other, reqwest::Method::HEAD, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&head, "Upload-Offset"),
        half.to_string(),
        "only the chunk in flight is lost"
    );
    let mut finished = None;
    wait_until(Duration::from_secs(30), async || {
        let response = on(&other, reqwest::Method::PATCH, &path)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", half.to_string())
            .body(bytes[half..].to_vec())
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::NO_CONTENT => {
                finished = Some(header(&response, "Kiln-File-Id"));
                true
            }
            // The dead process's lease has not run out yet.
            StatusCode::LOCKED => false,
            other => panic!("{other}: {}", second.log()),
        }
    })
    .await;
    let file_id = finished.unwrap();
    let api = crate::support::api::Api::new(other);
    assert_eq!(
        api.download(&cluster.token, &format!("/api/files/{file_id}/content"))
            .await,
        bytes
    );
}

/// Makes the database refuse (`true`) or accept again (`false`) every new
/// file, as a failing database would: an upload's last chunk then lands but
/// its file cannot be made.
async fn refuse_new_files(app: &TestApp, refuse: bool) {
    use sea_orm::ConnectionTrait;
    let statements: &[&str] = match (app.uses_services(), refuse) {
        (true, true) => &[
            "CREATE FUNCTION refuse_file() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_files BEFORE INSERT ON files \
             FOR EACH ROW EXECUTE FUNCTION refuse_file()",
        ],
        (true, false) => &[
            "DROP TRIGGER refuse_files ON files",
            "DROP FUNCTION refuse_file()",
        ],
        (false, true) => &["CREATE TRIGGER refuse_files BEFORE INSERT ON files \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
        (false, false) => &["DROP TRIGGER refuse_files"],
    };
    let db = app.database().await;
    for statement in statements {
        db.execute_unprepared(statement).await.unwrap();
    }
}

/// Sends `photo` whole as a new upload while files are refused: it ends with
/// every byte and no file; files are allowed again before it returns its path.
async fn strand_an_upload(app: &TestApp, token: &str, photo: &[u8]) -> String {
    refuse_new_files(app, true).await;
    let created = tus(app, reqwest::Method::POST, "/api/uploads", token)
        .header("Upload-Length", photo.len().to_string())
        .send()
        .await
        .unwrap();
    let path = header(&created, "Location");
    let last = tus(app, reqwest::Method::PATCH, &path, token)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(photo.to_vec())
        .send()
        .await
        .unwrap();
    assert!(last.status().is_server_error(), "{}", last.status());
    // Checked while files are still refused: once they are not, housekeeping
    // may make this one at any moment.
    let head = tus(app, reqwest::Method::HEAD, &path, token)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&head, "Upload-Offset"), photo.len().to_string());
    assert!(head.headers().get("Kiln-File-Id").is_none());
    let shown = tus(app, reqwest::Method::GET, &path, token)
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), StatusCode::CONFLICT);
    refuse_new_files(app, false).await;
    path
}

#[actix_rt::test]
async fn an_upload_whose_file_could_not_be_made_is_made_by_an_empty_patch_or_on_its_own() {
    let photo = fixture("photo.jpg");

    // The client asks again with an empty chunk at the end.
    let app = spawn_app_with(&[("RECONCILE_INTERVAL", "1h")]).await;
    let token = app.signed_in_user("strand@example.com").await;
    let path = strand_an_upload(&app, &token, &photo).await;
    let finished = tus(&app, reqwest::Method::PATCH, &path, &token)
        .header("Upload-Offset", photo.len().to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), StatusCode::NO_CONTENT);
    let file_id = header(&finished, "Kiln-File-Id");
    let shown = finished_upload(&app, &path, &token).await;
    assert_eq!(shown["file"]["id"], file_id.as_str());
    assert_eq!(shown["file"]["sha256"], hex::encode(Sha256::digest(&photo)));
    assert!(app.stored_keys("uploads").await.is_empty());
    assert_eq!(app.me(&token).await["usage"]["files"], 1);

    // Nobody asks: the next housekeeping round makes it.
    let app = spawn_app_with(&[("RECONCILE_INTERVAL", "1s")]).await;
    let token = app.signed_in_user("strand@example.com").await;
    let path = strand_an_upload(&app, &token, &photo).await;
    wait_until(Duration::from_secs(20), || async {
        tus(&app, reqwest::Method::GET, &path, &token)
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::OK
    })
    .await;
    let listed = app.get_json("/api/files", Some(&token)).await;
    assert_eq!(listed["files"].as_array().unwrap().len(), 1, "{listed}");
}
