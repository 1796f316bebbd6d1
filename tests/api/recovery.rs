//! Password reset and e-mail verification through the API, with the mail
//! received by a real SMTP server on loopback (aiosmtpd) or, on the embedded
//! default without SMTP settings, read from the `.eml` files Kiln writes.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use kiln::entities::{email_verifications, password_resets};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::api::{error_code, retry_after};
use crate::support::app::{BEHIND_A_PROXY, NEW_PASSWORD, PASSWORD, spawn_app, spawn_app_with};
use crate::support::fixtures::free_port;
use crate::support::mail::Inbox;
use crate::support::servers::PrivateSmtp;
use crate::support::wait::wait_until;
use crate::support::web::WebClient;

#[actix_rt::test]
async fn registration_mails_a_link_that_verifies_the_address_once() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    let session = app.signed_in_user("ada@example.com").await;

    let mail = smtp.inbox.next_to("ada@example.com").await;
    assert_eq!(mail.subject, "Confirm your e-mail address for Kiln");
    // The address is not proven yet: no text the account chose, its name included.
    assert!(mail.text.starts_with("Hello,"), "{}", mail.text);
    // Without BASE_URL, links point at the address Kiln listens on.
    let link = mail.link("verify-email");
    assert!(
        link.as_str()
            .starts_with(&format!("{}/verify-email?token=", app.address)),
        "{link}"
    );
    assert!(mail.html.as_deref().unwrap().contains("Confirm my address"));
    assert_eq!(app.me(&session).await["user"]["email_verified"], false);

    let token = mail.token("verify-email");
    assert_eq!(
        app.verify_email(&token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me(&session).await["user"]["email_verified"], true);

    let again = app.verify_email(&token).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(again).await, "invalid_token");
}

