//! The accounts API: register, login, logout, /api/me, JWT rules, and the rate
//! limits on signing in and registering, per client address behind a proxy too.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::api::{error_code, retry_after};
use crate::support::app::{
    BEHIND_A_PROXY, JWT_SECRET, PASSWORD, TestApp, spawn_app, spawn_app_with,
};
use crate::support::wait::wait_until;

#[actix_rt::test]
async fn registering_returns_the_new_user_without_secrets() {
    let app = spawn_app().await;
    let response = app.register("  Ada@Example.COM ").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Test User");
    assert_eq!(user["email_verified"], false);
    assert!(Uuid::parse_str(user["id"].as_str().unwrap()).is_ok());
    assert!(chrono::DateTime::parse_from_rfc3339(user["created_at"].as_str().unwrap()).is_ok());
    assert!(
        !body.to_string().contains("argon2"),
        "no password hash in the body"
    );
}

#[actix_rt::test]
async fn registering_a_taken_email_in_any_case_is_a_409() {
    let app = spawn_app().await;
    assert_eq!(
        app.register("grace@example.com").await.status(),
        StatusCode::CREATED
    );
    let response = app.register("GRACE@example.com").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(response).await, "email_taken");
}

#[actix_rt::test]
async fn weak_short_and_overlong_passwords_are_refused_with_422() {
    let app = spawn_app().await;
    let long = "Zq7!".repeat(33);
    for password in [
        "short1!",
        "password",
        "12345678",
        "aaaaaaaaaaaa",
        "linus.torvalds1",
        long.as_str(),
    ] {
        let response = app
            .post_json(
                "/api/auth/register",
                &json!({ "email": "linus.torvalds@example.com", "password": password, "name": "Linus" }),
                None,
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password} was accepted"
        );
        assert_eq!(error_code(response).await, "weak_password");
    }
}

#[actix_rt::test]
async fn malformed_emails_and_blank_names_are_refused_with_422() {
    let app = spawn_app().await;
    for (email, name, code) in [
        ("not-an-email", "Ann", "invalid_email"),
        ("ann@localhost", "Ann", "invalid_email"),
        ("ann@example.com", "   ", "invalid_name"),
    ] {
        let response = app
            .post_json(
                "/api/auth/register",
                &json!({ "email": email, "password": PASSWORD, "name": name }),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(response).await, code);
    }
}

#[actix_rt::test]
async fn malformed_json_and_missing_fields_are_a_400_with_the_error_body() {
    let app = spawn_app().await;
    let missing = app
        .post_json(
            "/api/auth/register",
            &json!({ "email": "a@example.com" }),
            None,
        )
        .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(missing).await, "invalid_json");

    let broken = app
        .client
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(broken).await, "invalid_json");

    let not_json = app
        .client
        .post(app.url("/api/auth/login"))
        .body("email=a@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(not_json).await, "invalid_json");
}

#[actix_rt::test]
async fn login_returns_a_bearer_token_that_opens_me() {
    let app = spawn_app().await;
    app.register("turing@example.com").await;
    let response = app.login("Turing@Example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["user"]["email"], "turing@example.com");
    let token = body["access_token"].as_str().unwrap();

    let me = app.get("/api/me", Some(token)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["user"]["id"], body["user"]["id"]);
}

#[actix_rt::test]
async fn unknown_email_and_wrong_password_get_the_same_401() {
    let app = spawn_app().await;
    app.register("hopper@example.com").await;
    let wrong_password = app
        .login("hopper@example.com", "not the password at all")
        .await;
    let unknown_email = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    let a: Value = wrong_password.json().await.unwrap();
    let b: Value = unknown_email.json().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a["error"]["code"], "invalid_credentials");
}

#[actix_rt::test]
async fn logout_revokes_the_token_it_was_called_with() {
    let app = spawn_app().await;
    let token = app.signed_in_user("lovelace@example.com").await;
    let other_session = app
        .access_token("lovelace@example.com", PASSWORD)
        .await
        .unwrap();
    let logout = app
        .post_json("/api/auth/logout", &json!({}), Some(&token))
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(me).await, "unauthorized");
    assert_eq!(app.me_status(&other_session).await, StatusCode::OK);
}

