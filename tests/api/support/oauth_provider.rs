//! A real OAuth 2 provider on loopback, for tests that sign in with Google or
//! GitHub without the internet: an actix-web server on 127.0.0.1:0, on a thread
//! and actix System of its own, with Google-like and GitHub-like endpoints.
//!
//!   GET  /authorize    checks the client, redirect URI, `response_type=code`,
//!                      `state` and an S256 `code_challenge`; signs in the user
//!                      the test chose (or answers `error=access_denied`) and
//!                      302s back to the redirect URI with `code` and `state`
//!   POST /token        checks the client secret, the code (single use, same
//!                      redirect URI) and that SHA-256(code_verifier) is the
//!                      challenge; returns a bearer access token
//!   GET  /userinfo     Google's OpenID userinfo (`sub`, `email`,
//!                      `email_verified`, `name`)
//!   GET  /user         GitHub's user (`id`, `login`, `name`)
//!   GET  /user/emails  GitHub's addresses; the chosen one is `primary`
//!
//! Everything it receives is recorded, so a test can check that Kiln sent
//! `state` and PKCE. [`OAuthProvider::env`] gives the app variables that point a
//! provider at this server.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const CLIENT_ID: &str = "kiln-test-client";
pub const CLIENT_SECRET: &str = "kiln-test-client-secret";

/// The person who signs in at the provider next.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    /// Google's `sub`; GitHub's numeric `id` (so digits only for GitHub).
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// GitHub's login, its name when `name` is unset.
    pub login: String,
}

impl ProviderUser {
    pub fn new(subject: &str, email: &str, email_verified: bool) -> Self {
        Self {
            subject: subject.to_string(),
            email: Some(email.to_string()),
            email_verified,
            name: Some(format!("Person {subject}")),
            login: format!("person{subject}"),
        }
    }
}

/// One request to `/authorize`, as received.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub query: HashMap<String, String>,
}

/// One request to `/token`, as received, and whether it was granted.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub form: HashMap<String, String>,
    pub granted: bool,
    /// Why it was refused (`invalid_client`, `invalid_grant` ...).
    pub refusal: Option<String>,
}

struct Grant {
    user: ProviderUser,
    redirect_uri: String,
    code_challenge: String,
}

#[derive(Default)]
struct State {
    next_user: Option<ProviderUser>,
    deny: bool,
    /// The next token request fails with a 500 (a provider outage).
    fail_token: bool,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, ProviderUser>,
    authorize: Vec<AuthorizeRequest>,
    token: Vec<TokenRequest>,
    userinfo_calls: usize,
}

type Shared = Arc<Mutex<State>>;

pub struct OAuthProvider {
    pub port: u16,
    state: Shared,
    handle: ServerHandle,
}

impl OAuthProvider {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state: Shared = Arc::default();
        let shared = state.clone();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        // A System of its own: the provider keeps answering while the test's
        // runtime is busy awaiting Kiln, as a remote provider would.
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(shared.clone()))
                        .route("/authorize", web::get().to(authorize))
                        .route("/token", web::post().to(token))
                        .route("/userinfo", web::get().to(google_userinfo))
                        .route("/user", web::get().to(github_user))
                        .route("/user/emails", web::get().to(github_emails))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                handle_tx.send(server.handle()).unwrap();
                let _ = server.await;
            });
        });
        let handle = handle_rx.recv().unwrap();
        Self {
            port,
            state,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// App variables for `provider` ("GOOGLE" or "GITHUB") pointing at this server.
    pub fn env(&self, provider: &str) -> Vec<(String, String)> {
        let mut vars = vec![
            (format!("{provider}_CLIENT_ID"), CLIENT_ID.to_string()),
            (
                format!("{provider}_CLIENT_SECRET"),
                CLIENT_SECRET.to_string(),
            ),
            (format!("{provider}_AUTH_URL"), self.url("/authorize")),
            (format!("{provider}_TOKEN_URL"), self.url("/token")),
        ];
        match provider {
            "GOOGLE" => vars.push(("GOOGLE_USERINFO_URL".into(), self.url("/userinfo"))),
            "GITHUB" => vars.extend([
                ("GITHUB_USERINFO_URL".into(), self.url("/user")),
                ("GITHUB_EMAILS_URL".into(), self.url("/user/emails")),
            ]),
            other => panic!("unknown provider {other}"),
        }
        vars
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Who signs in at the next `/authorize`.
    pub fn sign_in_as(&self, user: ProviderUser) {
        let mut state = self.state();
        state.next_user = Some(user);
        state.deny = false;
    }

    /// The next `/authorize` answers `error=access_denied` (the person said no).
    pub fn deny_next(&self) {
        self.state().deny = true;
    }

    /// The next `/token` request fails with a 500.
    pub fn fail_next_token(&self) {
        self.state().fail_token = true;
    }

    pub fn authorize_requests(&self) -> Vec<AuthorizeRequest> {
        self.state().authorize.clone()
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state().token.clone()
    }

    pub fn userinfo_calls(&self) -> usize {
        self.state().userinfo_calls
    }
}

impl Drop for OAuthProvider {
    fn drop(&mut self) {
        // Sends the stop command at once; the server's thread then ends.
        drop(self.handle.stop(false));
    }
}

fn random() -> String {
    Uuid::new_v4().simple().to_string()
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().body(message.to_string())
}

async fn authorize(
    state: web::Data<Shared>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let query = query.into_inner();
    let mut state = state.lock().unwrap();
    state.authorize.push(AuthorizeRequest {
        query: query.clone(),
    });
    let param = |name: &str| query.get(name).filter(|v| !v.is_empty()).cloned();
    if param("client_id").as_deref() != Some(CLIENT_ID) {
        return bad_request("unknown client_id");
    }
    let Some(redirect_uri) = param("redirect_uri") else {
        return bad_request("redirect_uri is required");
    };
    if !redirect_uri.starts_with("http://127.0.0.1:") || !redirect_uri.ends_with("/callback") {
        return bad_request("redirect_uri is not registered for this client");
    }
    if param("response_type").as_deref() != Some("code") {
        return bad_request("response_type must be code");
    }
    let Some(state_param) = param("state") else {
        return bad_request("state is required");
    };
    if param("code_challenge_method").as_deref() != Some("S256") {
        return bad_request("code_challenge_method must be S256");
    }
    let Some(code_challenge) = param("code_challenge") else {
        return bad_request("code_challenge is required");
    };
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    if std::mem::take(&mut state.deny) {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &state_param);
    } else {
        let Some(user) = state.next_user.clone() else {
            return bad_request("the test chose nobody to sign in");
        };
        let code = random();
        state.codes.insert(
            code.clone(),
            Grant {
                user,
                redirect_uri,
                code_challenge,
            },
        );
        back.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &state_param);
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, back.to_string()))
        .finish()
}