#[actix_rt::test]
async fn links_in_mail_are_built_from_base_url_never_from_the_host_header() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(
        smtp.env()
            .into_iter()
            .chain([("BASE_URL".into(), "https://kiln.example.test/photos".into())]),
    )
    .await;
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .header("Host", "evil.example")
        .json(&json!({ "email": "host@example.com", "password": PASSWORD, "name": "Host" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let mail = smtp.inbox.next().await;
    let link = mail.link("verify-email");
    assert!(
        link.as_str()
            .starts_with("https://kiln.example.test/photos/verify-email?token="),
        "{link}"
    );
    assert!(!mail.text.contains("evil.example"));
}

#[actix_rt::test]
async fn a_new_verification_link_can_be_asked_for_once_a_minute() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    let session = app.signed_in_user("resend@example.com").await;
    let first = smtp.inbox.next().await.token("verify-email");

    let anonymous = app.resend_verification(None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Registration mailed a link moments ago.
    let too_soon = app.resend_verification(Some(&session)).await;
    assert_eq!(too_soon.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = retry_after(&too_soon);
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(error_code(too_soon).await, "rate_limited");

    // A minute later (moved back in the database rather than waited for).
    let two_minutes_ago = Utc::now() - TimeDelta::minutes(2);
    app.set_time(email_verifications::Column::CreatedAt, two_minutes_ago)
        .await;
    let accepted = app.resend_verification(Some(&session)).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let second = smtp.inbox.next().await.token("verify-email");
    assert_ne!(first, second);

    assert_eq!(
        app.verify_email(&second).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me(&session).await["user"]["email_verified"], true);
    // The older link was spent along with it.
    let older = app.verify_email(&first).await;
    assert_eq!(older.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(older).await, "invalid_token");

    let verified = app.resend_verification(Some(&session)).await;
    assert_eq!(verified.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(verified).await, "already_verified");
}

#[actix_rt::test]
async fn a_password_reset_sets_the_new_password_and_ends_every_earlier_sign_in_and_api_token() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    let old_session = app.signed_in_user("grace@example.com").await;
    let verification = smtp.inbox.next().await.token("verify-email");
    assert_eq!(
        app.verify_email(&verification).await.status(),
        StatusCode::NO_CONTENT
    );
    let api_token = app.api_token(&old_session, "ci").await;
    app.me(&api_token).await;

    let asked = app.forgot_password(" Grace@Example.com ").await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let mail = smtp.inbox.next_to("grace@example.com").await;
    assert_eq!(mail.subject, "Reset your Kiln password");
    assert!(mail.text.contains("for 1 hour"));
    assert!(mail.text.contains("ends every API token"), "{}", mail.text);
    let token = mail.token("reset-password");

    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.login("grace@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let new_session = &app
        .access_token("grace@example.com", NEW_PASSWORD)
        .await
        .expect("the new password signs in");
    // The link reached the address, so the address is verified too.
    assert_eq!(app.me(new_session).await["user"]["email_verified"], true);

    let old = app.get("/api/me", Some(&old_session)).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(old).await, "unauthorized");
    let old = app.get("/api/me", Some(&api_token)).await;
    assert_eq!(
        old.status(),
        StatusCode::UNAUTHORIZED,
        "the API token ended"
    );
    let listed = app.get_json("/api/tokens", Some(new_session)).await;
    assert_eq!(listed["tokens"], json!([]));

    let twice = app
        .reset_password(&token, "another fine passphrase here")
        .await;
    assert_eq!(twice.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(twice).await, "invalid_token");
    assert_eq!(
        app.login("grace@example.com", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[actix_rt::test]
async fn expired_links_are_refused_and_change_nothing() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    let session = app.signed_in_user("late@example.com").await;
    let verification = smtp.inbox.next().await.token("verify-email");
    assert_eq!(
        app.forgot_password("late@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let reset_token = smtp.inbox.next().await.token("reset-password");

    // An hour and a day later, as far as the links can tell.
    let past = Utc::now() - TimeDelta::seconds(1);
    app.set_time(password_resets::Column::ExpiresAt, past).await;
    app.set_time(email_verifications::Column::ExpiresAt, past)
        .await;

    let expired = app.reset_password(&reset_token, NEW_PASSWORD).await;
    assert_eq!(expired.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(expired).await, "token_expired");
    let expired = app.verify_email(&verification).await;
    assert_eq!(expired.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(expired).await, "token_expired");

    assert_eq!(
        app.login("late@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.me(&session).await["user"]["email_verified"], false);
}

#[actix_rt::test]
async fn forgot_password_answers_alike_for_unknown_addresses_and_mails_nobody_twice_a_minute() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    assert_eq!(
        app.register("known@example.com").await.status(),
        StatusCode::CREATED
    );
    smtp.inbox.next().await; // the verification mail

    let unknown = app.forgot_password("nobody@example.com").await;
    let unknown = (unknown.status(), unknown.text().await.unwrap());
    let known = app.forgot_password("known@example.com").await;
    let known = (known.status(), known.text().await.unwrap());
    assert_eq!(unknown.0, StatusCode::ACCEPTED);
    assert_eq!(unknown, known);
    let mail = smtp.inbox.next_to("known@example.com").await;
    assert_eq!(mail.subject, "Reset your Kiln password");

    // Asked again at once: the same answer, and no second mail.
    let again = app.forgot_password("known@example.com").await;
    assert_eq!((again.status(), again.text().await.unwrap()), known);

    // Any mail the two requests above had caused would be queued before this one.
    assert_eq!(
        app.register("other@example.com").await.status(),
        StatusCode::CREATED
    );
    let next = smtp.inbox.next().await;
    assert!(next.is_to("other@example.com"), "{}", next.to);
    assert_eq!(smtp.inbox.count(), 3);
}

#[actix_rt::test]
async fn a_weak_new_password_is_a_422_and_leaves_the_link_usable() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    app.register("linus.torvalds@example.com").await;
    smtp.inbox.next().await;
    app.forgot_password("linus.torvalds@example.com").await;
    let token = smtp.inbox.next().await.token("reset-password");

    for weak in ["short1!", "password", "12345678", "linus.torvalds1"] {
        let response = app.reset_password(&token, weak).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{weak} was accepted"
        );
        assert_eq!(error_code(response).await, "weak_password");
    }
    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[actix_rt::test]
async fn malformed_tokens_addresses_and_bodies_are_client_errors() {
    let app = spawn_app().await;
    let unknown = "A".repeat(43);
    for (path, body, status, code) in [
        (
            "/api/auth/password/reset",
            json!({ "token": "nope", "password": NEW_PASSWORD }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_token",
        ),
        (
            "/api/auth/password/reset",
            json!({ "token": unknown, "password": NEW_PASSWORD }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_token",
        ),
        (
            "/api/auth/password/reset",
            json!({ "token": unknown }),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "/api/auth/email/verify",
            json!({ "token": "" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_token",
        ),
        (
            "/api/auth/email/verify",
            json!({ "token": 42 }),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "/api/auth/password/forgot",
            json!({ "email": "not-an-email" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
        ),
    ] {
        let response = app.post_json(path, &body, None).await;
        assert_eq!(response.status(), status, "{path} {body}");
        assert_eq!(error_code(response).await, code, "{path} {body}");
    }
}

#[actix_rt::test]
async fn without_smtp_settings_each_mail_is_an_eml_file_under_the_data_dir() {
    let app = spawn_app().await;
    let mut inbox = Inbox::new(app.config.data_dir.join("mail"));
    assert_eq!(
        app.register("newcomer@example.com").await.status(),
        StatusCode::CREATED
    );

    let mail = inbox.next_to("newcomer@example.com").await;
    let file = inbox.files().pop().unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.ends_with(".eml") && name.contains("verify_email"),
        "{name}"
    );
    // The link is one plain line of the file, ready to be clicked.
    let raw = std::fs::read_to_string(&file).unwrap();
    let link = mail.link("verify-email");
    assert!(raw.lines().any(|line| line == link.as_str()), "{raw}");

    assert_eq!(
        app.verify_email(&mail.token("verify-email")).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[actix_rt::test]
async fn a_mail_the_smtp_server_could_not_take_is_retried_until_it_can() {
    let port = free_port();
    let port_text = port.to_string();
    let app = spawn_app_with(&[
        ("SMTP_HOST", "127.0.0.1"),
        ("SMTP_PORT", &port_text),
        ("SMTP_TLS", "none"),
    ])
    .await;
    // Nothing listens yet: the account is made all the same.
    assert_eq!(
        app.register("patient@example.com").await.status(),
        StatusCode::CREATED
    );

    let mut smtp = PrivateSmtp::start_on(port).await;
    let mail = smtp.inbox.next_within(Duration::from_secs(30)).await;
    assert!(mail.is_to("patient@example.com"), "{}", mail.to);
    assert_eq!(
        app.verify_email(&mail.token("verify-email")).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[actix_rt::test]
async fn mail_to_an_address_not_yet_verified_carries_no_text_the_account_chose() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    // Anyone can register someone else's address, with a "name" that is a message.
    let name = "Your invoice is overdue: pay at https://pay.evil.example/now";
    let registered = app
        .post_json(
            "/api/auth/register",
            &json!({ "email": "victim@example.com", "password": PASSWORD, "name": name }),
            None,
        )
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let verification = smtp.inbox.next().await;
    assert_eq!(
        app.forgot_password("victim@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let reset = smtp.inbox.next().await;
    for mail in [&verification, &reset] {
        assert!(mail.is_to("victim@example.com"), "{}", mail.to);
        let html = mail.html.as_deref().unwrap();
        for part in [&mail.to, &mail.subject, &mail.text, html] {
            assert!(
                !part.contains("evil.example") && !part.contains("invoice"),
                "{} carries the name: {part}",
                mail.subject
            );
        }
    }

    // Once the address's owner has proven it, mail greets them by their name.
    let verified = app.verify_email(&verification.token("verify-email")).await;
    assert_eq!(verified.status(), StatusCode::NO_CONTENT);
    // The next reset mail may go out a minute after the last (moved back in
    // the database rather than waited for).
    let two_minutes_ago = Utc::now() - TimeDelta::minutes(2);
    app.set_time(password_resets::Column::CreatedAt, two_minutes_ago)
        .await;
    assert_eq!(
        app.forgot_password("victim@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let greeted = smtp.inbox.next().await;
    assert!(
        greeted.text.contains(&format!("Hello {name},")),
        "{}",
        greeted.text
    );
}

#[actix_rt::test]
async fn new_verification_links_asked_for_from_one_address_are_limited_and_refusals_mail_nothing() {
    let app = spawn_app_with(&[BEHIND_A_PROXY, ("REGISTER_MAX_PER_IP", "2")]).await;
    // Three accounts, each registered and signed in from an address of its own.
    let mut sessions = Vec::new();
    for n in 0..3 {
        let (client, email) = (format!("198.51.100.{n}"), format!("n{n}@example.com"));
        assert_eq!(
            app.register_from(&client, &email).await.status(),
            StatusCode::CREATED
        );
        let session = app.access_token_from(&client, &email, PASSWORD).await;
        sessions.push(session.unwrap());
    }
    // Their first links are a minute old (moved back rather than waited for).
    let two_minutes_ago = Utc::now() - TimeDelta::minutes(2);
    app.set_time(email_verifications::Column::CreatedAt, two_minutes_ago)
        .await;

    let shared = "203.0.113.5";
    for session in &sessions[..2] {
        assert_eq!(
            app.resend_verification_from(shared, session).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let refused = app.resend_verification_from(shared, &sessions[2]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(error_code(refused).await, "rate_limited");
    // The page's button counts against the same limit.
    let mut web = WebClient::from_address(&app, shared);
    web.sign_in_as("n2@example.com", PASSWORD).await;
    let page = web.post_form("/verify-email/resend", &[]).await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));

    // From its own address the third account gets its link: had a refusal
    // mailed one, this would be refused as too soon after it.
    assert_eq!(
        app.resend_verification_from("198.51.100.2", &sessions[2])
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let inbox = app.inbox();
    wait_until(Duration::from_secs(20), || async { inbox.count() >= 6 }).await;
    let to_third = inbox
        .all()
        .iter()
        .filter(|mail| mail.is_to("n2@example.com"))
        .count();
    assert_eq!(to_third, 2, "the registration's link and the one resent");
}
