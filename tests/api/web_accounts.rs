//! The web UI's way in and out, over HTTP: sessions (cookie flags, rotation,
//! server-side sign-out, idle and absolute expiry), CSRF and cross-site
//! refusal, the page security headers, and the mailed-link pages, with the mail
//! received by a real SMTP server on loopback.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use kiln::entities::sessions;
use reqwest::{StatusCode, header};

use crate::support::app::{BEHIND_A_PROXY, NEW_PASSWORD, PASSWORD, spawn_app, spawn_app_with};
use crate::support::servers::PrivateSmtp;
use crate::support::wait::wait_until;
use crate::support::web::{WebClient, location, session_cookie, set_cookies};

#[actix_rt::test]
async fn registering_on_the_page_signs_in_with_a_locked_down_cookie() {
    let app = spawn_app().await;
    let mut web = WebClient::new(&app);
    let response = web
        .post_form(
            "/register",
            &[
                ("name", "Grace"),
                ("email", "grace@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/files");
    let cookie = set_cookies(&response)
        .into_iter()
        .map(|c| c.line)
        .find(|c| c.starts_with("kiln_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    // Plain http: no Secure flag, which a browser would refuse to send back.
    assert!(!cookie.contains("Secure"), "{cookie}");

    let page = web.page("/verify-email/resend").await;
    assert!(page.contains("Grace"), "the page shows who is signed in");
    assert!(
        page.contains("grace@example.com"),
        "and asks to verify the address"
    );
}

#[actix_rt::test]
async fn an_https_site_uses_a_secure_host_prefixed_cookie() {
    let app = spawn_app_with(&[("BASE_URL", "https://kiln.example.com")]).await;
    let mut web = WebClient::new(&app);
    let response = web
        .post_raw(
            "/register",
            &[
                ("name", "Grace"),
                ("email", "grace@example.com"),
                ("password", PASSWORD),
            ],
            Some("https://kiln.example.com"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookies(&response)
        .into_iter()
        .map(|c| c.line)
        .find(|c| c.contains("kiln_session="))
        .expect("a session cookie");
    assert!(cookie.starts_with("__Host-kiln_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain="), "{cookie}");
}

#[actix_rt::test]
async fn signing_in_rotates_the_session_id_and_signing_out_ends_it_on_the_server() {
    let app = spawn_app().await;
    let first = WebClient::register(&app, "ada@example.com").await;
    let stale = first.session().unwrap();

    // Signing in from a browser that holds a session replaces that session.
    let mut web = WebClient::with_session(&app, &stale);
    let response = web
        .post_form(
            "/login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let fresh = web.session().unwrap();
    assert_ne!(fresh, stale, "a sign-in gets a new id");
    let mut old = WebClient::with_session(&app, &stale);
    let response = old.get("/verify-email/resend").await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the old id is dead"
    );
    assert!(location(&response).starts_with("/login?next="));

    web.load_csrf_token().await;
    let response = web.post_form("/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        session_cookie(&response).as_deref(),
        Some("kiln_session="),
        "the cookie is cleared"
    );
    // Replaying the cookie after sign-out opens nothing: it ended server-side.
    let mut replay = WebClient::with_session(&app, &fresh);
    let response = replay.get("/verify-email/resend").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = replay.get("/api/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_rt::test]
async fn a_wrong_password_is_shown_on_the_form_and_sets_no_cookie() {
    let app = spawn_app().await;
    WebClient::register(&app, "ada@example.com").await;
    let mut web = WebClient::new(&app);
    let response = web
        .post_form(
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&response).is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("email or password is incorrect"), "{page}");
    assert!(
        page.contains(r#"value="ada@example.com""#),
        "the address is kept"
    );
}

#[actix_rt::test]
async fn sign_in_sends_the_browser_back_to_the_page_it_asked_for_on_this_site_only() {
    let app = spawn_app().await;
    WebClient::register(&app, "ada@example.com").await;
    let mut web = WebClient::new(&app);
    let response = web.get("/verify-email/resend").await;
    assert_eq!(
        location(&response),
        "/login?next=%2Fverify-email%2Fresend",
        "a signed-out visit goes to sign in"
    );
    let sign_in = |next: &'static str| {
        let app = &app;
        async move {
            let mut web = WebClient::new(app);
            let response = web.post_login("ada@example.com", PASSWORD, next).await;
            location(&response)
        }
    };
    assert_eq!(
        sign_in("/verify-email/resend").await,
        "/verify-email/resend"
    );
    assert_eq!(sign_in("//evil.example/x").await, "/files");
    assert_eq!(sign_in("https://evil.example/").await, "/files");
}

#[actix_rt::test]
async fn sign_in_never_sends_the_browser_to_another_host_whatever_next_says() {
    let app = spawn_app().await;
    WebClient::register(&app, "ada@example.com").await;
    let site = url::Url::parse(&app.address).unwrap();
    let mut web = WebClient::new(&app);
    for next in [
        "/\t/evil.example/x",
        "/\n/evil.example/x",
        "/\\evil.example/x",
        "\\\\evil.example/x",
        "//evil.example/x",
        "/.//evil.example/x",
        "https:evil.example/x",
        "javascript:alert(document.domain)",
        "\u{FF0F}\u{FF0F}evil.example/x",
    ] {
        let response = web.post_login("ada@example.com", PASSWORD, next).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
        let target = location(&response);
        let followed = site.join(&target).unwrap();
        assert_eq!(
            followed.origin(),
            site.origin(),
            "{next:?} sent the browser to {target:?}"
        );
        assert!(
            target.starts_with('/') && !target.starts_with("//"),
            "{next:?} became {target:?}"
        );
    }
    // Signed in already, the sign-in page sends the browser on at once.
    let response = web.get("/login?next=/%09/evil.example/x").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/files");
}

#[actix_rt::test]
async fn the_sign_in_page_shows_no_message_from_its_address() {
    let app = spawn_app().await;
    let page = WebClient::new(&app)
        .page("/login?error=Your+account+is+locked.+Call+us+at+evil.example")
        .await;
    assert!(!page.contains("evil.example"), "{page}");
    assert!(!page.contains(r#"data-test="form-error""#));
}

#[actix_rt::test]
async fn the_register_page_counts_against_the_same_limit_per_address_as_the_api() {
    let app = spawn_app_with(&[BEHIND_A_PROXY, ("REGISTER_MAX_PER_IP", "1")]).await;
    let client = "203.0.113.40";
    assert_eq!(
        app.register_from(client, "first@example.com")
            .await
            .status(),
        StatusCode::CREATED
    );
    let form = [
        ("name", "Second"),
        ("email", "second@example.com"),
        ("password", PASSWORD),
    ];
    let refused = WebClient::from_address(&app, client)
        .post_form("/register", &form)
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert!(session_cookie(&refused).is_none(), "nobody is signed in");
    let elsewhere = WebClient::from_address(&app, "198.51.100.40")
        .post_form("/register", &form)
        .await;
    assert_eq!(elsewhere.status(), StatusCode::SEE_OTHER);
}

#[actix_rt::test]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "ada@example.com").await;

    // Another origin (even on the same host, another port) posting a form.
    let response = web
        .post_raw("/logout", &[], Some("http://127.0.0.1:1"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A browser that sends no Origin but says the request is cross-site.
    let response = app
        .client
        .post(app.url("/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&response).is_none());

    // Same origin but without the session's token: refused as well.
    let token = web.csrf_token.take();
    let response = web.post_form("/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = web
        .post_form("/logout", &[("csrf_token", "0".repeat(64).as_str())])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    web.csrf_token = token;
    web.page("/verify-email/resend").await; // still signed in

    // GET never changes anything, even with a token in the query.
    let response = web.get("/logout").await;
    assert_ne!(response.status(), StatusCode::SEE_OTHER);
    web.page("/verify-email/resend").await;
}

#[actix_rt::test]
async fn the_api_takes_a_session_cookie_only_with_the_csrf_header_for_changes() {
    let app = spawn_app().await;
    let web = WebClient::register(&app, "ada@example.com").await;
    let cookie = web.session().unwrap();
    let me = app
        .client
        .get(app.url("/api/me"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    let resend = |csrf: Option<String>| {
        let mut request = app
            .client
            .post(app.url("/api/auth/email/resend"))
            .header(header::COOKIE, &cookie)
            .json(&serde_json::json!({}));
        if let Some(token) = csrf {
            request = request.header("x-csrf-token", token);
        }
        request.send()
    };
    let refused = resend(None).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = resend(Some("f".repeat(64))).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Registration mailed a link moments ago: the token is accepted, and the
    // mail rate limit answers.
    let accepted = resend(web.csrf_token.clone()).await.unwrap();
    assert_eq!(accepted.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[actix_rt::test]
async fn pages_carry_a_strict_content_security_policy() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register", "/forgot-password"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = response
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap_or_else(|| panic!("{path} has a CSP"))
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let page = response.text().await.unwrap();
        assert!(!page.contains("<script>"), "{path} has no inline script");
        assert!(!page.contains("style="), "{path} has no inline style");
    }
    let css = app.get("/static/kiln.css", None).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(
        app.get("/static/../Cargo.toml", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_rt::test]
async fn an_idle_session_and_an_old_session_end() {
    let idle = spawn_app_with(&[("SESSION_IDLE_TIMEOUT", "1h")]).await;
    let mut web = WebClient::register(&idle, "ada@example.com").await;
    // An hour and a minute without a request (moved back in the database
    // rather than waited for).
    let over_an_hour_ago = Utc::now() - TimeDelta::minutes(61);
    idle.set_time(sessions::Column::LastSeenAt, over_an_hour_ago)
        .await;
    assert_eq!(
        web.get("/verify-email/resend").await.status(),
        StatusCode::SEE_OTHER
    );

    let old = spawn_app_with(&[("SESSION_MAX_AGE", "2s")]).await;
    let mut web = WebClient::register(&old, "ada@example.com").await;
    // Busy, never idle: still ends when its absolute lifetime is over.
    wait_until(Duration::from_secs(10), async || {
        web.get("/verify-email/resend").await.status() == StatusCode::SEE_OTHER
    })
    .await;
}

#[actix_rt::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link_and_ends_every_session() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    let mut other_browser = WebClient::register(&app, "ada@example.com").await;
    smtp.inbox.next().await; // the verification mail

    let mut web = WebClient::new(&app);
    let response = web
        .post_form("/forgot-password", &[("email", "ada@example.com")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let unknown = WebClient::new(&app)
        .post_form("/forgot-password", &[("email", "nobody@example.com")])
        .await;
    assert_eq!(unknown.status(), response.status(), "the same answer");
    assert_eq!(location(&unknown), location(&response));

    let mail = smtp.inbox.next().await;
    let path = mail.link_path("reset-password");
    let form = web.page(&path).await;
    assert!(form.contains("ada@example.com"));
    let token = mail.token("reset-password");

    let mismatch = web
        .post_form(
            "/reset-password",
            &[
                ("token", &token),
                ("password", NEW_PASSWORD),
                ("password_confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.text().await.unwrap().contains("not the same"));

    let done = web
        .post_form(
            "/reset-password",
            &[
                ("token", &token),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/login");
    assert_eq!(
        other_browser.get("/verify-email/resend").await.status(),
        StatusCode::SEE_OTHER,
        "the reset signed out the other browser"
    );
    let spent = web.get(&path).await;
    assert_eq!(
        spent.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "single use"
    );
    WebClient::sign_in(&app, "ada@example.com", NEW_PASSWORD).await;
}

#[actix_rt::test]
async fn forgot_password_requests_are_limited_per_client_address() {
    let app = spawn_app_with(&[("LOGIN_MAX_ATTEMPTS_PER_IP", "2")]).await;
    for n in 0..2 {
        let response = WebClient::new(&app)
            .post_form(
                "/forgot-password",
                &[("email", &format!("n{n}@example.com"))],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let refused = WebClient::new(&app)
        .post_form("/forgot-password", &[("email", "n3@example.com")])
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let api = app
        .post_json(
            "/api/auth/password/forgot",
            &serde_json::json!({ "email": "n4@example.com" }),
            None,
        )
        .await;
    assert_eq!(
        api.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "one count for both doors"
    );
}

#[actix_rt::test]
async fn the_verification_link_opens_a_page_and_only_its_button_verifies() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    let mut web = WebClient::register(&app, "ada@example.com").await;
    let mail = smtp.inbox.next().await;
    let path = mail.link_path("verify-email");

    let page = web.page(&path).await;
    assert!(page.contains("Verify my address"));
    let me = web.api_json("/api/me").await;
    assert_eq!(
        me["user"]["email_verified"], false,
        "opening the link verifies nothing"
    );

    let token = mail.token("verify-email");
    let response = web.post_form("/verify-email", &[("token", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/files");
    let me = web.api_json("/api/me").await;
    assert_eq!(me["user"]["email_verified"], true);

    let again = web.post_form("/verify-email", &[("token", &token)]).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text().await.unwrap().contains("Send a new link"));
}
