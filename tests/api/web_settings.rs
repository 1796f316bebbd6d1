//! The settings page over HTTP: the name, the password (whose change ends every
//! other sign-in server-side and keeps the changing browser signed in), personal
//! API tokens (the secret shown once, usable as a bearer, dead once revoked), and
//! the CSRF token every settings form needs.

use reqwest::{StatusCode, header};

use crate::support::app::{NEW_PASSWORD, PASSWORD, spawn_app, spawn_app_with};
use crate::support::web::{WebClient, location};

/// The value of the input carrying a new token's secret, if the page shows one.
fn shown_secret(page: &str) -> Option<String> {
    let field = page.find(r#"data-test="new-token-secret""#)?;
    let input = page[..field].rfind("<input")?;
    let value = page[input..].find(r#"value=""#)? + input + 7;
    let end = page[value..].find('"')? + value;
    Some(page[value..end].to_string())
}

/// The ids of the tokens listed on the page, from their revoke forms.
fn listed_token_ids(page: &str) -> Vec<String> {
    page.match_indices("/settings/tokens/")
        .filter_map(|(at, prefix)| {
            let rest = &page[at + prefix.len()..];
            let end = rest.find("/revoke")?;
            Some(rest[..end].to_string())
        })
        .collect()
}

#[actix_rt::test]
async fn settings_needs_a_session_and_shows_the_account() {
    let app = spawn_app().await;
    let mut stranger = WebClient::new(&app);
    let response = stranger.get("/settings").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Fsettings");

    let mut web = WebClient::register(&app, "settings@example.com").await;
    let response = web.get("/settings").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let page = response.text().await.unwrap();
    for shown in [
        "settings@example.com",
        r#"value="Web User""#,
        "Change password",
        r#"name="current_password""#,
        "No API tokens yet",
    ] {
        assert!(page.contains(shown), "{shown} missing from the page");
    }
    for form in [
        "/settings/profile",
        "/settings/password",
        "/settings/tokens",
    ] {
        assert!(page.contains(&format!(r#"action="{form}""#)), "{form}");
    }
    assert!(!page.contains("<script>") && !page.contains("style="));
}

#[actix_rt::test]
async fn a_user_changes_their_name_and_an_empty_one_is_refused() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "renamed@example.com").await;

    let response = web
        .post_form("/settings/profile", &[("name", "  Ada Lovelace ")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings");
    let page = web.follow_with_notice(&response).await;
    assert!(page.contains("Your name is saved."), "a notice confirms it");
    assert!(
        page.contains(r#"value="Ada Lovelace""#),
        "trimmed and stored"
    );
    let token = app
        .access_token("renamed@example.com", PASSWORD)
        .await
        .unwrap();
    let me = app.me(&token).await;
    assert_eq!(me["user"]["name"], "Ada Lovelace");

    let response = web.post_form("/settings/profile", &[("name", "   ")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"data-test="profile-error""#), "{page}");
    let me = app.me(&token).await;
    assert_eq!(me["user"]["name"], "Ada Lovelace", "nothing changed");
}

#[actix_rt::test]
async fn changing_the_password_ends_every_other_sign_in_but_keeps_this_browser_signed_in() {
    let app = spawn_app().await;
    let email = "changer@example.com";
    let mut here = WebClient::register(&app, email).await;
    let mut elsewhere = WebClient::sign_in(&app, email, PASSWORD).await;
    let jwt = app.access_token(email, PASSWORD).await.unwrap();
    assert_eq!(app.me_status(&jwt).await, StatusCode::OK);
    let session_before = here.session();

    let response = here
        .post_form(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings");
    assert!(here.session().is_some());
    assert_ne!(
        here.session(),
        session_before,
        "this browser has a new session"
    );

    // This browser stays signed in, with the new session's CSRF token.
    let page = here.follow_with_notice(&response).await;
    assert!(page.contains("Your password is changed."), "{page}");
    here.load_csrf_token().await;
    let response = here
        .post_form("/settings/profile", &[("name", "Still Here")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The other browser's session ended on the server.
    let response = elsewhere.get("/settings").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/login"),
        "{}",
        location(&response)
    );

    // An access token issued before the change no longer opens the account.
    assert_eq!(app.me_status(&jwt).await, StatusCode::UNAUTHORIZED);
    assert!(app.access_token(email, PASSWORD).await.is_none());
    let fresh = app.access_token(email, NEW_PASSWORD).await.unwrap();
    assert_eq!(app.me_status(&fresh).await, StatusCode::OK);
}

#[actix_rt::test]
async fn a_wrong_current_password_or_a_mistyped_new_one_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let email = "careful@example.com";
    let mut web = WebClient::register(&app, email).await;
    let mut elsewhere = WebClient::sign_in(&app, email, PASSWORD).await;
    let jwt = app.access_token(email, PASSWORD).await.unwrap();

    let response = web
        .post_form(
            "/settings/password",
            &[
                ("current_password", "not the password at all"),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("your current password is not correct"),
        "{page}"
    );
    assert!(page.contains(r#"data-test="password-error""#));

    let response = web
        .post_form(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                (
                    "new_password_confirm",
                    &NEW_PASSWORD[..NEW_PASSWORD.len() - 1],
                ),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("the two new passwords are not the same"));

    let response = web
        .post_form(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "password"),
                ("new_password_confirm", "password"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("too easy to guess"));

    assert_eq!(app.me_status(&jwt).await, StatusCode::OK);
    assert_eq!(elsewhere.get("/settings").await.status(), StatusCode::OK);
    assert!(app.access_token(email, PASSWORD).await.is_some());
}

#[actix_rt::test]
async fn a_new_token_is_shown_once_works_as_a_bearer_and_stops_working_when_revoked() {
    let app = spawn_app().await;
    let mut web = WebClient::register_verified(&app, "tokens@example.com").await;

    let response = web
        .post_form(
            "/settings/tokens",
            &[("name", "Nightly backup"), ("expires_in_days", "30")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let page = response.text().await.unwrap();
    let secret = shown_secret(&page).expect("the new token is shown");
    assert!(secret.starts_with("kiln_"), "{secret}");
    assert!(page.contains("shown only this once"));
    assert!(page.contains(r#"data-copy-target="new-token-secret""#));

    let page = web.page("/settings").await;
    assert!(shown_secret(&page).is_none(), "a reload does not show it");
    assert!(!page.contains(&secret));
    assert!(page.contains("Nightly backup"));
    assert!(
        page.contains(&format!("{}…", &secret[..11])),
        "its prefix is listed"
    );

    assert_eq!(app.me_status(&secret).await, StatusCode::OK);
    let me = app.me(&secret).await;
    assert_eq!(me["user"]["email"], "tokens@example.com");

    let ids = listed_token_ids(&page);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let response = web
        .post_form(&format!("/settings/tokens/{}/revoke", ids[0]), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings#tokens");
    assert_eq!(app.me_status(&secret).await, StatusCode::UNAUTHORIZED);
    let page = web.follow_with_notice(&response).await;
    assert!(page.contains("The token is revoked"));
    assert!(page.contains("No API tokens yet"));

    // Revoking it again, or someone else's, finds nothing.
    let response = web
        .post_form(&format!("/settings/tokens/{}/revoke", ids[0]), &[])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn an_account_whose_address_is_not_verified_is_told_so_and_gets_no_token() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "unproven@example.com").await;
    let page = web.page("/settings").await;
    assert!(page.contains("once your e-mail address is verified"));

    let response = web
        .post_form(
            "/settings/tokens",
            &[("name", "Backdoor"), ("expires_in_days", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"data-test="token-error""#), "{page}");
    assert!(page.contains("verify your e-mail address first"));
    assert!(shown_secret(&page).is_none());
    assert!(listed_token_ids(&page).is_empty());
}

#[actix_rt::test]
async fn a_token_without_a_name_or_with_a_bad_lifetime_is_refused_on_the_page() {
    let app = spawn_app().await;
    let mut web = WebClient::register_verified(&app, "picky@example.com").await;
    for (name, days, message) in [
        ("", "30", "name must not be empty"),
        ("Later", "0", "number of days from 1 to 3650"),
        ("Later", "soon", "number of days from 1 to 3650"),
    ] {
        let response = web
            .post_form(
                "/settings/tokens",
                &[("name", name), ("expires_in_days", days)],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{days}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains(message), "{message} missing");
        assert!(shown_secret(&page).is_none());
    }
    // A token that never expires is fine.
    let response = web
        .post_form(
            "/settings/tokens",
            &[("name", "Forever"), ("expires_in_days", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("It never expires"));
    assert_eq!(listed_token_ids(&page).len(), 1);
}

#[actix_rt::test]
async fn a_settings_post_without_the_right_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let email = "guarded@example.com";
    let mut web = WebClient::register_verified(&app, email).await;
    let page = web
        .post_form(
            "/settings/tokens",
            &[("name", "Kept"), ("expires_in_days", "7")],
        )
        .await
        .text()
        .await
        .unwrap();
    let secret = shown_secret(&page).unwrap();
    let token_id = listed_token_ids(&page).remove(0);

    let origin = app.address.clone();
    let revoke = format!("/settings/tokens/{token_id}/revoke");
    let attempts: [(&str, Vec<(&str, &str)>); 4] = [
        ("/settings/profile", vec![("name", "Mallory")]),
        (
            "/settings/password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        ),
        (
            "/settings/tokens",
            vec![("name", "Sneaky"), ("expires_in_days", "7")],
        ),
        (revoke.as_str(), vec![]),
    ];
    for (path, fields) in attempts {
        let response = web.post_raw(path, &fields, Some(&origin)).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        let mut wrong = fields.clone();
        wrong.push(("csrf_token", "not-the-sessions-token"));
        let response = web.post_raw(path, &wrong, Some(&origin)).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{path} with a wrong token"
        );
        assert!(
            shown_secret(&response.text().await.unwrap()).is_none(),
            "{path}"
        );
    }

    let page = web.page("/settings").await;
    assert!(
        page.contains(r#"value="Web User""#),
        "the name did not change"
    );
    assert_eq!(listed_token_ids(&page), vec![token_id], "no token was made");
    assert!(!page.contains("Sneaky"));
    assert_eq!(app.me_status(&secret).await, StatusCode::OK, "nor revoked");
    assert!(app.access_token(email, PASSWORD).await.is_some());
}

#[actix_rt::test]
async fn an_account_without_a_password_sets_its_first_one_and_may_then_unlink_its_provider() {
    use kiln::actors::catalog::oauth::{OAuthSignIn, OAuthSignInOutcome};
    use kiln::actors::catalog::sessions::CreateSession;
    use kiln::auth::oauth::{Identity, Provider};
    use kiln::auth::session_token;
    use kiln::telemetry::RequestId;

    let app = spawn_app_with(&[
        ("GOOGLE_CLIENT_ID", "google-id"),
        ("GOOGLE_CLIENT_SECRET", "google-secret"),
        ("GITHUB_CLIENT_ID", "github-id"),
        ("GITHUB_CLIENT_SECRET", "github-secret"),
    ])
    .await;
    // An account made by signing in with Google (the exchange itself is
    // oauth.rs's to test), and a browser session for it.
    let outcome = app
        .actors
        .catalog
        .send(OAuthSignIn {
            request_id: RequestId::generate(),
            identity: Identity {
                provider: Provider::Google,
                provider_user_id: "g-4242".into(),
                email: Some("olive@example.com".into()),
                email_verified: true,
                name: Some("Olive".into()),
            },
        })
        .await
        .unwrap()
        .unwrap();
    let OAuthSignInOutcome::Created(user) = outcome else {
        panic!("a new account: {outcome:?}");
    };
    let session = session_token::generate();
    app.actors
        .catalog
        .send(CreateSession {
            request_id: RequestId::generate(),
            user_id: user.id,
            id_hash: session.id_hash,
            csrf_token_hash: session.csrf_token_hash,
            user_agent: None,
            ip: None,
            expires_at: chrono::Utc::now() + chrono::TimeDelta::hours(1),
            replaces: None,
        })
        .await
        .unwrap()
        .unwrap();
    let mut web = WebClient::with_session(&app, &format!("kiln_session={}", session.id));
    web.load_csrf_token().await;

    let page = web.page("/settings").await;
    assert!(page.contains("Set a password"));
    assert!(!page.contains(r#"name="current_password""#));
    assert!(page.contains(r#"data-test="provider-google""#));
    assert!(page.contains("This is your only way to sign in"), "{page}");
    assert!(!page.contains("/settings/oauth/google/unlink"));
    assert!(page.contains(r#"action="/settings/oauth/github/link""#));

    let response = web
        .post_form(
            "/settings/password",
            &[
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    web.load_csrf_token().await;
    let page = web.page("/settings").await;
    assert!(
        page.contains(r#"name="current_password""#),
        "a password now"
    );
    assert!(!page.contains("This is your only way to sign in"));
    assert!(page.contains(r#"action="/settings/oauth/google/unlink""#));
    assert!(
        app.access_token("olive@example.com", NEW_PASSWORD)
            .await
            .is_some()
    );
}
