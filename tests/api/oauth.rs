//! Signing in with Google and GitHub, and linking them in settings, against a
//! real OAuth provider on loopback ([`OAuthProvider`]): the whole redirect,
//! callback, token and userinfo exchange, driven over HTTP the way a browser
//! follows it (cookies kept per site, redirects followed by hand).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kiln::actors::catalog::oauth::{
    ListOAuthAccounts, OAuthSignIn, OAuthSignInOutcome, SignInMethods,
};
use kiln::auth::oauth::{Identity, Provider};
use kiln::telemetry::RequestId;
use reqwest::{Response, StatusCode, header};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;
use uuid::Uuid;

use crate::support::app::{PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::support::oauth_provider::{CLIENT_ID, CLIENT_SECRET, OAuthProvider, ProviderUser};
use crate::support::web::{WebClient, assert_page_says, location, set_cookies};

const SESSION: &str = "kiln_session";
const FLOW: &str = "kiln_oauth";

/// An app that signs in with `providers` ("GOOGLE", "GITHUB") at `provider`.
async fn app_with(provider: &OAuthProvider, providers: &[&str]) -> TestApp {
    spawn_app_with(providers.iter().flat_map(|p| provider.env(p))).await
}

/// Where a redirect points, as a URL (Kiln's own are relative: on kiln.invalid).
fn redirect_url(response: &Response) -> Url {
    let target = location(response);
    Url::parse(&target).unwrap_or_else(|_| {
        Url::parse("http://kiln.invalid")
            .unwrap()
            .join(&target)
            .unwrap()
    })
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Follows a 302 to the provider's authorize page and its 302 back:
/// returns the callback URL the provider sent the browser to.
async fn through_provider(browser: &mut WebClient<'_>, to_provider: &Response) -> Url {
    assert_eq!(to_provider.status(), StatusCode::FOUND);
    let authorize = redirect_url(to_provider);
    assert!(
        !authorize.as_str().starts_with(&browser.app.address),
        "{authorize}"
    );
    let back = browser.get(authorize.as_str()).await;
    assert_eq!(
        back.status(),
        StatusCode::FOUND,
        "the provider redirects back"
    );
    redirect_url(&back)
}

/// `/auth/{provider}/start`, the provider, and the callback's response.
async fn sign_in_with(browser: &mut WebClient<'_>, provider: &str) -> Response {
    let start = browser.get(&format!("/auth/{provider}/start")).await;
    let callback = through_provider(browser, &start).await;
    browser.get(callback.as_str()).await
}

/// Posts a settings form with nothing but the session's CSRF token.
async fn post_with_csrf(browser: &mut WebClient<'_>, path: &str) -> Response {
    browser.load_csrf_token().await;
    browser.post_form(path, &[]).await
}

/// The signed-in account, through the session cookie.
async fn account(browser: &WebClient<'_>) -> Value {
    browser.api_json("/api/me").await["user"].clone()
}

async fn methods(app: &TestApp, user_id: &str) -> SignInMethods {
    app.actors
        .catalog
        .send(ListOAuthAccounts {
            request_id: RequestId::generate(),
            user_id: Uuid::parse_str(user_id).unwrap(),
        })
        .await
        .unwrap()
        .unwrap()
}

fn linked(methods: &SignInMethods) -> Vec<Provider> {
    methods.linked.iter().map(|l| l.provider).collect()
}

/// A signed-in callback: 303 to /files, a session, the flow cookie gone.
fn assert_signed_in(browser: &WebClient<'_>, response: &Response) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect_url(response).path(), "/files");
    assert!(
        browser.cookies.contains_key(SESSION),
        "a session was opened"
    );
    assert!(
        !browser.cookies.contains_key(FLOW),
        "the flow cookie is cleared"
    );
}

/// A refusal shown on an HTML page (never a 500, never JSON), with no session.
async fn refused_page(browser: &WebClient<'_>, response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(!browser.cookies.contains_key(SESSION), "no session");
    assert!(
        !browser.cookies.contains_key(FLOW),
        "the flow cookie is cleared"
    );
    response.text().await.unwrap()
}

#[actix_rt::test]
async fn signing_in_with_google_runs_the_whole_exchange_and_opens_a_session() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    provider.sign_in_as(ProviderUser::new("g-1001", "Ada@Example.com", true));
    let mut browser = WebClient::new(&app);

    let start = browser.get(&app.url("/auth/google/start")).await;
    assert_eq!(start.status(), StatusCode::FOUND);
    let attributes = set_cookies(&start)
        .into_iter()
        .find(|cookie| cookie.name == FLOW)
        .expect("the start sets the flow cookie")
        .attributes;
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=600"] {
        assert!(
            attributes.contains(attribute),
            "{attribute} in {attributes}"
        );
    }
    let callback = through_provider(&mut browser, &start).await;
    assert_eq!(callback.path(), "/auth/google/callback");
    let response = browser.get(callback.as_str()).await;
    assert_signed_in(&browser, &response);

    let files = browser.get(&app.url("/files")).await;
    assert_eq!(files.status(), StatusCode::OK);
    let me = account(&browser).await;
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["name"], "Person g-1001");

    // What the provider received: state and an S256 challenge at /authorize,
    // the matching verifier and the client's secret at /token.
    let authorize = provider.authorize_requests().pop().unwrap().query;
    let redirect_uri = app.url("/auth/google/callback");
    assert_eq!(authorize["client_id"], CLIENT_ID);
    assert_eq!(authorize["redirect_uri"], redirect_uri);
    assert_eq!(authorize["code_challenge_method"], "S256");
    assert!(authorize["scope"].split(' ').any(|s| s == "email"));
    assert_eq!(
        Some(&authorize["state"]),
        query(&callback, "state").as_ref()
    );
    let token = provider.token_requests().pop().unwrap();
    assert!(token.granted, "{:?}", token.refusal);
    assert_eq!(token.form["redirect_uri"], redirect_uri);
    assert_eq!(token.form["client_secret"], CLIENT_SECRET);
    let verifier = &token.form["code_verifier"];
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        authorize["code_challenge"]
    );

    // The same person again: the same account, through its link.
    let mut again = WebClient::new(&app);
    let response = sign_in_with(&mut again, "google").await;
    assert_signed_in(&again, &response);
    assert_eq!(account(&again).await["id"], me["id"]);
    assert_ne!(again.cookies[SESSION], browser.cookies[SESSION]);
}