#[actix_rt::test]
async fn me_without_a_credential_or_with_garbage_is_a_401() {
    let app = spawn_app().await;
    let none = app.get("/api/me", None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(none).await, "unauthorized");
    for garbage in ["garbage", "kiln_notatoken", "a.b.c"] {
        let response = app.get("/api/me", Some(garbage)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{garbage}");
    }
    let basic = app
        .client
        .get(app.url("/api/me"))
        .basic_auth("user", Some("pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

fn claims(user_id: &str, exp_offset_secs: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({ "sub": user_id, "iat": now, "exp": now + exp_offset_secs, "jti": Uuid::new_v4() })
}

#[actix_rt::test]
async fn forged_tokens_are_refused_alg_none_other_algorithms_bad_signatures_and_expired() {
    let app = spawn_app().await;
    let token = app.signed_in_user("forgery@example.com").await;
    let user_id = &app.user_id(&token).await;

    // A token we sign correctly is accepted, so the refusals below are about the flaw.
    let valid = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(user_id, 300),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(app.me_status(&valid).await, StatusCode::OK);

    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(user_id, 300).to_string())
    );
    // Signed by hand: Kiln's jsonwebtoken provider signs HS256 alone.
    let hs512 = {
        use hmac::{Hmac, Mac};
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims(user_id, 300).to_string())
        );
        let mut mac = <Hmac<sha2::Sha512> as Mac>::new_from_slice(JWT_SECRET.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let wrong_key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(user_id, 300),
        &EncodingKey::from_secret(b"some-other-secret-some-other-secret").unwrap(),
    )
    .unwrap();
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(user_id, -5),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let mut tampered = valid.clone();
    let flip = tampered.len() - 3;
    tampered.replace_range(
        flip..flip + 1,
        if &valid[flip..flip + 1] == "A" {
            "B"
        } else {
            "A"
        },
    );
    for (what, forged) in [
        ("alg none", alg_none),
        ("HS512", hs512),
        ("wrong key", wrong_key),
        ("expired", expired),
        ("tampered", tampered),
    ] {
        let response = app.get("/api/me", Some(&forged)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{what} token was accepted"
        );
    }
}

#[actix_rt::test]
async fn repeated_failures_for_an_account_from_one_address_are_refused_with_429_and_retry_after() {
    let app = spawn_app_with(&[("LOGIN_MAX_ATTEMPTS_PER_ACCOUNT", "3")]).await;
    app.register("target@example.com").await;
    for _ in 0..3 {
        let response = app
            .login("target@example.com", "wrong password guess")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked now, even for the right password.
    let locked = app.login("target@example.com", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = retry_after(&locked);
    assert!(
        (1..=15 * 60).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert_eq!(error_code(locked).await, "rate_limited");
    // Another account from the same address is unaffected.
    app.register("bystander@example.com").await;
    assert_eq!(
        app.login("bystander@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[actix_rt::test]
async fn many_failures_from_one_address_are_limited_across_accounts() {
    let app = spawn_app_with(&[("LOGIN_MAX_ATTEMPTS_PER_IP", "4")]).await;
    for i in 0..4 {
        let response = app
            .login(&format!("guess{i}@example.com"), "wrong password guess")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = app
        .login("guess9@example.com", "wrong password guess")
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
}

#[actix_rt::test]
async fn a_successful_login_clears_earlier_failures_of_the_account() {
    let app = spawn_app_with(&[("LOGIN_MAX_ATTEMPTS_PER_ACCOUNT", "3")]).await;
    app.register("forgetful@example.com").await;
    // Two failures and a success, twice: four failures in all, over a limit of
    // three, and the account is never refused.
    for round in 0..2 {
        for _ in 0..2 {
            app.login("forgetful@example.com", "wrong password guess")
                .await;
        }
        let success = app.login("forgetful@example.com", PASSWORD).await;
        assert_eq!(success.status(), StatusCode::OK, "round {round}");
    }
}

const WRONG: &str = "wrong password guess";

#[actix_rt::test]
async fn a_burst_of_concurrent_wrong_passwords_reaches_the_password_check_only_up_to_the_limit() {
    // The defaults: 5 free attempts for an account from one address.
    let app = spawn_app().await;
    assert_eq!(
        app.register("target@example.com").await.status(),
        StatusCode::CREATED
    );
    let burst = (0..100).map(|_| app.login("target@example.com", WRONG));
    let mut checked = 0;
    for response in futures::future::join_all(burst).await {
        match response.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers().contains_key("retry-after"));
                assert_eq!(error_code(response).await, "rate_limited");
            }
            other => panic!("a login in the burst got {other}"),
        }
    }
    // A 401 is only ever answered after the password was checked.
    assert!(
        (1..=5).contains(&checked),
        "{checked} wrong passwords reached the check"
    );
    // The right password, sent after the burst, waits like the rest.
    let locked = app.login("target@example.com", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
}

#[actix_rt::test]
async fn an_attacker_failing_from_one_address_does_not_stop_the_owner_signing_in_from_another() {
    let app = spawn_app_with(&[BEHIND_A_PROXY, ("LOGIN_MAX_ATTEMPTS_PER_IP", "8")]).await;
    for email in ["owner@example.com", "colleague@example.com"] {
        assert_eq!(app.register(email).await.status(), StatusCode::CREATED);
    }
    let attacker = "203.0.113.66";
    for _ in 0..5 {
        let guess = app.login_from(attacker, "owner@example.com", WRONG).await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let waits = app
        .login_from(attacker, "owner@example.com", PASSWORD)
        .await;
    assert_eq!(
        waits.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker's address waits, even with the right password"
    );
    // Other accounts, until the attacker's address has used up its attempts.
    for _ in 0..3 {
        let guess = app
            .login_from(attacker, "colleague@example.com", WRONG)
            .await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let waits = app.login_from(attacker, "anyone@example.com", WRONG).await;
    assert_eq!(waits.status(), StatusCode::TOO_MANY_REQUESTS);

    // Neither the owner nor anyone else behind the same proxy is locked out.
    for (client, email) in [
        ("198.51.100.7", "owner@example.com"),
        ("198.51.100.8", "colleague@example.com"),
    ] {
        let signed_in = app.login_from(client, email, PASSWORD).await;
        assert_eq!(signed_in.status(), StatusCode::OK, "{email}");
    }
}

/// Three wrong guesses with `X-Forwarded-For: forwarded(n)`, each refused as
/// wrong, then a fourth that must wait: the app counted all four as one client.
async fn three_guesses_then_a_wait(app: &TestApp, forwarded: impl Fn(u32) -> String) {
    for n in 0..3 {
        let guess = app
            .login_from(&forwarded(n), &format!("guess{n}@example.com"), WRONG)
            .await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let waits = app
        .login_from(&forwarded(99), "guess9@example.com", WRONG)
        .await;
    assert_eq!(waits.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[actix_rt::test]
async fn forwarded_for_names_the_client_only_when_the_peer_is_a_trusted_proxy() {
    let limit = ("LOGIN_MAX_ATTEMPTS_PER_IP", "3");
    // Reached directly: the header is the client's to write, so it is ignored.
    let direct = spawn_app_with(&[limit]).await;
    three_guesses_then_a_wait(&direct, |n| format!("198.51.100.{n}")).await;

    // Behind a trusted proxy: the right-most address it did not write itself.
    // What the client put left of it changes nothing.
    let proxied = spawn_app_with(&[BEHIND_A_PROXY, limit]).await;
    three_guesses_then_a_wait(&proxied, |n| format!("10.9.9.{n}, 203.0.113.7")).await;
    let another = proxied
        .login_from("203.0.113.8", "guess9@example.com", WRONG)
        .await;
    assert_eq!(
        another.status(),
        StatusCode::UNAUTHORIZED,
        "another client is counted apart"
    );
}

#[actix_rt::test]
async fn a_burst_of_registrations_from_one_address_is_cut_off_while_another_address_still_registers()
 {
    let app = spawn_app_with(&[BEHIND_A_PROXY, ("REGISTER_MAX_PER_IP", "3")]).await;
    let emails: Vec<String> = (0..20).map(|n| format!("bot{n}@example.com")).collect();
    let burst = emails
        .iter()
        .map(|email| app.register_from("203.0.113.20", email));
    let mut created = BTreeSet::new();
    let mut refused = Vec::new();
    for (email, response) in emails.iter().zip(futures::future::join_all(burst).await) {
        match response.status() {
            StatusCode::CREATED => {
                created.insert(email.clone());
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let retry_after = retry_after(&response);
                assert!((1..=3600).contains(&retry_after), "{retry_after}");
                assert_eq!(error_code(response).await, "rate_limited");
                refused.push(email.clone());
            }
            other => panic!("a registration in the burst got {other}"),
        }
    }
    assert_eq!(created.len(), 3, "{created:?}");

    // A refusal made nothing: the address is still free, from elsewhere.
    let from_elsewhere = app.register_from("198.51.100.30", &refused[0]).await;
    assert_eq!(from_elsewhere.status(), StatusCode::CREATED);
    created.insert(refused[0].clone());

    // One mail per account made, none for the refused.
    let inbox = app.inbox();
    wait_until(Duration::from_secs(20), || async {
        inbox.count() >= created.len()
    })
    .await;
    let mailed = inbox.all();
    assert_eq!(mailed.len(), created.len(), "one mail each");
    for email in &created {
        assert!(mailed.iter().any(|mail| mail.is_to(email)), "{email}");
    }
}
