//! Personal API tokens: only for a verified address, shown once, stored
//! hashed, usable as bearer, revocable.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::error_code;
use crate::support::app::spawn_app;

#[actix_rt::test]
async fn a_created_token_is_shown_once_and_authenticates() {
    let app = spawn_app().await;
    let session = app.verified_user("tokens@example.com").await;
    let created = app
        .post_json(
            "/api/tokens",
            &json!({ "name": "ci deploy", "expires_in_days": 30 }),
            Some(&session),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("kiln_"));
    assert_eq!(created["name"], "ci deploy");
    assert!(created["expires_at"].is_string());

    let me = app.me(&token).await;
    assert_eq!(me["user"]["email"], "tokens@example.com");

    let listed = app.get_json("/api/tokens", Some(&session)).await;
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["id"], created["id"]);
    assert!(token.starts_with(tokens[0]["prefix"].as_str().unwrap()));
    assert!(
        !listed.to_string().contains(&token),
        "the listing never shows the token"
    );
    assert!(tokens[0]["last_used_at"].is_string(), "use is recorded");
}

#[actix_rt::test]
async fn only_an_account_whose_address_is_verified_can_make_api_tokens() {
    let app = spawn_app().await;
    // Anyone can register any address; nothing proves this one is theirs.
    let session = app.signed_in_user("squatter@example.com").await;
    let refused = app
        .post_json(
            "/api/tokens",
            &json!({ "name": "way back in" }),
            Some(&session),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "email_unverified");
    let listed = app.get_json("/api/tokens", Some(&session)).await;
    assert_eq!(listed["tokens"], json!([]));

    // The link mailed to the address proves it.
    let mail = app.mail_to("squatter@example.com").await;
    let verified = app.verify_email(&mail.token("verify-email")).await;
    assert_eq!(verified.status(), StatusCode::NO_CONTENT);
    let created = app
        .post_json("/api/tokens", &json!({ "name": "script" }), Some(&session))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[actix_rt::test]
async fn a_deleted_token_stops_working_and_others_tokens_are_not_found() {
    let app = spawn_app().await;
    let owner = app.verified_user("owner@example.com").await;
    let stranger = app.signed_in_user("stranger@example.com").await;
    let created: Value = app
        .post_json("/api/tokens", &json!({ "name": "laptop" }), Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert!(created["expires_at"].is_null());
    let id = created["id"].as_str().unwrap();
    let token = created["token"].as_str().unwrap();

    let foreign = app.delete(&format!("/api/tokens/{id}"), &stranger).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(foreign).await, "not_found");
    assert_eq!(app.me_status(token).await, StatusCode::OK);

    assert_eq!(
        app.delete(&format!("/api/tokens/{id}"), &owner)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me_status(token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.delete(&format!("/api/tokens/{id}"), &owner)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete("/api/tokens/not-a-uuid", &owner).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_rt::test]
async fn token_names_and_expiries_are_validated() {
    let app = spawn_app().await;
    let session = app.verified_user("validate@example.com").await;
    for (body, code) in [
        (json!({ "name": "" }), "invalid_name"),
        (json!({ "name": "x".repeat(101) }), "invalid_name"),
        (
            json!({ "name": "ok", "expires_in_days": 0 }),
            "invalid_expiry",
        ),
        (
            json!({ "name": "ok", "expires_in_days": 100000 }),
            "invalid_expiry",
        ),
    ] {
        let response = app.post_json("/api/tokens", &body, Some(&session)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(error_code(response).await, code);
    }
    let unauthenticated = app
        .post_json("/api/tokens", &json!({ "name": "x" }), None)
        .await;
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

#[actix_rt::test]
async fn logging_out_with_an_api_token_is_refused_with_a_hint() {
    let app = spawn_app().await;
    let session = app.verified_user("hint@example.com").await;
    let created: Value = app
        .post_json("/api/tokens", &json!({ "name": "script" }), Some(&session))
        .await
        .json()
        .await
        .unwrap();
    let response = app
        .post_json(
            "/api/auth/logout",
            &json!({}),
            Some(created["token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "not_revocable_here");
}
