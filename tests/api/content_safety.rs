//! What one person's bytes and names can do to whoever looks at them: bytes
//! delivered with the headers that keep a browser from running them (API.md
//! "Delivery"; `browser_flows` watches a real browser download them), no
//! extra type a browser runs, and names that cannot spoof their extension in
//! listings.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::file_id;
use crate::support::app::{Env, PASSWORD, spawn_app};
use crate::support::fixtures::fixture;
use crate::support::processes::KilnProcess;

#[actix_rt::test]
async fn originals_and_variants_are_delivered_as_downloads_unless_they_are_images() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let mut expected = Vec::new();
    for (name, content_type, disposition) in [
        ("photo.jpg", "image/jpeg", "inline"),
        ("two-pages.pdf", "application/pdf", "attachment"),
    ] {
        let id = file_id(&app.upload_fixture(&token, name).await);
        let path = format!("/api/files/{id}/content");
        expected.push((
            path,
            content_type,
            format!("{disposition}; filename=\"{name}\""),
        ));
        app.wait_until_processed(&token, &id).await;
        let variant = match content_type {
            "application/pdf" => "pdf_thumbnail",
            _ => "thumbnail",
        };
        let path = format!("/api/files/{id}/variants/{variant}");
        let stem = name.rsplit_once('.').unwrap().0;
        let filename = format!("{stem}-{variant}");
        expected.push((path, "image/", format!("inline; filename=\"{filename}.")));
    }
    for (path, content_type, disposition) in expected {
        let response = app.download_response(&token, &path).await;
        // Local links are Kiln's own route; S3's are served by S3, elsewhere.
        assert_eq!(
            response.url().as_str().starts_with(&app.address),
            !app.uses_services(),
            "{}",
            response.url()
        );
        let headers = response.headers();
        let header = |name: &str| headers[name].to_str().unwrap().to_string();
        assert!(header("content-type").starts_with(content_type), "{path}");
        assert!(
            header("content-disposition").starts_with(&disposition),
            "{path}: {}",
            header("content-disposition")
        );
        assert!(header("content-disposition").contains("filename*=UTF-8''"));
        if !app.uses_services() {
            assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(
                header("content-security-policy"),
                "default-src 'none'; sandbox",
                "{path}"
            );
        }
    }
}

#[actix_rt::test]
async fn kiln_refuses_to_start_with_an_extra_type_that_browsers_run() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::from([
        ("DATA_DIR".to_string(), dir.path().display().to_string()),
        (
            "ALLOWED_EXTRA_TYPES".to_string(),
            "application/zip, text/html".to_string(),
        ),
    ]);
    let kiln = KilnProcess::spawn(&["serve"], dir.path(), &env);
    let (code, log) = kiln.wait_for_exit().await;
    assert_eq!(code, Some(2), "{log}");
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains("ALLOWED_EXTRA_TYPES") && log.contains("text/html"),
        "{log}"
    );
}

#[actix_rt::test]
async fn a_file_name_is_stored_without_bidirectional_controls_or_zero_width_characters() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    // Shown as "invoiceexe.jpg" by a listing that honours U+202E.
    let spoofing = "invoice\u{202E}gpj.exe\u{200B}.jpg";
    let body = app
        .upload_accepted(&token, spoofing, fixture("small.jpg"), None)
        .await;
    assert_eq!(body["file"]["filename"], "invoicegpj.exe.jpg");

    let listed = app.get_json("/api/files", Some(&token)).await;
    assert_eq!(listed["files"][0]["filename"], "invoicegpj.exe.jpg");
}

#[actix_rt::test]
async fn a_display_name_is_stored_without_bidirectional_controls() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/auth/register",
            &json!({
                "email": "grace@example.com",
                "password": PASSWORD,
                "name": "\u{2067}Grace\u{202E}\u{200D} Hopper\u{2069}",
            }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["name"], "Grace Hopper");
}