#[actix_rt::test]
async fn a_code_redeemed_without_its_flows_verifier_is_refused_by_the_provider() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    provider.sign_in_as(ProviderUser::new("g-2002", "mallory@example.com", true));
    let mut browser = WebClient::new(&app);

    // A code issued for one flow...
    let first = browser.get(&app.url("/auth/google/start")).await;
    let stolen = through_provider(&mut browser, &first).await;
    // ...brought to the callback of another flow, whose state it carries.
    let second = browser.get(&app.url("/auth/google/start")).await;
    let second_state = query(&redirect_url(&second), "state").unwrap();
    let mut callback = stolen.clone();
    callback
        .query_pairs_mut()
        .clear()
        .append_pair("code", &query(&stolen, "code").unwrap())
        .append_pair("state", &second_state);
    let response = browser.get(callback.as_str()).await;

    let page = refused_page(&browser, response, StatusCode::BAD_GATEWAY).await;
    assert!(page.contains("did not confirm the sign-in"), "{page}");
    let token = provider.token_requests().pop().unwrap();
    assert!(!token.granted);
    assert_eq!(token.refusal.as_deref(), Some("invalid_grant"));
}

#[actix_rt::test]
async fn a_callback_whose_state_is_not_its_flows_is_refused_before_any_exchange() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    provider.sign_in_as(ProviderUser::new("g-3003", "eve@example.com", true));
    let mut browser = WebClient::new(&app);

    let start = browser.get(&app.url("/auth/google/start")).await;
    let mut callback = through_provider(&mut browser, &start).await;
    let code = query(&callback, "code").unwrap();
    callback
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", "someone-elses-state");
    let response = browser.get(callback.as_str()).await;

    let page = refused_page(&browser, response, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("could not be verified"), "{page}");
    assert!(
        provider.token_requests().is_empty(),
        "no code was exchanged"
    );
}