fn token_error(status: u16, error: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({ "error": error }))
}

/// Client credentials from the form, or from HTTP Basic (RFC 6749 allows both).
fn client_credentials(
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    if let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) {
        return Some((id.clone(), secret.clone()));
    }
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

async fn token(
    state: web::Data<Shared>,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let form = form.into_inner();
    let mut state = state.lock().unwrap();
    let outcome = grant_token(&mut state, &req, &form);
    let (granted, refusal) = match &outcome {
        Ok(_) => (true, None),
        Err((_, refusal)) => (false, Some(refusal.to_string())),
    };
    state.token.push(TokenRequest {
        form,
        granted,
        refusal,
    });
    match outcome {
        Ok(access_token) => HttpResponse::Ok().json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
        })),
        Err((status, error)) => token_error(status, error),
    }
}

fn grant_token(
    state: &mut State,
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<String, (u16, &'static str)> {
    if std::mem::take(&mut state.fail_token) {
        return Err((500, "server_error"));
    }
    if client_credentials(req, form) != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
        return Err((401, "invalid_client"));
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Err((400, "unsupported_grant_type"));
    }
    // A code is spent by its first use, right or wrong.
    let grant = form
        .get("code")
        .and_then(|code| state.codes.remove(code))
        .ok_or((400, "invalid_grant"))?;
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err((400, "invalid_grant"));
    }
    let verifier = form.get("code_verifier").ok_or((400, "invalid_request"))?;
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.code_challenge {
        return Err((400, "invalid_grant"));
    }
    let access_token = random();
    state.tokens.insert(access_token.clone(), grant.user);
    Ok(access_token)
}

/// The user a request's bearer token was issued for.
fn bearer_user(state: &web::Data<Shared>, req: &HttpRequest) -> Option<ProviderUser> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?;
    let mut state = state.lock().unwrap();
    state.userinfo_calls += 1;
    state.tokens.get(token).cloned()
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({ "error": "invalid_token" }))
}

async fn google_userinfo(state: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let Some(user) = bearer_user(&state, &req) else {
        return unauthorized();
    };
    let mut body = json!({ "sub": user.subject, "email_verified": user.email_verified });
    if let Some(email) = user.email {
        body["email"] = json!(email);
    }
    if let Some(name) = user.name {
        body["name"] = json!(name);
    }
    HttpResponse::Ok().json(body)
}

async fn github_user(state: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let Some(user) = bearer_user(&state, &req) else {
        return unauthorized();
    };
    if req.headers().get(header::USER_AGENT).is_none() {
        // As GitHub's API does.
        return HttpResponse::Forbidden().body("a User-Agent is required");
    }
    let id: u64 = user.subject.parse().expect("GitHub ids are numbers");
    HttpResponse::Ok().json(json!({
        "id": id,
        "login": user.login,
        "name": user.name,
        // GitHub shows only a public address here, if any: Kiln must ask /user/emails.
        "email": null,
    }))
}

async fn github_emails(state: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let Some(user) = bearer_user(&state, &req) else {
        return unauthorized();
    };
    // A verified secondary address first, so only `primary` picks the right one.
    let mut emails = vec![json!({
        "email": format!("secondary-{}@example.net", user.subject),
        "primary": false,
        "verified": true,
        "visibility": null,
    })];
    if let Some(email) = user.email {
        emails.push(json!({
            "email": email,
            "primary": true,
            "verified": user.email_verified,
            "visibility": "private",
        }));
    }
    HttpResponse::Ok().json(emails)
}
