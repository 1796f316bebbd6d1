//! What one person's bytes and names can do to whoever looks at them: names
//! that cannot spoof their extension in listings.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, fixture, spawn_app};

#[actix_rt::test]
async fn a_file_name_is_stored_without_bidirectional_controls_or_zero_width_characters() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    // Shown as "invoiceexe.jpg" by a listing that honours U+202E.
    let spoofing = "invoice\u{202E}gpj.exe\u{200B}.jpg";
    let response = app
        .upload(&token, spoofing, fixture("small.jpg"), None)
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["file"]["filename"], "invoicegpj.exe.jpg");

    let listed: Value = app
        .get("/api/files", Some(&token))
        .await
        .json()
        .await
        .unwrap();
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