#[actix_rt::test]
async fn a_tampered_or_missing_flow_cookie_is_refused() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    provider.sign_in_as(ProviderUser::new("g-4004", "trudy@example.com", true));
    let mut browser = WebClient::new(&app);

    let start = browser.get(&app.url("/auth/google/start")).await;
    let callback = through_provider(&mut browser, &start).await;
    // Change one character of the signed payload (what the flow is for, say).
    let sealed = browser.cookies[FLOW].clone();
    let mut chars: Vec<char> = sealed.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    browser
        .cookies
        .insert(FLOW.into(), chars.into_iter().collect());
    let response = browser.get(callback.as_str()).await;
    let page = refused_page(&browser, response, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("could not be verified"), "{page}");

    // The flow cookie was cleared: the same callback again (a reload) is
    // refused too, and still nothing was exchanged.
    let response = browser.get(callback.as_str()).await;
    let page = refused_page(&browser, response, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("start again"), "{page}");
    assert!(provider.token_requests().is_empty());
}

#[actix_rt::test]
async fn a_provider_verified_address_links_to_the_existing_password_account() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    let user_id = app
        .user_id(&app.verified_user("grace@example.com").await)
        .await;

    provider.sign_in_as(ProviderUser::new("g-5005", "grace@example.com", true));
    let mut browser = WebClient::new(&app);
    let response = sign_in_with(&mut browser, "google").await;
    assert_signed_in(&browser, &response);
    assert_eq!(account(&browser).await["id"], user_id.as_str());

    let methods = methods(&app, &user_id).await;
    assert_eq!(linked(&methods), [Provider::Google]);
    assert!(methods.has_password);
    // The account proved its address itself, so its password stays.
    assert_eq!(
        app.login("grace@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[actix_rt::test]
async fn linking_by_address_ends_a_password_that_never_proved_the_address() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    // Someone registered the address first, without access to its mailbox.
    let squatter_token = app.signed_in_user("owner@example.com").await;

    provider.sign_in_as(ProviderUser::new("g-6006", "owner@example.com", true));
    let mut browser = WebClient::new(&app);
    let response = sign_in_with(&mut browser, "google").await;
    assert_signed_in(&browser, &response);
    let me = account(&browser).await;
    assert_eq!(me["email_verified"], true);

    let methods = methods(&app, me["id"].as_str().unwrap()).await;
    assert_eq!(linked(&methods), [Provider::Google]);
    assert!(!methods.has_password);
    assert_eq!(
        app.me_status(&squatter_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("owner@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_rt::test]
async fn an_address_the_provider_does_not_verify_never_opens_an_existing_account() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    let (_, user_id) = app.user_with_id("hopper@example.com").await;

    provider.sign_in_as(ProviderUser::new("g-7007", "hopper@example.com", false));
    let mut browser = WebClient::new(&app);
    let response = sign_in_with(&mut browser, "google").await;

    let page = refused_page(&browser, response, StatusCode::CONFLICT).await;
    assert!(page.contains("Sign in with your password"), "{page}");
    let methods = methods(&app, &user_id).await;
    assert!(methods.linked.is_empty());
    assert!(methods.has_password);
}

#[actix_rt::test]
async fn an_address_the_provider_does_not_vouch_for_is_verified_by_mail() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    let mut inbox = app.inbox();
    provider.sign_in_as(ProviderUser::new("g-1111", "unvouched@example.com", false));
    let mut browser = WebClient::new(&app);
    let response = sign_in_with(&mut browser, "google").await;
    assert_signed_in(&browser, &response);
    let me = account(&browser).await;
    assert_eq!(me["email_verified"], false);

    let mail = inbox.next_to("unvouched@example.com").await;
    let verified = app.verify_email(&mail.token("verify-email")).await;
    assert_eq!(verified.status(), StatusCode::NO_CONTENT);
    assert_eq!(account(&browser).await["email_verified"], true);
}

#[actix_rt::test]
async fn github_sign_in_takes_the_primary_address_from_user_emails() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GITHUB"]).await;
    provider.sign_in_as(ProviderUser {
        subject: "4242".into(),
        email: Some("Octo@Example.com".into()),
        email_verified: true,
        name: None,
        login: "octocat".into(),
    });
    let mut browser = WebClient::new(&app);
    let response = sign_in_with(&mut browser, "github").await;
    assert_signed_in(&browser, &response);

    let me = account(&browser).await;
    assert_eq!(me["email"], "octo@example.com");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["name"], "octocat");
    // /user for the id and name, /user/emails for the address.
    assert_eq!(provider.userinfo_calls(), 2);
    let scope = &provider.authorize_requests()[0].query["scope"];
    assert!(scope.split(' ').any(|s| s == "user:email"), "{scope}");

    // A GitHub account with no address at all cannot make a Kiln account.
    provider.sign_in_as(ProviderUser {
        subject: "4343".into(),
        email: None,
        email_verified: false,
        name: Some("No Mail".into()),
        login: "nomail".into(),
    });
    let mut other = WebClient::new(&app);
    let response = sign_in_with(&mut other, "github").await;
    let page = refused_page(&other, response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(page.contains("did not share an e-mail address"), "{page}");
}

#[actix_rt::test]
async fn provider_errors_are_shown_on_the_sign_in_page_not_as_server_errors() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    provider.sign_in_as(ProviderUser::new("g-8008", "cancel@example.com", true));

    provider.deny_next();
    let mut browser = WebClient::new(&app);
    let response = sign_in_with(&mut browser, "google").await;
    let page = refused_page(&browser, response, StatusCode::BAD_REQUEST).await;
    assert!(
        page.contains("Signing in with Google was cancelled"),
        "{page}"
    );
    assert!(
        page.contains(r#"action="/login""#),
        "the sign-in form is there"
    );

    provider.fail_next_token();
    let response = sign_in_with(&mut browser, "google").await;
    let page = refused_page(&browser, response, StatusCode::BAD_GATEWAY).await;
    assert!(
        page.contains("Google did not confirm the sign-in"),
        "{page}"
    );
}

#[actix_rt::test]
async fn only_configured_providers_are_offered_and_started() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GITHUB"]).await;
    let mut browser = WebClient::new(&app);

    let login = browser.get(&app.url("/login")).await.text().await.unwrap();
    assert!(login.contains(r#"href="/auth/github/start""#), "{login}");
    assert!(!login.contains("/auth/google/"), "{login}");
    for path in ["/auth/google/start", "/auth/gitlab/start"] {
        let response = browser.get(&app.url(path)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }

    let plain = spawn_app().await;
    let login = WebClient::new(&plain)
        .get(&plain.url("/login"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!login.contains("/auth/"), "{login}");
}

#[actix_rt::test]
async fn providers_are_linked_and_unlinked_in_settings_but_never_the_last_way_in() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE", "GITHUB"]).await;
    provider.sign_in_as(ProviderUser::new("g-9009", "linker@example.com", true));
    let mut browser = WebClient::new(&app);
    let response = sign_in_with(&mut browser, "google").await;
    assert_signed_in(&browser, &response);
    let user_id = account(&browser).await["id"].as_str().unwrap().to_string();

    // Google is the only way in: it stays.
    let response = post_with_csrf(&mut browser, "/settings/oauth/google/unlink").await;
    assert_page_says(response, StatusCode::CONFLICT, "only way to sign in").await;
    assert_eq!(linked(&methods(&app, &user_id).await), [Provider::Google]);

    // Without the session's CSRF token nothing happens.
    let origin = app.address.clone();
    let response = browser
        .post_raw(
            "/settings/oauth/github/link",
            &[("csrf_token", "forged")],
            Some(&origin),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Link GitHub: the form starts a flow for this account.
    provider.sign_in_as(ProviderUser::new("77", "linker@example.com", true));
    let to_provider = post_with_csrf(&mut browser, "/settings/oauth/github/link").await;
    let callback = through_provider(&mut browser, &to_provider).await;
    assert_eq!(callback.path(), "/auth/github/callback");
    let response = browser.get(callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect_url(&response).path(), "/settings");
    assert!(!browser.cookies.contains_key(FLOW));
    let now = methods(&app, &user_id).await;
    assert_eq!(linked(&now), [Provider::Google, Provider::GitHub]);
    assert_eq!(now.linked[1].email.as_deref(), Some("linker@example.com"));

    // Now Google can go, and GitHub becomes the last way in.
    let response = post_with_csrf(&mut browser, "/settings/oauth/google/unlink").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(linked(&methods(&app, &user_id).await), [Provider::GitHub]);
    let response = post_with_csrf(&mut browser, "/settings/oauth/github/unlink").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(linked(&methods(&app, &user_id).await), [Provider::GitHub]);

    // The GitHub identity signs in to this account now.
    let mut again = WebClient::new(&app);
    let response = sign_in_with(&mut again, "github").await;
    assert_signed_in(&again, &response);
    assert_eq!(account(&again).await["id"], user_id.as_str());
}

#[actix_rt::test]
async fn a_password_account_links_a_provider_and_can_unlink_it_again() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    // An identity that already signs in to another account.
    provider.sign_in_as(ProviderUser::new("g-taken", "first@example.com", true));
    let mut first = WebClient::new(&app);
    let response = sign_in_with(&mut first, "google").await;
    assert_signed_in(&first, &response);

    let (_, user_id) = app.user_with_id("second@example.com").await;
    let mut browser = WebClient::sign_in(&app, "second@example.com", PASSWORD).await;

    let to_provider = post_with_csrf(&mut browser, "/settings/oauth/google/link").await;
    let callback = through_provider(&mut browser, &to_provider).await;
    let response = browser.get(callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert!(page.contains("signs in to another Kiln account"), "{page}");
    assert!(methods(&app, &user_id).await.linked.is_empty());

    // An identity of its own links, and unlinks (the password remains).
    provider.sign_in_as(ProviderUser::new("g-own", "second@example.com", false));
    let to_provider = post_with_csrf(&mut browser, "/settings/oauth/google/link").await;
    let callback = through_provider(&mut browser, &to_provider).await;
    let response = browser.get(callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(linked(&methods(&app, &user_id).await), [Provider::Google]);
    let response = post_with_csrf(&mut browser, "/settings/oauth/google/unlink").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(methods(&app, &user_id).await.linked.is_empty());
}

/// Sends `OAuthSignIn` for `identity` from several callbacks at once; returns
/// how many created or linked an account, and the accounts they opened.
async fn racing_sign_ins(app: &TestApp, identity: &Identity) -> (usize, Vec<Uuid>) {
    let attempts = (0..4).map(|_| {
        app.actors.catalog.send(OAuthSignIn {
            request_id: RequestId::generate(),
            identity: identity.clone(),
        })
    });
    let mut first = 0;
    let mut ids = Vec::new();
    for outcome in futures::future::join_all(attempts).await {
        match outcome.unwrap().unwrap() {
            OAuthSignInOutcome::Created(user) | OAuthSignInOutcome::Linked(user) => {
                first += 1;
                ids.push(user.id);
            }
            OAuthSignInOutcome::SignedIn(user) => ids.push(user.id),
            other => panic!("unexpected {other:?}"),
        }
    }
    ids.dedup();
    (first, ids)
}

#[actix_rt::test]
async fn callbacks_racing_for_one_identity_make_or_link_one_account() {
    let provider = OAuthProvider::start();
    let app = app_with(&provider, &["GOOGLE"]).await;
    let identity = |subject: &str, email: &str| Identity {
        provider: Provider::Google,
        provider_user_id: subject.into(),
        email: Some(email.into()),
        email_verified: true,
        name: None,
    };

    let (created, ids) = racing_sign_ins(&app, &identity("g-race", "race@example.com")).await;
    assert_eq!((created, ids.len()), (1, 1), "{ids:?}");
    let user = app
        .actors
        .catalog
        .send(kiln::actors::catalog::accounts::FindUser {
            request_id: RequestId::generate(),
            user_id: ids[0],
        });
    let user = user.await.unwrap().unwrap().unwrap();
    assert_eq!(user.name, "race", "named after the address's local part");
    assert!(user.email_verified);

    let existing = app
        .user_id(&app.verified_user("known@example.com").await)
        .await;
    let (linked_now, ids) = racing_sign_ins(&app, &identity("g-known", "known@example.com")).await;
    assert_eq!((linked_now, ids.len()), (1, 1), "{ids:?}");
    assert_eq!(ids[0].to_string(), existing);
    assert_eq!(linked(&methods(&app, &existing).await), [Provider::Google]);
}
